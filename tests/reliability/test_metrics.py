"""The Prometheus endpoint of a real accounts process: what it counts after a few calls."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from services.common.importer import MAX_BATCH
from tests.reliability.support import Plan, ServiceProcess
from tests.support.servers import bearer, free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def rpcs(samples: Samples, method: str, code: str) -> float:
    labels = (("code", code), ("method", method), ("service", "accounts"))
    return samples.get(("netnet_rpc_total", labels), 0.0)


async def test_metrics_count_calls_imports_and_group_commits(
    accounts_process: Callable[..., ServiceProcess],
) -> None:
    metrics_port = free_port()
    process = accounts_process(NETNET_ACCOUNTS_METRICS_PORT=str(metrics_port))
    process.start()
    plan = Plan("m", "cac", total=300, batch=100, accounts=50, now_us=time.time_ns() // 1000)
    async with grpc.aio.insecure_channel(process.target) as channel:
        await process.wait_serving(channel)
        client = AccountsClient(channel=channel, token="")
        md = bearer(process.key)
        await client.record_action(pb.RecordActionRequest(action=plan.record(0)), metadata=md)
        bad = pb.RecordActionRequest(action=pb.ActionInput(request_id="x"))
        with pytest.raises(NetNetError):
            await client.record_action(bad, metadata=md)
        imported = await client.import_actions(plan.stream(), metadata=md)
    samples = await asyncio.to_thread(scrape, metrics_port)

    assert rpcs(samples, "RecordAction", "OK") == 1
    assert rpcs(samples, "RecordAction", "INVALID_ARGUMENT") == 1
    assert rpcs(samples, "ImportActions", "OK") == 1
    timed = (("method", "RecordAction"), ("service", "accounts"))
    assert samples[("netnet_rpc_seconds_count", timed)] == 2
    for outcome, n in (
        ("accepted", imported.summary.accepted),
        ("duplicates", imported.summary.duplicates),
        ("rejected", imported.summary.rejected),
    ):
        key = ("netnet_import_records_total", (("outcome", outcome), ("service", "accounts")))
        assert samples.get(key, 0.0) == n, outcome
    assert imported.summary.accepted > 0 and imported.summary.duplicates == 1
    # Every write went through a group commit: the record call and the import's batches.
    groups = samples[("netnet_write_group_size_count", ())]
    assert groups >= 1 + imported.summary.batches
    assert samples[("netnet_write_group_size_sum", ())] >= groups
    assert samples[("netnet_write_group_seconds_count", ())] == groups


async def test_an_import_counts_each_batch_as_it_lands(
    accounts_process: Callable[..., ServiceProcess],
) -> None:
    """Two batches, then one too large to take: the first is counted while the stream is
    still open, and the second, written when the stream failed, is counted too."""
    metrics_port = free_port()
    process = accounts_process(NETNET_ACCOUNTS_METRICS_PORT=str(metrics_port))
    process.start()
    plan = Plan("b", "cac", total=200, batch=100, accounts=40, now_us=time.time_ns() // 1000)
    counted = asyncio.Event()

    async def two_batches_then_too_many() -> AsyncIterator[pb.ImportActionsRequest]:
        for batch in plan.batches():
            yield batch
        await counted.wait()
        yield pb.ImportActionsRequest(actions=[pb.ActionInput()] * (MAX_BATCH + 1))

    def imported(samples: Samples, outcome: str) -> float:
        labels = (("outcome", outcome), ("service", "accounts"))
        return samples.get(("netnet_import_records_total", labels), 0.0)

    deadline = time.monotonic() + 30  # a guard: the batches land in well under a second
    async with grpc.aio.insecure_channel(process.target) as channel:
        await process.wait_serving(channel)
        client = AccountsClient(channel=channel, token="")
        call = asyncio.ensure_future(  # under way while the metrics are read
            client.import_actions(two_batches_then_too_many(), metadata=bearer(process.key))
        )
        first = sum(1 for i in range(plan.batch) if plan.is_valid(i))
        while imported(await asyncio.to_thread(scrape, metrics_port), "accepted") < first:
            assert time.monotonic() < deadline, "the first batch was not counted"
            await asyncio.sleep(0.05)
        counted.set()
        with pytest.raises(NetNetError) as refused:
            await call
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    while imported(samples := await asyncio.to_thread(scrape, metrics_port), "accepted") < (
        plan.valid_total
    ):
        assert time.monotonic() < deadline, "the second batch was not counted"
        await asyncio.sleep(0.05)
    assert imported(samples, "accepted") == plan.valid_total
    assert imported(samples, "rejected") == plan.invalid_total
