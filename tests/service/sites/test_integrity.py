"""Authentication and authorization on every RPC, idempotency, the audit chain and the change
feed of the sites service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.client import NetNetError, SitesClient
from netnet.client.tokens import kid_of
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.clock import ManualClock
from services.common.config import Settings
from services.common.server import RunningServer
from tests.service.sites.helpers import (
    BAN,
    NOTIFY,
    RESTORE,
    action,
    app,
    disposition,
    import_stream,
    next_event,
    record,
    snapshot,
    web,
)
from tests.support.audit import keyed_link, transaction
from tests.support.rpc import Metadata, bad_fields, connected, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens, channel_to

DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
CREATED, UPDATED = common_pb2.CHANGE_KIND_CREATED, common_pb2.CHANGE_KIND_UPDATED
RETRACTED, BULK = common_pb2.CHANGE_KIND_RETRACTED, common_pb2.CHANGE_KIND_BULK_IMPORTED
Seeded = dict[str, str]


async def _seed(client: SitesClient, tokens: Tokens) -> Seeded:
    md = tokens("miit")
    r = await record(client, md, action("seed", app("com.example.seed"), BAN))
    b = await client.create_notice_batch(
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
    await client.add_notice_entries(
        pb.AddNoticeEntriesRequest(
            request_id="seed-e",
            batch=b.batch.name,
            entries=[pb.NoticeEntry(site=app("com.example.entry"), problems=["p"])],
        ),
        metadata=md,
    )
    return {"site": r.site.name, "action": r.action.name, "batch": b.batch.name}


async def _watch_one(client: SitesClient, md: Metadata) -> pb.WatchChangesResponse:
    async with aclosing(client.watch_changes(after_seq=0, metadata=md)) as changes:
        msg = await asyncio.wait_for(anext(changes, None), 5)
        assert isinstance(msg, pb.WatchChangesResponse), msg
        return msg


def _entry() -> pb.NoticeEntry:
    return pb.NoticeEntry(site=app("com.example.new"), problems=["p"])


# Every RPC of SiteService, called the normal way by a miit caller.
RPCS: dict[str, Callable[[SitesClient, Metadata, Seeded], Awaitable[Any]]] = {
    "RecordSiteAction": lambda s, md, x: s.record_site_action(
        pb.RecordSiteActionRequest(action=action("new", app("com.example.new"), BAN)),
        metadata=md,
    ),
    "RetractSiteAction": lambda s, md, x: s.retract_site_action(
        pb.RetractSiteActionRequest(request_id="x", name=x["action"], reason="mistake"),
        metadata=md,
    ),
    "GetSite": lambda s, md, x: s.get_site(pb.GetSiteRequest(name=x["site"]), metadata=md),
    "BatchGetSites": lambda s, md, x: s.batch_get_sites(
        pb.BatchGetSitesRequest(names=[x["site"]]), metadata=md
    ),
    "ListSites": lambda s, md, x: s.list_sites(pb.ListSitesRequest(), metadata=md),
    "ListSiteActions": lambda s, md, x: s.list_site_actions(
        pb.ListSiteActionsRequest(parent=x["site"]), metadata=md
    ),
    "ListOverdueSites": lambda s, md, x: s.list_overdue_sites(
        pb.ListOverdueSitesRequest(), metadata=md
    ),
    "CreateNoticeBatch": lambda s, md, x: s.create_notice_batch(
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
    "AddNoticeEntries": lambda s, md, x: s.add_notice_entries(
        pb.AddNoticeEntriesRequest(request_id="ne", batch=x["batch"], entries=[_entry()]),
        metadata=md,
    ),
    "PublishNoticeBatch": lambda s, md, x: s.publish_notice_batch(
        pb.PublishNoticeBatchRequest(request_id="np", name=x["batch"]), metadata=md
    ),
    "GetNoticeBatch": lambda s, md, x: s.get_notice_batch(
        pb.GetNoticeBatchRequest(name=x["batch"]), metadata=md
    ),
    "ListNoticeBatches": lambda s, md, x: s.list_notice_batches(
        pb.ListNoticeBatchesRequest(), metadata=md
    ),
    "RecordDisposition": lambda s, md, x: s.record_disposition(
        pb.RecordDispositionRequest(
            disposition=disposition("d", web("a.example.com"), department="miit")
        ),
        metadata=md,
    ),
    "ImportDispositions": lambda s, md, x: s.import_dispositions(
        import_stream([[disposition("i", web("a.example.com"), department="miit")]]),
        metadata=md,
    ),
    "LookupContentHash": lambda s, md, x: s.lookup_content_hash(
        pb.LookupContentHashRequest(content_sha256="0" * 64), metadata=md
    ),
    "GetStats": lambda s, md, x: s.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS), metadata=md
    ),
    "BatchGetStats": lambda s, md, x: s.batch_get_stats(
        pb.BatchGetStatsRequest(
            requests=[pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS)]
        ),
        metadata=md,
    ),
    "WatchChanges": lambda s, md, x: _watch_one(s, md),
    "ListAuditEntries": lambda s, md, x: s.list_audit_entries(
        pb.ListAuditEntriesRequest(), metadata=md
    ),
    "VerifyAuditChain": lambda s, md, x: s.verify_audit_chain(
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


def _bad_tokens(tokens: Tokens) -> dict[str, Metadata]:
    good = tokens("miit")[0][1].removeprefix("Bearer ")
    # Another deployment's key, under our key's kid.
    forged = tokens.sign(
        {**jwt.decode(good, options={"verify_signature": False})},
        Ed25519PrivateKey.generate(),
        kid_of(tokens.key.public_key()),
    )
    return {
        "none": [],  # the client has no token of its own
        "empty": [("authorization", "")],
        "not bearer": [("authorization", f"Basic {good}")],
        "garbage": [("authorization", "Bearer not.a.jwt")],
        "forged": [("authorization", f"Bearer {forged}")],
        "expired": tokens("miit", ttl=-60),
    }


@pytest.mark.parametrize("rpc", sorted(RPCS))
async def test_every_rpc_needs_a_valid_token(client: SitesClient, tokens: Tokens, rpc: str) -> None:
    seeded = await _seed(client, tokens)
    before = await snapshot(client, tokens)
    for what, md in _bad_tokens(tokens).items():
        err = await expect_error(RPCS[rpc](client, md, seeded), UNAUTHENTICATED)
        assert error_reason(err).startswith("TOKEN_"), what
    assert await snapshot(client, tokens) == before
    # The same call with a proper token works (so the refusal was about the token).
    ok = tokens("miit", "operator", "auditor")
    assert await RPCS[rpc](client, ok, seeded) is not None


@pytest.mark.parametrize("rpc", sorted(RPCS))
async def test_roles(client: SitesClient, tokens: Tokens, rpc: str) -> None:
    """Writers write, analysts and auditors read, only auditors see the audit log."""
    seeded = await _seed(client, tokens)
    before = await snapshot(client, tokens)
    reader = tokens("miit", "analyst")
    if rpc in WRITES or rpc in AUDIT:
        await expect_error(RPCS[rpc](client, reader, seeded), DENIED)
        assert await snapshot(client, tokens) == before
    else:
        await RPCS[rpc](client, reader, seeded)
    if rpc in AUDIT:
        await expect_error(RPCS[rpc](client, tokens("miit", "operator", "admin"), seeded), DENIED)
        await RPCS[rpc](client, tokens("office", "auditor"), seeded)
    if rpc in WRITES:
        await RPCS[rpc](client, tokens("miit", "admin"), seeded)


async def test_health_needs_no_token(server: RunningServer) -> None:
    channel = await channel_to(server.port)
    try:
        health = health_pb2_grpc.HealthStub(channel)  # the gRPC health service: not in the SDK
        r = await health.Check(health_pb2.HealthCheckRequest(service="netnet.sites.v1.SiteService"))
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close()


async def test_writing_in_another_departments_name(client: SitesClient, tokens: Tokens) -> None:
    seeded = await _seed(client, tokens)
    cac = tokens("cac")
    before = await snapshot(client, tokens)
    unary = WRITES - {"ImportDispositions"}
    for rpc in sorted(unary - {"PublishNoticeBatch"}):
        err = await expect_error(RPCS[rpc](client, cac, seeded), DENIED)
        assert error_reason(err) == "WRONG_DEPARTMENT", rpc
    err = await expect_error(RPCS["PublishNoticeBatch"](client, cac, seeded), DENIED)
    assert error_reason(err) == "WRONG_DEPARTMENT"
    # Nor does the coordinating office write in another department's name.
    office = tokens("office", "admin")
    for rpc in sorted(unary):
        await expect_error(RPCS[rpc](client, office, seeded), DENIED)
    # An import stream rejects such a record as a bad row (field department).
    for md in (cac, office):
        reply = await RPCS["ImportDispositions"](client, md, seeded)
        assert reply.summary.accepted == 0
        assert [(r.index, r.field) for r in reply.summary.rejections] == [(0, "department")]
    assert await snapshot(client, tokens) == before


async def test_a_stored_answer_is_no_way_around_the_department_check(
    client: SitesClient, tokens: Tokens
) -> None:
    """Another department replaying miit's exact retraction gets no answer back."""
    seeded = await _seed(client, tokens)
    request = pb.RetractSiteActionRequest(request_id="x", name=seeded["action"], reason="oops")
    first = await client.retract_site_action(request, metadata=tokens("miit"))
    assert first.action.retracted
    before = await snapshot(client, tokens)
    try:
        answer = await client.retract_site_action(request, metadata=tokens("cac"))
    except NetNetError as e:
        assert e.code in (DENIED, grpc.StatusCode.INVALID_ARGUMENT), e
    else:
        raise AssertionError(f"cac got miit's stored answer: {answer}")
    assert await snapshot(client, tokens) == before


async def test_record_site_action_is_idempotent(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    a = action("once", app("com.example.once"), NOTIFY)
    first = await record(client, md, a)
    again = await record(client, md, a)
    assert again.duplicate and not first.duplicate
    assert again.action == first.action
    assert again.site.action_count == 1
    listed = (
        await client.list_site_actions(
            pb.ListSiteActionsRequest(parent=first.site.name), metadata=md
        )
    ).response
    assert [x.name for x in listed.actions] == [first.action.name]
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS), metadata=md
    )
    assert (stats.total.count, stats.total.distinct_subjects) == (1, 1)
    # Same request id, different body: refused on request_id, nothing written.
    before = await snapshot(client, tokens)
    for changed in (
        action("once", app("com.example.once"), NOTIFY, problems=["another problem"]),
        action("once", app("com.example.other"), BAN),
        action("once", app("com.example.once"), NOTIFY, campaign_id="qingfeng"),
    ):
        err = await expect_error(record(client, md, changed), grpc.StatusCode.INVALID_ARGUMENT)
        assert error_reason(err) == "REQUEST_ID_REUSED"
        assert [f.removeprefix("action.") for f in bad_fields(err)] == ["request_id"]
    assert await snapshot(client, tokens) == before
    # A URL of the same host is the same body (identity is canonical).
    same = action("w", web("www.example.com"), BAN)
    r1 = await record(client, md, same)
    r2 = await record(client, md, action("w", web("HTTPS://WWW.EXAMPLE.COM/x"), BAN))
    assert r2.duplicate and r2.action.name == r1.action.name


async def test_retract_is_idempotent(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    ban = await record(client, md, action("b", app("com.example.r"), BAN))
    request = pb.RetractSiteActionRequest(request_id="r1", name=ban.action.name, reason="oops")
    first = await client.retract_site_action(request, metadata=md)
    before = await snapshot(client, tokens)
    again = await client.retract_site_action(request, metadata=md)
    assert again == first
    err = await expect_error(
        client.retract_site_action(
            pb.RetractSiteActionRequest(request_id="r1", name=ban.action.name, reason="other"),
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == ["request_id"]
    assert await snapshot(client, tokens) == before


async def _audit_entries(client: SitesClient, tokens: Tokens) -> list[common_pb2.AuditEntry]:
    md = tokens("office", "auditor")
    out: list[common_pb2.AuditEntry] = []
    token = ""
    while True:
        page = (
            await client.list_audit_entries(
                pb.ListAuditEntriesRequest(page_size=2, page_token=token), metadata=md
            )
        ).response
        out += list(page.entries)
        token = page.next_page_token
        if not token:
            return out


async def _verify(client: SitesClient, tokens: Tokens) -> common_pb2.AuditVerification:
    r = await client.verify_audit_chain(
        pb.VerifyAuditChainRequest(), metadata=tokens("office", "auditor")
    )
    return r.verification


async def _mutations(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> list[tuple[str, str]]:
    """A mix of writes; returns the (method, resource) each audited one must leave."""
    miit = tokens("miit", operator="alice")
    cac = tokens("cac", operator="bob")
    n = await record(client, miit, action("n1", app("com.example.a"), NOTIFY))
    clock.advance(1)
    await record(client, miit, action("n1", app("com.example.a"), NOTIFY))  # duplicate: no entry
    await expect_error(  # refused: no entry
        record(client, miit, action("bad", app("com.example.a"), RESTORE)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    b = await record(client, miit, action("b1", app("com.example.a"), BAN))
    x = await client.retract_site_action(
        pb.RetractSiteActionRequest(request_id="x1", name=b.action.name, reason="oops"),
        metadata=miit,
    )
    d = await client.record_disposition(
        pb.RecordDispositionRequest(disposition=disposition("d1", web("v.example.com"))),
        metadata=cac,
    )
    await client.import_dispositions(
        import_stream(
            [[disposition("i1", web("v.example.com")), disposition("d1", web("v.example.com"))]]
        ),
        metadata=cac,
    )
    batch = await client.create_notice_batch(
        pb.CreateNoticeBatchRequest(
            request_id="c1",
            batch=pb.NoticeBatch(
                title="t", department="miit", category="user_rights", due_time=ts(START_US + 9**12)
            ),
        ),
        metadata=miit,
    )
    name = batch.batch.name
    await client.add_notice_entries(
        pb.AddNoticeEntriesRequest(request_id="e1", batch=name, entries=[_entry()]),
        metadata=miit,
    )
    await client.publish_notice_batch(
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
    client: SitesClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    assert (await _verify(client, tokens)).ok  # an empty chain verifies
    expected = await _mutations(client, tokens, clock)
    entries = await _audit_entries(client, tokens)
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
    verification = await _verify(client, tokens)
    assert (verification.ok, verification.entries_checked) == (True, len(expected))


def _tamper(settings: Settings, sql: str) -> None:
    with transaction(settings) as conn:
        conn.execute(sql)


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
    client: SitesClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
    sql: str,
    first_bad: int,
) -> None:
    await _mutations(client, tokens, clock)
    assert (await _verify(client, tokens)).ok
    _tamper(server.runtime.settings, sql)
    verification = await _verify(client, tokens)
    assert not verification.ok
    assert verification.first_bad_seq == first_bad
    assert verification.problem
    # Writing goes on, and the chain stays broken.
    await record(client, tokens("miit"), action("after", app("com.example.z"), BAN))
    assert not (await _verify(client, tokens)).ok


async def test_change_feed_is_ordered_and_resumable(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:
    expected = await _mutations(client, tokens, clock)
    md = tokens("nppa", "analyst")  # any authenticated caller may follow the feed
    events: list[common_pb2.ChangeEvent] = []
    async with aclosing(client.watch_changes(after_seq=0, metadata=md)) as changes:
        while len(events) < 8:
            events.append(await next_event(changes))
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
    async with aclosing(client.watch_changes(after_seq=5, metadata=md)) as resumed:
        rest = [await next_event(resumed) for _ in range(3)]
    assert rest == events[5:8]
    # The feed waits for news: a new write arrives on an open watch.
    # The generated stub: the write must wait until the watch is listening.
    live = client.stub.WatchChanges(pb.WatchChangesRequest(from_end=True), metadata=md)
    async with connected(live) as changes:
        r = await record(client, tokens("miit"), action("late", app("com.example.late"), BAN))
        event = await next_event(changes)
    assert (event.kind, event.resource, event.department) == (CREATED, r.action.name, "miit")
    assert event.seq > events[-1].seq
