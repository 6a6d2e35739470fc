"""Two replica processes of the accounts service on one PostgreSQL database behave as one:
calls alternated between them, a retry landing on the other replica, watchers on either, both
importing at once (the same file and different files), and one killed mid-import with its
stream sent again to the other. Every acknowledged record is there exactly once, the figures
equal a brute-force count, the audit chain is one chain and verifies."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import jwt
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from netnet.common.v1 import common_pb2
from netnet.common.v1 import revocation_pb2 as rpb
from netnet.common.v1 import revocation_pb2_grpc as rpb_grpc
from tests.reliability.support import Model, Plan, ServiceProcess, assert_stats_match, key_of
from tests.support.servers import CampaignOwner, bearer
from tests.support.stores import SessionDatabase

pytestmark = pytest.mark.slow

Md = list[tuple[str, str]]


class Replica:
    def __init__(self, process: ServiceProcess) -> None:
        self.process = process
        self.channel: grpc.aio.Channel | None = None
        self.client = AccountsClient(channel=grpc.aio.insecure_channel("unused"), token="")

    async def start(self) -> None:
        self.process.start()
        self.channel = grpc.aio.insecure_channel(self.process.target)
        await self.process.wait_serving(self.channel)
        self.client = AccountsClient(channel=self.channel, token="")

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()


@pytest.fixture
def replica_processes(
    postgresql_database: SessionDatabase, campaign_owner: CampaignOwner, tmp_path: Path
) -> Iterator[Callable[[str], ServiceProcess]]:
    """replica(name) -> an accounts process (not started) on the test's own schema, sharing
    with the others what a service keeps outside its database: the token key, the audit
    key and the checkpoint directory."""
    schema = f"replicas_{secrets.token_hex(4)}"
    shared = {
        "NETNET_DATABASE_URL": f"{postgresql_database.url}?schema={schema}",
        "NETNET_KEY_FILE": str(campaign_owner.key_file),
        "NETNET_CASES_ADDR": campaign_owner.addr,
        "NETNET_AUDIT_KEY_FILE": str(tmp_path / "accounts-audit.key"),
        "NETNET_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "NETNET_AUDIT_CHECKPOINT_SECONDS": "0.2",
    }
    made: list[ServiceProcess] = []

    def replica(name: str) -> ServiceProcess:
        process = ServiceProcess(tmp_path / name, shared)
        made.append(process)
        return process

    yield replica
    for process in made:
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(10)


@pytest.fixture
async def pair(
    replica_processes: Callable[[str], ServiceProcess],
) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two replicas, started at the same moment on an empty schema (they migrate it once)."""
    a, b = Replica(replica_processes("replica-a")), Replica(replica_processes("replica-b"))
    await asyncio.gather(a.start(), b.start())
    yield a, b
    for r in (a, b):
        await r.close()


async def _watch(client: AccountsClient, md: Md, after: int, until: int) -> list[int]:
    """The seqs a watcher sees after `after`, up to and including `until`."""
    seen: list[int] = []
    async for resp in client.watch_changes(pb.WatchChangesRequest(after_seq=after), metadata=md):
        seen.append(resp.event.seq)
        if resp.event.seq >= until:
            return seen
    raise AssertionError(f"the feed ended at {seen[-1:]} before {until}")


async def _verify(replica: Replica, md: Md) -> common_pb2.AuditVerification:
    return (await replica.client.verify_audit_chain(metadata=md)).verification


async def test_calls_alternated_and_retried_across_replicas_are_one_service(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    key = a.process.key
    md, auditor = bearer(key, "cac"), bearer(key, "cac", "auditor")
    plan = Plan("alt", "cac", 120, 1, 30, time.time_ns() // 1000)
    model = Model()
    answers: dict[str, pb.RecordActionResponse] = {}
    for i in range(plan.total):
        if not plan.is_valid(i):
            continue
        record = plan.record(i)
        replica = (a, b)[i % 2]
        answers[record.request_id] = await replica.client.record_action(
            pb.RecordActionRequest(action=record), metadata=md
        )
        model.live[record.request_id] = (record.account.platform_uid, key_of(record))
    # A retry lands on the other replica: the same record, not a second one.
    for i in range(0, plan.total, 10):
        record = plan.record(i)
        if not plan.is_valid(i):
            continue
        other = (b, a)[i % 2]
        again = await other.client.record_action(pb.RecordActionRequest(action=record), metadata=md)
        assert again.duplicate, record.request_id
        assert again.action.name == answers[record.request_id].action.name
    written = len(model.live)
    for replica in (a, b):
        await assert_stats_match(replica.client, md, model)
    # One change feed, in one order, on either replica; a watcher resumes on the other.
    on_a, on_b = await asyncio.gather(
        asyncio.wait_for(_watch(a.client, md, 0, written), 30),
        asyncio.wait_for(_watch(b.client, md, 0, written), 30),
    )
    assert on_a == on_b == list(range(1, written + 1))
    resumed = await asyncio.wait_for(_watch(b.client, md, on_a[written // 2], written), 30)
    assert resumed == on_a[written // 2 + 1 :]
    # One audit chain: every write once, whichever replica took it, verified on both.
    for replica in (a, b):
        v = await _verify(replica, auditor)
        assert v.ok, v
        assert v.entries_checked == written


async def test_both_replicas_importing_at_once_count_every_record_once(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    md, auditor = bearer(a.process.key, "cac"), bearer(a.process.key, "cac", "auditor")
    now = time.time_ns() // 1000
    own_a = Plan("own-a", "cac", 6_000, 500, 2_000, now)
    own_b = Plan("own-b", "cac", 6_000, 500, 2_000, now)
    same = Plan("same", "cac", 6_000, 500, 2_000, now)
    results = await asyncio.gather(
        a.client.import_actions(own_a.stream(), metadata=md, timeout=120),
        b.client.import_actions(own_b.stream(), metadata=md, timeout=120),
        a.client.import_actions(same.stream(), metadata=md, timeout=120),
        b.client.import_actions(same.stream(), metadata=md, timeout=120),
    )
    for plan, r in zip((own_a, own_b), results, strict=False):
        s = r.summary
        assert (s.accepted, s.duplicates, s.rejected) == (plan.valid_total, 0, plan.invalid_total)
    # The same file on both: each record written once, the other replica answers a duplicate.
    both = [r.summary for r in results[2:]]
    assert sum(s.accepted for s in both) == same.valid_total
    assert sum(s.duplicates for s in both) == same.valid_total
    model = Model()
    for plan in (own_a, own_b, same):
        model.add(plan)
    for replica in (a, b):
        await assert_stats_match(replica.client, md, model)
    v = await _verify(b, auditor)
    assert v.ok, v


async def test_a_replica_killed_mid_import_and_the_stream_sent_again_to_the_other(
    pair: tuple[Replica, Replica],
) -> None:
    a, b = pair
    md, auditor = bearer(a.process.key, "cac"), bearer(a.process.key, "cac", "auditor")
    batches, size = 80, 500
    plan = Plan("kill", "cac", batches * size, size, 20_000, time.time_ns() // 1000)
    valid = [
        sum(1 for i in range(n * size, (n + 1) * size) if plan.is_valid(i)) for n in range(batches)
    ]
    prefix_sums = [0, *itertools.accumulate(valid)]
    committed: list[int] = []
    enough, killed = asyncio.Event(), asyncio.Event()

    async def follow_feed_on_b() -> None:  # the other replica sees a's commits
        total = 0
        async for resp in b.client.watch_changes(metadata=md):
            if resp.event.kind == common_pb2.CHANGE_KIND_BULK_IMPORTED:
                total += resp.event.count
                committed.append(total)
                if len(committed) == 10:
                    enough.set()
            if killed.is_set():
                return

    async def stream() -> AsyncIterator[pb.ImportActionsRequest]:
        for n, batch in enumerate(plan.batches(), start=1):
            yield batch
            if n == 40:
                await asyncio.wait_for(killed.wait(), 60)

    async def kill_a() -> int:
        await asyncio.wait_for(enough.wait(), 60)
        acknowledged = committed[-1]
        a.process.signal(signal.SIGKILL)
        killed.set()
        return acknowledged

    feed = asyncio.create_task(follow_feed_on_b())
    killer = asyncio.create_task(kill_a())
    with pytest.raises(NetNetError):
        await a.client.import_actions(stream(), metadata=md, timeout=120)
    acknowledged = await killer
    assert await a.process.wait(10) == -signal.SIGKILL
    feed.cancel()

    survived = (await b.client.get_stats(metadata=md)).total.count
    assert prefix_sums[10] <= acknowledged <= survived <= prefix_sums[40] < plan.valid_total
    assert survived in prefix_sums, f"{survived} records is not a whole number of batches"
    resp = await b.client.import_actions(plan.stream(), metadata=md, timeout=120)
    s = resp.summary
    assert (s.accepted, s.duplicates, s.rejected) == (
        plan.valid_total - survived,
        survived,
        plan.invalid_total,
    )
    model = Model()
    model.add(plan)
    await assert_stats_match(b.client, md, model)
    v = await _verify(b, auditor)
    assert v.ok, v


async def test_a_revocation_at_one_replica_is_refused_by_the_other_within_seconds(
    pair: tuple[Replica, Replica],
) -> None:
    """The replicas share the store, revocations included: a token revoked at one (its jti,
    or its operator's cut-off) is refused by the other within 5 seconds, with no restart."""
    a, b = pair
    key = a.process.key
    admin = bearer(key, "office", "admin", operator="root")
    one, two = bearer(key, "cac", operator="ann"), bearer(key, "cac", operator="bo")
    for md in (one, two):
        for r in (a, b):
            await r.client.get_stats(metadata=md)
    assert a.channel is not None
    stub = rpb_grpc.RevocationServiceStub(a.channel)
    token = one[0][1].removeprefix("Bearer ")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    await stub.RevokeToken(rpb.RevokeTokenRequest(token_id=jti), metadata=admin)
    await stub.RevokeToken(rpb.RevokeTokenRequest(operator="bo"), metadata=admin)
    for md in (one, two):
        start = time.monotonic()
        while True:
            try:
                await b.client.get_stats(metadata=md)
            except NetNetError as e:
                assert e.code == grpc.StatusCode.UNAUTHENTICATED
                assert e.reason == "TOKEN_REVOKED"
                break
            assert time.monotonic() - start < 5.0, "the other replica still takes it"
            await asyncio.sleep(0.05)
    # And the one that recorded it refuses it at once.
    with pytest.raises(NetNetError) as refused:
        await a.client.get_stats(metadata=one)
    assert refused.value.reason == "TOKEN_REVOKED"
    await b.client.get_stats(metadata=bearer(key, "cac", operator="cy"))
