"""Start and stop of the real process: health says SERVING only once the database is open;
SIGTERM drains the in-flight import, exits 0 within the drain time, and loses nothing."""

from __future__ import annotations

import asyncio
import itertools
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from netnet.common.v1 import common_pb2
from tests.reliability.support import SERVICE, Plan, ServiceProcess
from tests.support.servers import bearer, watch_health

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_serving_only_once_the_database_is_open(
    accounts_process: Callable[..., ServiceProcess], data_dir: Path
) -> None:
    service = accounts_process()
    md = bearer(service.key, "cac")
    # Another process holds the database's write lock, so the server cannot migrate it yet.
    locker = sqlite3.connect(data_dir / "accounts.db", isolation_level=None)
    locker.execute("PRAGMA journal_mode=WAL")
    locker.execute("BEGIN IMMEDIATE")
    locked = True
    try:
        service.start()
        channel = grpc.aio.insecure_channel(service.target)
        health = health_pb2_grpc.HealthStub(channel)  # the gRPC health service: not in the SDK
        # The port is open (the call connects) yet neither the server nor the service serve.
        overall = await health.Check(
            health_pb2.HealthCheckRequest(service=""), wait_for_ready=True, timeout=30
        )
        named = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
        assert (overall.status, named.status) == (NOT_SERVING, NOT_SERVING)
        # A call that comes anyway gets a clean, retryable refusal, not an internal error.
        with pytest.raises(NetNetError) as early:
            await client_of(channel).get_stats(pb.GetStatsRequest(), metadata=md, timeout=5)
        assert early.value.code == grpc.StatusCode.UNAVAILABLE, early.value
        watching = asyncio.create_task(watch_health(channel, SERVING, SERVICE))
        locker.execute("COMMIT")
        locked = False
        assert await watching == [NOT_SERVING, SERVING]
        # SERVING means ready: the first calls after it succeed.
        client = client_of(channel)
        recorded = await client.record_action(
            pb.RecordActionRequest(action=Plan("h", "cac", 1, 1, 1, 0).record(0)), metadata=md
        )
        assert not recorded.duplicate
        total = (await client.get_stats(pb.GetStatsRequest(), metadata=md)).total
        assert total.count == 1
        await channel.close()
    finally:
        if locked:
            locker.execute("ROLLBACK")
        locker.close()
    service.signal(signal.SIGTERM)
    assert await service.wait(15) == 0, service.stderr()


def client_of(channel: grpc.aio.Channel) -> AccountsClient:
    """The SDK client on this channel (no retries: the test sees each refusal)."""
    return AccountsClient(channel=channel, token="")


BATCHES, BATCH = 80, 500
TERM_AT = 10  # batches the change feed has reported committed when SIGTERM comes
HOLD_AT = 30  # the stream waits here until the server is seen draining
DRAIN = 20.0


async def _import_through_sigterm(
    service: ServiceProcess, plan: Plan, release_after_term: bool
) -> tuple[pb.ImportActionsResponse | NetNetError, list[int], float, list[int]]:
    """Import plan; SIGTERM once TERM_AT batches are committed, while the stream is in flight.

    release_after_term: the stream goes on once the server is seen draining (else it stalls
    until the server ends the call). Returns the import's result, the running totals the
    change feed reported, the seconds from SIGTERM to exit, and the health statuses seen."""
    md = bearer(service.key, "cac")
    service.start()
    channel = grpc.aio.insecure_channel(service.target)
    await service.wait_serving(channel)
    client = client_of(channel)
    enough, draining, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    committed: list[int] = []
    statuses: list[int] = []

    async def follow_feed() -> None:
        total = 0
        async for resp in client.watch_changes(metadata=md):
            if resp.event.kind == common_pb2.CHANGE_KIND_BULK_IMPORTED:
                total += resp.event.count
                committed.append(total)
                if len(committed) == TERM_AT:
                    enough.set()

    async def follow_health() -> None:
        # The gRPC health service: not in the SDK.
        call = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        async for resp in call:
            statuses.append(resp.status)
            if resp.status == NOT_SERVING:
                draining.set()
                call.cancel()  # a watcher that hangs on would hold the drain to its full length
                return

    async def stream() -> AsyncIterator[pb.ImportActionsRequest]:
        for n, batch in enumerate(plan.batches(), start=1):
            yield batch
            if n == HOLD_AT:
                await asyncio.wait_for(draining.wait(), 30)
                if not release_after_term:
                    await asyncio.wait_for(done.wait(), DRAIN + 30)

    feed = asyncio.create_task(follow_feed())
    watcher = asyncio.create_task(follow_health())

    async def run_import() -> pb.ImportActionsResponse:
        return await client.import_actions(stream(), metadata=md, timeout=120)

    importing = asyncio.create_task(run_import())
    await asyncio.wait_for(enough.wait(), 60)
    feed.cancel()  # likewise: stop following the feed before the server drains
    await asyncio.gather(feed, return_exceptions=True)
    assert not importing.done()
    termed = time.monotonic()
    service.signal(signal.SIGTERM)
    await asyncio.wait_for(watcher, 30)
    # Draining: new calls are refused (health may say NOT_SERVING a moment before the server
    # stops taking calls, so poll, boundedly).
    refused: grpc.StatusCode | None = None
    for _ in range(100):
        try:
            await client.get_stats(pb.GetStatsRequest(), metadata=md, timeout=5)
        except NetNetError as e:
            refused = e.code
            break
        await asyncio.sleep(0.05)  # poll interval
    assert refused == grpc.StatusCode.UNAVAILABLE, refused
    result: pb.ImportActionsResponse | NetNetError
    try:
        result = await importing
    except NetNetError as e:
        result = e
    finally:
        done.set()
    code = await service.wait(DRAIN + 10)
    elapsed = time.monotonic() - termed
    await channel.close()
    assert code == 0, service.stderr()
    assert "Traceback" not in service.stderr(), service.stderr()
    return result, committed, elapsed, statuses


async def _restart_totals(service: ServiceProcess) -> tuple[int, common_pb2.AuditVerification]:
    service.start()
    channel = grpc.aio.insecure_channel(service.target)
    await service.wait_serving(channel)
    client = client_of(channel)
    md, auditor = bearer(service.key, "cac"), bearer(service.key, "cac", "auditor")
    total = (await client.get_stats(pb.GetStatsRequest(), metadata=md)).total.count
    verification = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
    ).verification
    await channel.close()
    service.signal(signal.SIGTERM)
    assert await service.wait(15) == 0, service.stderr()
    return total, verification


async def test_sigterm_drains_the_in_flight_import(
    accounts_process: Callable[..., ServiceProcess],
) -> None:
    service = accounts_process(NETNET_DRAIN_SECONDS=str(DRAIN))
    plan = Plan("term", "cac", BATCHES * BATCH, BATCH, 30_000, time.time_ns() // 1000)
    result, _, elapsed, statuses = await _import_through_sigterm(service, plan, True)

    # The call in flight at SIGTERM finished normally, every batch of it.
    assert isinstance(result, pb.ImportActionsResponse), result
    s = result.summary
    assert (s.accepted, s.rejected, s.batches) == (plan.valid_total, plan.invalid_total, BATCHES)
    assert statuses == [SERVING, NOT_SERVING]
    assert elapsed < DRAIN, f"exit took {elapsed:.1f}s, the drain time is {DRAIN}s"
    assert "stopped" in service.stdout()

    total, verification = await _restart_totals(service)
    assert total == s.accepted  # everything acknowledged is stored
    assert verification.ok and verification.entries_checked == BATCHES


async def test_sigterm_ends_a_stalled_import_cleanly_after_the_drain_time(
    accounts_process: Callable[..., ServiceProcess],
) -> None:
    drain = 2.0
    service = accounts_process(NETNET_DRAIN_SECONDS=str(drain))
    plan = Plan("stall", "cac", BATCHES * BATCH, BATCH, 30_000, time.time_ns() // 1000)
    result, committed, elapsed, _ = await _import_through_sigterm(service, plan, False)

    # The client stalled past the drain time: it gets a clean status, not a hang or INTERNAL.
    assert isinstance(result, NetNetError), result
    assert result.code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE), result
    assert elapsed < drain + 5, f"exit took {elapsed:.1f}s, the drain time is {drain}s"

    valid_per_batch = [
        sum(1 for i in range(b * BATCH, (b + 1) * BATCH) if plan.is_valid(i))
        for b in range(BATCHES)
    ]
    prefix_sums = [0, *itertools.accumulate(valid_per_batch)]
    total, verification = await _restart_totals(service)
    # Everything the feed reported committed is stored; batches landed whole; nothing the
    # stalled stream had not sent was invented.
    assert committed[-1] <= total <= prefix_sums[HOLD_AT]
    assert total in prefix_sums
    assert verification.ok and verification.entries_checked == prefix_sums.index(total)
