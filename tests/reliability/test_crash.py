"""kill -9 in the middle of a bulk import: after a restart nothing committed is lost, batches
landed whole or not at all, and replaying the stream with the same request ids completes the
import exactly once."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from netnet.common.v1 import common_pb2
from tests.reliability.support import Model, Plan, ServiceProcess, assert_stats_match
from tests.support.servers import bearer

pytestmark = pytest.mark.slow

BATCHES, BATCH = 200, 500
KILL_AT = 30  # batches the change feed has reported committed when the kill comes
HOLD_AT = 120  # the stream never gets past this batch before the kill


async def test_kill_9_mid_import_loses_and_doubles_nothing(
    accounts_process: Callable[..., ServiceProcess],
) -> None:
    service = accounts_process()
    plan = Plan("crash", "cac", BATCHES * BATCH, BATCH, 40_000, time.time_ns() // 1000)
    md, auditor = bearer(service.key, "cac"), bearer(service.key, "cac", "auditor")
    valid_per_batch = [
        sum(1 for i in range(b * BATCH, (b + 1) * BATCH) if plan.is_valid(i))
        for b in range(BATCHES)
    ]
    prefix_sums = [0, *itertools.accumulate(valid_per_batch)]

    service.start()
    channel = grpc.aio.insecure_channel(service.target)
    await service.wait_serving(channel)
    client = AccountsClient(channel=channel, token="")

    killed, committed_enough = asyncio.Event(), asyncio.Event()
    seen_committed: list[int] = []  # running totals reported by the change feed

    async def follow_feed() -> None:
        total = 0
        try:
            async for resp in client.watch_changes(metadata=md):
                if resp.event.kind == common_pb2.CHANGE_KIND_BULK_IMPORTED:
                    total += resp.event.count
                    seen_committed.append(total)
                    if len(seen_committed) == KILL_AT:
                        committed_enough.set()
        except NetNetError:
            pass  # the server died

    async def stream() -> AsyncIterator[pb.ImportActionsRequest]:
        for n, batch in enumerate(plan.batches(), start=1):
            yield batch
            if n == HOLD_AT:
                await asyncio.wait_for(killed.wait(), 60)

    async def kill_mid_stream() -> int:
        await asyncio.wait_for(committed_enough.wait(), 60)
        acknowledged = seen_committed[-1]
        assert service.proc is not None
        service.proc.send_signal(signal.SIGKILL)
        killed.set()
        return acknowledged

    feed = asyncio.create_task(follow_feed())
    killer = asyncio.create_task(kill_mid_stream())
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        # The generated stub: only the raw error's debug string names the dead socket.
        await client.stub.ImportActions(stream(), metadata=md, timeout=120)
    # UNAVAILABLE, or the client library's own INTERNAL when its next send hits the dead socket.
    error = failed.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE or (
        error.code() == grpc.StatusCode.INTERNAL and "execute_batch" in error.debug_error_string()
    ), error
    acknowledged = await killer
    assert await service.wait(10) == -signal.SIGKILL
    await asyncio.wait_for(feed, 10)
    await channel.close()

    # Restart on the same data directory.
    service.start()
    channel = grpc.aio.insecure_channel(service.target)
    await service.wait_serving(channel)
    client = AccountsClient(channel=channel, token="")

    survived = (await client.get_stats(metadata=md)).total.count
    # Nothing the feed reported committed is lost; the kill really was mid-stream.
    assert (
        prefix_sums[KILL_AT] <= acknowledged <= survived <= prefix_sums[HOLD_AT] < plan.valid_total
    )
    # Batches commit whole and in order: what survived is exactly the first k batches.
    assert survived in prefix_sums, f"{survived} records is not a whole number of batches"
    k = prefix_sums.index(survived)

    # Replay the whole stream with the same request ids.
    resp = await client.import_actions(plan.stream(), metadata=md, timeout=120)
    s = resp.summary
    assert (s.accepted, s.duplicates, s.rejected, s.batches) == (
        plan.valid_total - survived,
        survived,
        plan.invalid_total,
        BATCHES,
    )
    assert s.accepted + s.duplicates == plan.valid_total
    model = Model()
    model.add(plan)
    await assert_stats_match(client, md, model)

    verification = (await client.verify_audit_chain(metadata=auditor)).verification
    assert verification.ok, verification
    assert verification.entries_checked == k + BATCHES  # one entry per committed batch
    await channel.close()

    service.signal(signal.SIGTERM)
    assert await service.wait(15) == 0, service.stderr()
