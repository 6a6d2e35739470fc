"""Overdue notices: the background sweep marks them (with change events), ListOverdueSites
finds them by department and by batch, and what may follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.clock import ManualClock
from tests.service.sites.helpers import (
    CONFIRM,
    NOTIFY,
    REMOVE,
    action,
    app,
    next_event,
    record,
    wait_for_event,
    web,
)
from tests.support.rpc import DAY_US, Metadata, connected, ts
from tests.support.servers import START_US, Tokens

UPDATED = common_pb2.CHANGE_KIND_UPDATED


@asynccontextmanager
async def watching(
    client: SitesClient, md: Metadata
) -> AsyncIterator[AsyncIterator[pb.WatchChangesResponse]]:
    """A WatchChanges stream from the end of the log, connected before the block runs (so on
    the generated stub: an SDK stream cannot say when it is connected)."""
    async with connected(
        client.stub.WatchChanges(pb.WatchChangesRequest(from_end=True), metadata=md)
    ) as changes:
        yield changes


async def sweep_marks(
    client: SitesClient, md: Metadata, clock: ManualClock, days: float, sites: list[str]
) -> list[common_pb2.ChangeEvent]:
    """Advance the clock and wait for the sweep's UPDATED event of each site (any order);
    no other site changes on the way."""
    async with watching(client, md) as call:
        clock.advance(days * 86_400)
        events: list[common_pb2.ChangeEvent] = []
        waiting = set(sites)
        while waiting:
            event = await next_event(call)
            assert event.kind == UPDATED and event.resource in waiting, event
            waiting.discard(event.resource)
            events.append(event)
        return events


async def overdue(client: SitesClient, md: Metadata, **filters: str) -> list[str]:
    """Identifiers of the overdue sites (all pages)."""
    out: list[str] = []
    token = ""
    while True:
        page = (
            await client.list_overdue_sites(
                pb.ListOverdueSitesRequest(page_size=1, page_token=token, **filters), metadata=md
            )
        ).response
        out += [s.site.identifier for s in page.sites]
        token = page.next_page_token
        if not token:
            return out


async def test_sweep_marks_a_past_due_notice_overdue(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:
    md = tokens("miit")
    r = await record(client, md, action("n", app("com.example.late"), NOTIFY))
    assert r.site.status == pb.SITE_STATUS_NOTIFIED
    # Not yet due: nothing is overdue, however often the sweep runs.
    assert await overdue(client, md) == []
    async with watching(client, md) as call:
        clock.advance(6 * 86_400)
        clock.advance(86_400 + 1)  # one second past the due time
        event, _ = await wait_for_event(call, r.site.name, UPDATED)
    assert event.department == "miit"
    assert event.time.ToMicroseconds() >= START_US + 7 * DAY_US
    site = (await client.get_site(pb.GetSiteRequest(name=r.site.name), metadata=md)).site
    assert site.status == pb.SITE_STATUS_OVERDUE
    assert site.notice_due_time.ToMicroseconds() == START_US + 7 * DAY_US
    assert int(site.etag) > int(r.site.etag)
    listed = (await client.list_overdue_sites(pb.ListOverdueSitesRequest(), metadata=md)).response
    (o,) = listed.sites
    assert o.site == site
    assert o.notice.name == r.action.name and o.notice.action == NOTIFY
    status = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_SITE_STATUS, group_by=[common_pb2.DIMENSION_ACTION]
        ),
        metadata=md,
    )
    assert [(x.action, x.count) for x in status.rows] == [("overdue", 1)]
    audit = tokens("office", "auditor")
    verification = await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=audit)
    assert verification.verification.ok
    entries = (
        await client.list_audit_entries(pb.ListAuditEntriesRequest(), metadata=audit)
    ).response
    assert [e.method for e in entries.entries] == ["RecordSiteAction", "OverdueSweep"]


async def test_overdue_by_department_and_batch(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:
    miit, cac = tokens("miit"), tokens("cac")

    async def published(rid: str, due_days: int, *packages: str) -> str:
        b = await client.create_notice_batch(
            pb.CreateNoticeBatchRequest(
                request_id=f"{rid}-c",
                batch=pb.NoticeBatch(
                    title=rid,
                    department="miit",
                    category="user_rights",
                    due_time=ts(START_US + due_days * DAY_US),
                ),
            ),
            metadata=miit,
        )
        await client.add_notice_entries(
            pb.AddNoticeEntriesRequest(
                request_id=f"{rid}-e",
                batch=b.batch.name,
                entries=[pb.NoticeEntry(site=app(p), problems=["p"]) for p in packages],
            ),
            metadata=miit,
        )
        await client.publish_notice_batch(
            pb.PublishNoticeBatchRequest(request_id=f"{rid}-p", name=b.batch.name), metadata=miit
        )
        return b.batch.name

    batch_a = await published("a", 7, "com.a.one", "com.a.two")
    batch_b = await published("b", 14, "com.b.one")
    web_site = await record(
        client,
        cac,
        action("w", web("bad.example.com"), NOTIFY, "cac", due_us=START_US + 3 * DAY_US),
    )
    fixed = await record(client, miit, action("f", app("com.fixed"), NOTIFY))
    await record(client, miit, action("f2", app("com.fixed"), CONFIRM))
    # Renotified with a later due time: the first notice no longer counts.
    extended = app("com.extended")
    await record(client, miit, action("x1", extended, NOTIFY, due_us=START_US + 2 * DAY_US))
    await record(client, miit, action("x2", extended, NOTIFY, due_us=START_US + 30 * DAY_US))

    sites = (await client.list_sites(pb.ListSitesRequest(), metadata=miit)).response
    name = {s.identifier: s.name for s in sites.sites}
    await sweep_marks(
        client, miit, clock, 10, [name["com.a.one"], name["com.a.two"], web_site.site.name]
    )
    assert await overdue(client, miit) == ["com.a.one", "com.a.two", "bad.example.com"]
    assert await overdue(client, miit, department="miit") == ["com.a.one", "com.a.two"]
    assert await overdue(client, miit, department="cac") == ["bad.example.com"]
    assert await overdue(client, miit, department="mps") == []
    assert await overdue(client, miit, notice_batch=batch_a) == ["com.a.one", "com.a.two"]
    assert await overdue(client, miit, notice_batch=batch_b) == []
    listed = (
        await client.list_overdue_sites(
            pb.ListOverdueSitesRequest(notice_batch=batch_a), metadata=miit
        )
    ).response
    assert {o.notice.notice_batch for o in listed.sites} == {batch_a}
    for identifier in ("com.b.one", "com.fixed", "com.extended"):
        got = await client.get_site(pb.GetSiteRequest(name=name[identifier]), metadata=miit)
        assert got.site.status != pb.SITE_STATUS_OVERDUE, identifier
    assert fixed.site.name == name["com.fixed"]

    await sweep_marks(client, miit, clock, 5, [name["com.b.one"]])
    assert await overdue(client, miit, notice_batch=batch_b) == ["com.b.one"]
    assert await overdue(client, miit, department="miit") == ["com.a.one", "com.a.two", "com.b.one"]


async def test_after_overdue_rectify_or_remove(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:
    md = tokens("miit")
    one = await record(client, md, action("n1", app("com.late.one"), NOTIFY))
    two = await record(client, md, action("n2", app("com.late.two"), NOTIFY))
    await sweep_marks(client, md, clock, 8, [one.site.name, two.site.name])
    assert await overdue(client, md) == ["com.late.one", "com.late.two"]

    confirmed = await record(client, md, action("c1", app("com.late.one"), CONFIRM))
    assert confirmed.site.status == pb.SITE_STATUS_RECTIFIED
    assert not confirmed.site.HasField("notice_due_time")
    # Removal is a deliberate action, not something the sweep does.
    got = await client.get_site(pb.GetSiteRequest(name=two.site.name), metadata=md)
    assert got.site.status == pb.SITE_STATUS_OVERDUE
    removed = await record(client, md, action("r2", app("com.late.two"), REMOVE))
    assert removed.site.status == pb.SITE_STATUS_REMOVED
    assert await overdue(client, md) == []
    status = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_SITE_STATUS, group_by=[common_pb2.DIMENSION_ACTION]
        ),
        metadata=md,
    )
    assert [(x.action, x.count) for x in status.rows] == [("rectified", 1), ("removed", 1)]
    apps = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_APP_ACTIONS,
            filter=common_pb2.StatsFilter(actions=["remove_from_stores"]),
        ),
        metadata=md,
    )
    assert (apps.total.count, apps.total.distinct_subjects) == (1, 1)


async def test_overdue_before_the_sweep_runs(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:
    """The list answers from the due time itself; a confirmation then works the same."""
    md = tokens("miit")
    r = await record(client, md, action("n", app("com.quick"), NOTIFY))
    clock.advance(8 * 86_400)
    # Whether or not the sweep has run yet, the list has it and confirmation is allowed.
    assert await overdue(client, md) == ["com.quick"]
    c = await record(client, md, action("c", app("com.quick"), CONFIRM))
    assert c.site.status == pb.SITE_STATUS_RECTIFIED and c.site.name == r.site.name
    assert await overdue(client, md) == []


async def test_retracting_the_confirmation_after_the_due_time(
    client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:
    """The notice is open again and already past due: the site is overdue at once."""
    md = tokens("miit")
    await record(client, md, action("n", app("com.undo"), NOTIFY))
    confirmed = await record(client, md, action("c", app("com.undo"), CONFIRM))
    clock.advance(8 * 86_400)
    assert await overdue(client, md) == []
    r = await client.retract_site_action(
        pb.RetractSiteActionRequest(request_id="x", name=confirmed.action.name, reason="not fixed"),
        metadata=md,
    )
    assert r.site.status == pb.SITE_STATUS_OVERDUE
    assert await overdue(client, md) == ["com.undo"]
    status = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_SITE_STATUS, group_by=[common_pb2.DIMENSION_ACTION]
        ),
        metadata=md,
    )
    assert [(x.action, x.count) for x in status.rows] == [("overdue", 1)]
