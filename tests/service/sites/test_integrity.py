"""Authentication and authorization on every RPC, idempotency, the audit chain and the change
feed of the sites service."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.clock import ManualClock
from services.common.server import RunningServer
from tests.service.sites.helpers import (
    BAN,
    NOTIFY,
    RESTORE,
    Stub,
    action,
    app,
    disposition,
    import_stream,
    next_event,
    record,
    snapshot,
    web,
)
from tests.support.audit import keyed_link
from tests.support.rpc import Metadata, bad_fields, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens, channel_to

DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
CREATED, UPDATED = common_pb2.CHANGE_KIND_CREATED, common_pb2.CHANGE_KIND_UPDATED
RETRACTED, BULK = common_pb2.CHANGE_KIND_RETRACTED, common_pb2.CHANGE_KIND_BULK_IMPORTED
Seeded = dict[str, str]


async def _seed(stub: Stub, tokens: Tokens) -> Seeded:
    md = tokens("miit")
    r = await record(stub, md, action("seed", app("com.example.seed"), BAN))
    b = await stub.CreateNoticeBatch(
        pb.CreateNoticeBatchRequest(
            request_id="seed-b",
            batch=pb.NoticeBatch(
                title="t",
                department="miit",
                category="user_rights",
                due_time=ts(START_US + 86_400_000_000),
            ),
        ),
        metadata=md,
    )
    await stub.AddNoticeEntries(
        pb.AddNoticeEntriesRequest(
            request_id="seed-e",
            batch=b.batch.name,
            entries=[pb.NoticeEntry(site=app("com.example.entry"), problems=["p"])],
        ),
        metadata=md,
    )
    return {"site": r.site.name, "action": r.action.name, "batch": b.batch.name}


async def _watch_one(stub: Stub, md: Metadata | None) -> pb.WatchChangesResponse:
    call = stub.WatchChanges(pb.WatchChangesRequest(after_seq=0), metadata=md)
    try:
        msg = await asyncio.wait_for(call.read(), 5)
        assert isinstance(msg, pb.WatchChangesResponse), msg
        return msg
    finally:
        call.cancel()


def _entry() -> pb.NoticeEntry:
    return pb.NoticeEntry(site=app("com.example.new"), problems=["p"])


# Every RPC of SiteService, called the normal way by a miit caller.
RPCS: dict[str, Callable[[Stub, Metadata | None, Seeded], Awaitable[Any]]] = {
    "RecordSiteAction": lambda s, md, x: s.RecordSiteAction(
        pb.RecordSiteActionRequest(action=action("new", app("com.example.new"), BAN)),
        metadata=md,
    ),
    "RetractSiteAction": lambda s, md, x: s.RetractSiteAction(
        pb.RetractSiteActionRequest(request_id="x", name=x["action"], reason="mistake"),
        metadata=md,
    ),
    "GetSite": lambda s, md, x: s.GetSite(pb.GetSiteRequest(name=x["site"]), metadata=md),
    "BatchGetSites": lambda s, md, x: s.BatchGetSites(
        pb.BatchGetSitesRequest(names=[x["site"]]), metadata=md
    ),
    "ListSites": lambda s, md, x: s.ListSites(pb.ListSitesRequest(), metadata=md),
    "ListSiteActions": lambda s, md, x: s.ListSiteActions(
        pb.ListSiteActionsRequest(parent=x["site"]), metadata=md
    ),
    "ListOverdueSites": lambda s, md, x: s.ListOverdueSites(
        pb.ListOverdueSitesRequest(), metadata=md
    ),
    "CreateNoticeBatch": lambda s, md, x: s.CreateNoticeBatch(
        pb.CreateNoticeBatchRequest(
            request_id="nb",
            batch=pb.NoticeBatch(
                title="t",
                department="miit",
                category="user_rights",
                due_time=ts(START_US + 86_400_000_000),
            ),
        ),
        metadata=md,
    ),
    "AddNoticeEntries": lambda s, md, x: s.AddNoticeEntries(
        pb.AddNoticeEntriesRequest(request_id="ne", batch=x["batch"], entries=[_entry()]),
        metadata=md,
    ),
    "PublishNoticeBatch": lambda s, md, x: s.PublishNoticeBatch(
        pb.PublishNoticeBatchRequest(request_id="np", name=x["batch"]), metadata=md
    ),
    "GetNoticeBatch": lambda s, md, x: s.GetNoticeBatch(
        pb.GetNoticeBatchRequest(name=x["batch"]), metadata=md
    ),
    "ListNoticeBatches": lambda s, md, x: s.ListNoticeBatches(
        pb.ListNoticeBatchesRequest(), metadata=md
    ),
    "RecordDisposition": lambda s, md, x: s.RecordDisposition(
        pb.RecordDispositionRequest(
            disposition=disposition("d", web("a.example.com"), department="miit")
        ),
        metadata=md,
    ),
    "ImportDispositions": lambda s, md, x: s.ImportDispositions(
        import_stream([[disposition("i", web("a.example.com"), department="miit")]]),
        metadata=md,
    ),
    "LookupContentHash": lambda s, md, x: s.LookupContentHash(
        pb.LookupContentHashRequest(content_sha256="0" * 64), metadata=md
    ),
    "GetStats": lambda s, md, x: s.GetStats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS), metadata=md
    ),
    "BatchGetStats": lambda s, md, x: s.BatchGetStats(
        pb.BatchGetStatsRequest(
            requests=[pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS)]
        ),
        metadata=md,
    ),
    "WatchChanges": lambda s, md, x: _watch_one(s, md),
    "ListAuditEntries": lambda s, md, x: s.ListAuditEntries(
        pb.ListAuditEntriesRequest(), metadata=md
    ),
    "VerifyAuditChain": lambda s, md, x: s.VerifyAuditChain(
        pb.VerifyAuditChainRequest(), metadata=md
    ),
}
WRITES = {
    "RecordSiteAction",
    "RetractSiteAction",
    "CreateNoticeBatch",
    "AddNoticeEntries",
    "PublishNoticeBatch",
    "RecordDisposition",
    "ImportDispositions",
}
AUDIT = {"ListAuditEntries", "VerifyAuditChain"}


def test_the_table_covers_every_rpc() -> None:
    service = pb.DESCRIPTOR.services_by_name["SiteService"]
    assert set(RPCS) == {m.name for m in service.methods}


def _bad_tokens(tokens: Tokens) -> dict[str, Metadata | None]:
    good = tokens("miit")[0][1].removeprefix("Bearer ")
    forged = jwt.encode(
        {**jwt.decode(good, options={"verify_signature": False})},
        "another deployment's signing key, long enough",
        algorithm="HS256",
    )
    return {
        "none": None,
        "empty": [("authorization", "")],
        "not bearer": [("authorization", f"Basic {good}")],
        "garbage": [("authorization", "Bearer not.a.jwt")],
        "forged": [("authorization", f"Bearer {forged}")],
        "expired": tokens("miit", ttl=-60),
    }


@pytest.mark.parametrize("rpc", sorted(RPCS))
async def test_every_rpc_needs_a_valid_token(stub: Stub, tokens: Tokens, rpc: str) -> None:
    seeded = await _seed(stub, tokens)
    before = await snapshot(stub, tokens)
    for what, md in _bad_tokens(tokens).items():
        err = await expect_error(RPCS[rpc](stub, md, seeded), UNAUTHENTICATED)
        assert error_reason(err).startswith("TOKEN_"), what
    assert await snapshot(stub, tokens) == before
    # The same call with a proper token works (so the refusal was about the token).
    ok = tokens("miit", "operator", "auditor")
    assert await RPCS[rpc](stub, ok, seeded) is not None


@pytest.mark.parametrize("rpc", sorted(RPCS))
async def test_roles(stub: Stub, tokens: Tokens, rpc: str) -> None:
    """Writers write, analysts and auditors read, only auditors see the audit log."""
    seeded = await _seed(stub, tokens)
    before = await snapshot(stub, tokens)
    reader = tokens("miit", "analyst")
    if rpc in WRITES or rpc in AUDIT:
        await expect_error(RPCS[rpc](stub, reader, seeded), DENIED)
        assert await snapshot(stub, tokens) == before
    else:
        await RPCS[rpc](stub, reader, seeded)
    if rpc in AUDIT:
        await expect_error(RPCS[rpc](stub, tokens("miit", "operator", "admin"), seeded), DENIED)
        await RPCS[rpc](stub, tokens("office", "auditor"), seeded)
    if rpc in WRITES:
        await RPCS[rpc](stub, tokens("miit", "admin"), seeded)


async def test_health_needs_no_token(server: RunningServer) -> None:
    channel = await channel_to(server.port)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        r = await health.Check(health_pb2.HealthCheckRequest(service="netnet.sites.v1.SiteService"))
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close()


async def test_writing_in_another_departments_name(stub: Stub, tokens: Tokens) -> None:
    seeded = await _seed(stub, tokens)
    cac = tokens("cac")
    before = await snapshot(stub, tokens)
    unary = WRITES - {"ImportDispositions"}
    for rpc in sorted(unary - {"PublishNoticeBatch"}):
        err = await expect_error(RPCS[rpc](stub, cac, seeded), DENIED)
        assert error_reason(err) == "WRONG_DEPARTMENT", rpc
    err = await expect_error(RPCS["PublishNoticeBatch"](stub, cac, seeded), DENIED)
    assert error_reason(err) == "WRONG_DEPARTMENT"
    # Nor does the coordinating office write in another department's name.
    office = tokens("office", "admin")
    for rpc in sorted(unary):
        await expect_error(RPCS[rpc](stub, office, seeded), DENIED)
    # An import stream rejects such a record as a bad row (field department).
    for md in (cac, office):
        reply = await RPCS["ImportDispositions"](stub, md, seeded)
        assert reply.summary.accepted == 0
        assert [(r.index, r.field) for r in reply.summary.rejections] == [(0, "department")]
    assert await snapshot(stub, tokens) == before


async def test_a_stored_answer_is_no_way_around_the_department_check(
    stub: Stub, tokens: Tokens
) -> None:
    """Another department replaying miit's exact retraction gets no answer back."""
    seeded = await _seed(stub, tokens)
    request = pb.RetractSiteActionRequest(request_id="x", name=seeded["action"], reason="oops")
    first = await stub.RetractSiteAction(request, metadata=tokens("miit"))
    assert first.action.retracted
    before = await snapshot(stub, tokens)
    try:
        answer = await stub.RetractSiteAction(request, metadata=tokens("cac"))
    except grpc.aio.AioRpcError as e:
        assert e.code() in (DENIED, grpc.StatusCode.INVALID_ARGUMENT), e
    else:
        raise AssertionError(f"cac got miit's stored answer: {answer}")
    assert await snapshot(stub, tokens) == before


async def test_record_site_action_is_idempotent(stub: Stub, tokens: Tokens) -> None:
    md = tokens("miit")
    a = action("once", app("com.example.once"), NOTIFY)
    first = await record(stub, md, a)
    again = await record(stub, md, a)
    assert again.duplicate and not first.duplicate
    assert again.action == first.action
    assert again.site.action_count == 1
    listed = await stub.ListSiteActions(
        pb.ListSiteActionsRequest(parent=first.site.name), metadata=md
    )
    assert [x.name for x in listed.actions] == [first.action.name]
    stats = await stub.GetStats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS), metadata=md
    )
    assert (stats.total.count, stats.total.distinct_subjects) == (1, 1)
    # Same request id, different body: refused on request_id, nothing written.
    before = await snapshot(stub, tokens)
    for changed in (
        action("once", app("com.example.once"), NOTIFY, problems=["another problem"]),
        action("once", app("com.example.other"), BAN),
        action("once", app("com.example.once"), NOTIFY, campaign_id="qingfeng"),
    ):
        err = await expect_error(record(stub, md, changed), grpc.StatusCode.INVALID_ARGUMENT)
        assert error_reason(err) == "REQUEST_ID_REUSED"
        assert [f.removeprefix("action.") for f in bad_fields(err)] == ["request_id"]
    assert await snapshot(stub, tokens) == before
    # A URL of the same host is the same body (identity is canonical).
    same = action("w", web("www.example.com"), BAN)
    r1 = await record(stub, md, same)
    r2 = await record(stub, md, action("w", web("HTTPS://WWW.EXAMPLE.COM/x"), BAN))
    assert r2.duplicate and r2.action.name == r1.action.name


async def test_retract_is_idempotent(stub: Stub, tokens: Tokens) -> None:
    md = tokens("miit")
    ban = await record(stub, md, action("b", app("com.example.r"), BAN))
    request = pb.RetractSiteActionRequest(request_id="r1", name=ban.action.name, reason="oops")
    first = await stub.RetractSiteAction(request, metadata=md)
    before = await snapshot(stub, tokens)
    again = await stub.RetractSiteAction(request, metadata=md)
    assert again == first
    err = await expect_error(
        stub.RetractSiteAction(
            pb.RetractSiteActionRequest(request_id="r1", name=ban.action.name, reason="other"),
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == ["request_id"]
    assert await snapshot(stub, tokens) == before


async def _audit_entries(stub: Stub, tokens: Tokens) -> list[common_pb2.AuditEntry]:
    md = tokens("office", "auditor")
    out: list[common_pb2.AuditEntry] = []
    token = ""
    while True:
        page = await stub.ListAuditEntries(
            pb.ListAuditEntriesRequest(page_size=2, page_token=token), metadata=md
        )
        out += list(page.entries)
        token = page.next_page_token
        if not token:
            return out


async def _verify(stub: Stub, tokens: Tokens) -> common_pb2.AuditVerification:
    r = await stub.VerifyAuditChain(
        pb.VerifyAuditChainRequest(), metadata=tokens("office", "auditor")
    )
    return r.verification


async def _mutations(stub: Stub, tokens: Tokens, clock: ManualClock) -> list[tuple[str, str]]:
    """A mix of writes; returns the (method, resource) each audited one must leave."""
    miit = tokens("miit", operator="alice")
    cac = tokens("cac", operator="bob")
    n = await record(stub, miit, action("n1", app("com.example.a"), NOTIFY))
    clock.advance(1)
    await record(stub, miit, action("n1", app("com.example.a"), NOTIFY))  # duplicate: no entry
    await expect_error(  # refused: no entry
        record(stub, miit, action("bad", app("com.example.a"), RESTORE)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    b = await record(stub, miit, action("b1", app("com.example.a"), BAN))
    x = await stub.RetractSiteAction(
        pb.RetractSiteActionRequest(request_id="x1", name=b.action.name, reason="oops"),
        metadata=miit,
    )
    d = await stub.RecordDisposition(
        pb.RecordDispositionRequest(disposition=disposition("d1", web("v.example.com"))),
        metadata=cac,
    )
    await stub.ImportDispositions(
        import_stream(
            [[disposition("i1", web("v.example.com")), disposition("d1", web("v.example.com"))]]
        ),
        metadata=cac,
    )
    batch = await stub.CreateNoticeBatch(
        pb.CreateNoticeBatchRequest(
            request_id="c1",
            batch=pb.NoticeBatch(
                title="t", department="miit", category="user_rights", due_time=ts(START_US + 9**12)
            ),
        ),
        metadata=miit,
    )
    name = batch.batch.name
    await stub.AddNoticeEntries(
        pb.AddNoticeEntriesRequest(request_id="e1", batch=name, entries=[_entry()]),
        metadata=miit,
    )
    await stub.PublishNoticeBatch(
        pb.PublishNoticeBatchRequest(request_id="p1", name=name), metadata=miit
    )
    return [
        ("RecordSiteAction", n.action.name),
        ("RecordSiteAction", b.action.name),
        ("RetractSiteAction", x.action.name),
        ("RecordDisposition", d.disposition.name),
        ("ImportDispositions", "dispositions"),
        ("CreateNoticeBatch", name),
        ("AddNoticeEntries", name),
        ("PublishNoticeBatch", name),
    ]


async def test_every_mutation_is_audited_in_a_chain(
    stub: Stub, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    assert (await _verify(stub, tokens)).ok  # an empty chain verifies
    expected = await _mutations(stub, tokens, clock)
    entries = await _audit_entries(stub, tokens)
    assert [(e.method, e.resource) for e in entries] == expected
    assert [e.seq for e in entries] == list(range(1, len(expected) + 1))
    prev = ""
    for e in entries:
        assert e.prev_hash == prev
        assert e.hash == keyed_link(e, server.runtime.settings.audit_key_file)
        prev = e.hash
    assert [(e.operator, e.department) for e in entries[:3]] == [("alice", "miit")] * 3
    assert (entries[3].operator, entries[3].department) == ("bob", "cac")
    assert [e.request_id for e in entries[:4]] == ["n1", "b1", "x1", "d1"]
    assert entries[4].outcome == "accepted=1 duplicate=1 rejected=0"
    assert entries[1].time.ToMicroseconds() == START_US + 1_000_000
    verification = await _verify(stub, tokens)
    assert (verification.ok, verification.entries_checked) == (True, len(expected))


def _tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [
        ("UPDATE audit_log SET outcome = 'nothing happened' WHERE seq = 3", 3),
        ("UPDATE audit_log SET department = 'office' WHERE seq = 1", 1),
        ("DELETE FROM audit_log WHERE seq = 4", 4),
        ("DELETE FROM audit_log WHERE seq = 8", 8),  # the newest: caught by the head
        ("UPDATE audit_log SET time_us = time_us + 1 WHERE seq = 8", 8),
    ],
)
async def test_tampering_is_detected(
    stub: Stub, tokens: Tokens, clock: ManualClock, server: RunningServer, sql: str, first_bad: int
) -> None:
    await _mutations(stub, tokens, clock)
    assert (await _verify(stub, tokens)).ok
    _tamper(server.runtime.settings.database_path, sql)
    verification = await _verify(stub, tokens)
    assert not verification.ok
    assert verification.first_bad_seq == first_bad
    assert verification.problem
    # Writing goes on, and the chain stays broken.
    await record(stub, tokens("miit"), action("after", app("com.example.z"), BAN))
    assert not (await _verify(stub, tokens)).ok


async def test_change_feed_is_ordered_and_resumable(
    stub: Stub, tokens: Tokens, clock: ManualClock
) -> None:
    expected = await _mutations(stub, tokens, clock)
    md = tokens("nppa", "analyst")  # any authenticated caller may follow the feed
    call = stub.WatchChanges(pb.WatchChangesRequest(after_seq=0), metadata=md)
    events: list[common_pb2.ChangeEvent] = []
    try:
        while len(events) < 8:
            events.append(await next_event(call))
    finally:
        call.cancel()
    assert [e.seq for e in events] == list(range(1, 9))
    kinds = [(e.kind, e.resource) for e in events]
    names = dict(expected)  # method -> last resource of that method
    notice, ban = expected[0][1], expected[1][1]
    assert kinds[:4] == [
        (CREATED, notice),
        (CREATED, ban),
        (RETRACTED, ban),
        (CREATED, names["RecordDisposition"]),
    ]
    assert kinds[4] == (BULK, "dispositions") and events[4].count == 1
    assert events[4].department == "cac"
    batch = names["PublishNoticeBatch"]
    assert kinds[5:8] == [(CREATED, batch), (UPDATED, batch), (UPDATED, batch)]
    assert all(e.time.ToMicroseconds() >= START_US for e in events)
    # Resume after any position: the rest, the same.
    resumed = stub.WatchChanges(pb.WatchChangesRequest(after_seq=5), metadata=md)
    try:
        rest = [await next_event(resumed) for _ in range(3)]
    finally:
        resumed.cancel()
    assert rest == events[5:8]
    # The feed waits for news: a new write arrives on an open watch.
    live = stub.WatchChanges(pb.WatchChangesRequest(from_end=True), metadata=md)
    try:
        await live.initial_metadata()
        r = await record(stub, tokens("miit"), action("late", app("com.example.late"), BAN))
        event = await next_event(live)
    finally:
        live.cancel()
    assert (event.kind, event.resource, event.department) == (CREATED, r.action.name, "miit")
    assert event.seq > events[-1].seq
