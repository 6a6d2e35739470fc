"""Notice batches: create, add entries, publish every entry's notice in one transaction or
none, get and list; who may touch a batch."""

from __future__ import annotations

import grpc

from netnet.client import NetNetError, SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from tests.service.sites.helpers import BAN, NOTIFY, RESTORE, action, app, record, snapshot, web
from tests.support.rpc import DAY_US, Metadata, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens

DRAFT, PUBLISHED = pb.NOTICE_BATCH_STATE_DRAFT, pb.NOTICE_BATCH_STATE_PUBLISHED
DUE = START_US + 15 * DAY_US


def batch(
    department: str = "miit",
    title: str = "Apps infringing user rights, batch 6",
    *,
    campaign_id: str = "netnet-2021",
    special_action: str = "",
    due_us: int = DUE,
    category: str = "user_rights",
) -> pb.NoticeBatch:
    return pb.NoticeBatch(
        title=title,
        department=department,
        category=category,
        campaign_id=campaign_id,
        special_action=special_action,
        due_time=ts(due_us),
    )


def entry(package: str, *problems: str) -> pb.NoticeEntry:
    return pb.NoticeEntry(site=app(package), problems=list(problems or ("over-collects data",)))


async def create(client: SitesClient, md: Metadata, rid: str, b: pb.NoticeBatch) -> pb.NoticeBatch:
    r = await client.create_notice_batch(
        pb.CreateNoticeBatchRequest(request_id=rid, batch=b), metadata=md
    )
    return r.batch


async def add(
    client: SitesClient, md: Metadata, rid: str, name: str, *entries: pb.NoticeEntry
) -> pb.NoticeBatch:
    r = await client.add_notice_entries(
        pb.AddNoticeEntriesRequest(request_id=rid, batch=name, entries=list(entries)),
        metadata=md,
    )
    return r.batch


def publish(client: SitesClient, md: Metadata, rid: str, name: str, etag: str = ""):  # type: ignore[no-untyped-def]
    return client.publish_notice_batch(
        pb.PublishNoticeBatchRequest(request_id=rid, name=name, etag=etag), metadata=md
    )


async def test_create_add_publish_get_list(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    b = await create(client, md, "c1", batch(special_action="summer-minors"))
    assert b.name.startswith("noticeBatches/") and b.state == DRAFT and b.entry_count == 0
    assert b.department == "miit" and b.create_time.ToMicroseconds() == START_US
    assert not b.HasField("publish_time")
    b = await add(
        client,
        md,
        "e1",
        b.name,
        entry("com.example.one", "collects contacts", "no privacy policy"),
        entry("com.example.two"),
    )
    assert b.entry_count == 2 and b.state == DRAFT
    b = await add(
        client,
        md,
        "e2",
        b.name,
        pb.NoticeEntry(site=web("https://Three.Example.com/x"), problems=["p"]),
    )
    assert b.entry_count == 3

    got = await client.get_notice_batch(pb.GetNoticeBatchRequest(name=b.name), metadata=md)
    assert got.batch == b
    assert [(e.site.identifier, list(e.problems)) for e in got.entries] == [
        ("com.example.one", ["collects contacts", "no privacy policy"]),
        ("com.example.two", ["over-collects data"]),
        ("three.example.com", ["p"]),
    ]
    # Nothing is notified until the batch is published.
    sites = (await client.list_sites(pb.ListSitesRequest(), metadata=md)).response
    assert list(sites.sites) == []

    published = (await publish(client, md, "p1", b.name, etag=b.etag)).batch
    assert published.state == PUBLISHED and published.publish_time.ToMicroseconds() == START_US
    assert published.entry_count == 3 and published.etag != b.etag

    sites = (await client.list_sites(pb.ListSitesRequest(), metadata=md)).response
    assert [(s.identifier, s.status) for s in sites.sites] == [
        ("com.example.one", pb.SITE_STATUS_NOTIFIED),
        ("com.example.two", pb.SITE_STATUS_NOTIFIED),
        ("three.example.com", pb.SITE_STATUS_NOTIFIED),
    ]
    for s in sites.sites:
        assert s.notice_due_time.ToMicroseconds() == DUE
        acts = (
            await client.list_site_actions(pb.ListSiteActionsRequest(parent=s.name), metadata=md)
        ).response
        (a,) = acts.actions
        assert (a.action, a.notice_batch, a.department, a.category) == (
            NOTIFY,
            b.name,
            "miit",
            "user_rights",
        )
        assert (a.campaign_id, a.special_action) == ("netnet-2021", "summer-minors")
        assert a.due_time.ToMicroseconds() == DUE
    one = next(s for s in sites.sites if s.identifier == "com.example.one")
    acts = (
        await client.list_site_actions(pb.ListSiteActionsRequest(parent=one.name), metadata=md)
    ).response
    assert list(acts.actions[0].problems) == ["collects contacts", "no privacy policy"]

    stats = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_NOTICE_BATCHES,
            group_by=[common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_ACTION],
        ),
        metadata=md,
    )
    assert [(r.department, r.action, r.count) for r in stats.rows] == [("miit", "published", 1)]
    notices = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_SITE_ACTIONS,
            filter=common_pb2.StatsFilter(actions=["notify_rectification"]),
        ),
        metadata=md,
    )
    assert (notices.total.count, notices.total.distinct_subjects) == (3, 3)


async def test_list_batches_by_department_and_campaign(client: SitesClient, tokens: Tokens) -> None:
    miit, cac = tokens("miit"), tokens("cac")
    b1 = await create(client, miit, "c1", batch())
    b2 = await create(client, cac, "c2", batch("cac", campaign_id="qingfeng"))
    b3 = await create(client, miit, "c3", batch(campaign_id="qingfeng"))

    async def names(**filters: str) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            page = (
                await client.list_notice_batches(
                    pb.ListNoticeBatchesRequest(page_size=1, page_token=token, **filters),
                    metadata=miit,
                )
            ).response
            out += [b.name for b in page.batches]
            token = page.next_page_token
            if not token:
                return out

    assert await names() == [b1.name, b2.name, b3.name]
    assert await names(department="miit") == [b1.name, b3.name]
    assert await names(campaign_id="qingfeng") == [b2.name, b3.name]
    assert await names(department="cac", campaign_id="netnet-2021") == []


async def test_publish_refused_half_way_records_nothing(
    client: SitesClient, tokens: Tokens
) -> None:
    """Entry 3 of 5 is a banned app: FAILED_PRECONDITION, no notices, batch still DRAFT."""
    md = tokens("miit")
    await record(client, md, action("ban", app("com.example.c"), BAN))
    b = await create(client, md, "c1", batch())
    b = await add(
        client,
        md,
        "e1",
        b.name,
        *(entry(f"com.example.{x}") for x in "abcde"),
    )
    before = await snapshot(client, tokens)
    err = await expect_error(publish(client, md, "p1", b.name), grpc.StatusCode.FAILED_PRECONDITION)
    assert error_reason(err) == "ENTRY_REFUSED"
    assert "banned" in (err.message or "")
    assert await snapshot(client, tokens) == before
    got = await client.get_notice_batch(pb.GetNoticeBatchRequest(name=b.name), metadata=md)
    assert got.batch.state == DRAFT and got.batch == b
    sites = (await client.list_sites(pb.ListSitesRequest(), metadata=md)).response
    assert [s.identifier for s in sites.sites] == ["com.example.c"]  # no site was created
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_NOTICE_BATCHES), metadata=md
    )
    assert stats.total.count == 0

    # Once the app is restored, the very same publish request goes through for all five.
    await record(client, md, action("restore", app("com.example.c"), RESTORE))
    done = await publish(client, md, "p1", b.name)
    assert done.batch.state == PUBLISHED
    sites = (
        await client.list_sites(pb.ListSitesRequest(status=pb.SITE_STATUS_NOTIFIED), metadata=md)
    ).response
    assert sorted(s.identifier for s in sites.sites) == [f"com.example.{x}" for x in "abcde"]


async def test_published_batch_is_final(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    b = await create(client, md, "c1", batch())
    b = await add(client, md, "e1", b.name, entry("com.example.a"))
    first = await publish(client, md, "p1", b.name)
    # The same request again is answered the same, and records nothing more.
    again = await publish(client, md, "p1", b.name)
    assert again == first
    before = await snapshot(client, tokens)
    err = await expect_error(publish(client, md, "p2", b.name), grpc.StatusCode.FAILED_PRECONDITION)
    assert error_reason(err) == "BATCH_PUBLISHED"
    err = await expect_error(
        add(client, md, "e2", b.name, entry("com.example.b")), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error_reason(err) == "BATCH_PUBLISHED"
    assert await snapshot(client, tokens) == before
    sites = (await client.list_sites(pb.ListSitesRequest(), metadata=md)).response
    assert [s.action_count for s in sites.sites] == [1]


async def test_publish_refusals_write_nothing(client: SitesClient, tokens: Tokens, clock) -> None:  # type: ignore[no-untyped-def]
    md = tokens("miit")
    empty = await create(client, md, "c0", batch())
    b = await create(client, md, "c1", batch(due_us=START_US + 2 * DAY_US))
    stale = b.etag
    b = await add(client, md, "e1", b.name, entry("com.example.a"))
    before = await snapshot(client, tokens)

    err = await expect_error(
        publish(client, md, "p0", empty.name), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error_reason(err) == "EMPTY_BATCH"
    err = await expect_error(publish(client, md, "p1", b.name, etag=stale), grpc.StatusCode.ABORTED)
    assert error_reason(err) == "ETAG_MISMATCH"
    await expect_error(publish(client, md, "p2", "noticeBatches/999"), grpc.StatusCode.NOT_FOUND)
    await expect_error(publish(client, md, "p3", "batches/1"), grpc.StatusCode.INVALID_ARGUMENT)
    clock.advance(3 * 86_400)
    err = await expect_error(publish(client, md, "p4", b.name), grpc.StatusCode.FAILED_PRECONDITION)
    assert error_reason(err) == "DUE_TIME_PASSED"
    assert await snapshot(client, tokens) == before


async def test_other_departments_cannot_touch_a_batch(client: SitesClient, tokens: Tokens) -> None:
    miit, cac = tokens("miit"), tokens("cac")
    b = await create(client, miit, "c1", batch())
    b = await add(client, miit, "e1", b.name, entry("com.example.a"))
    before = await snapshot(client, tokens)
    denied = grpc.StatusCode.PERMISSION_DENIED
    err = await expect_error(add(client, cac, "x1", b.name, entry("com.example.b")), denied)
    assert error_reason(err) == "WRONG_DEPARTMENT"
    err = await expect_error(publish(client, cac, "x2", b.name), denied)
    assert error_reason(err) == "WRONG_DEPARTMENT"
    # Creating a batch in another department's name, or with a read-only role.
    await expect_error(create(client, cac, "x3", batch("miit")), denied)
    analyst = tokens("miit", "analyst")
    await expect_error(create(client, analyst, "x4", batch()), denied)
    await expect_error(add(client, analyst, "x5", b.name, entry("com.example.b")), denied)
    await expect_error(publish(client, analyst, "x6", b.name), denied)
    assert await snapshot(client, tokens) == before
    # The office coordinates, but does not publish in miit's name either.
    await expect_error(publish(client, tokens("office", "admin"), "x7", b.name), denied)
    assert await snapshot(client, tokens) == before


async def test_replaying_another_departments_request_gets_no_answer(
    client: SitesClient, tokens: Tokens
) -> None:
    """A stored answer is no way around the department check: another department sending
    miit's very request (same request id) is refused, and learns nothing."""
    miit, cac = tokens("miit"), tokens("cac")
    b = await create(client, miit, "c1", batch())
    add_request = pb.AddNoticeEntriesRequest(
        request_id="e1", batch=b.name, entries=[entry("com.example.a")]
    )
    await client.add_notice_entries(add_request, metadata=miit)
    publish_request = pb.PublishNoticeBatchRequest(request_id="p1", name=b.name)
    await client.publish_notice_batch(publish_request, metadata=miit)
    before = await snapshot(client, tokens)
    for call in (
        client.add_notice_entries(add_request, metadata=cac),
        client.publish_notice_batch(publish_request, metadata=cac),
    ):
        try:
            answer = await call
        except NetNetError as e:
            assert e.code in (
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INVALID_ARGUMENT,  # the request id is miit's
            ), e
        else:
            raise AssertionError(f"another department got miit's answer: {answer}")
    assert await snapshot(client, tokens) == before


async def test_create_batch_is_idempotent(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    first = await create(client, md, "c1", batch())
    again = await create(client, md, "c1", batch())
    assert again == first
    listed = (await client.list_notice_batches(pb.ListNoticeBatchesRequest(), metadata=md)).response
    assert [x.name for x in listed.batches] == [first.name]
    before = await snapshot(client, tokens)
    err = await expect_error(
        create(client, md, "c1", batch(title="another")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert error_reason(err) == "REQUEST_ID_REUSED"
    assert await snapshot(client, tokens) == before


async def test_the_same_app_twice_in_a_batch(client: SitesClient, tokens: Tokens) -> None:
    """Two entries for one app: two notices on it, in entry order; the site stays notified."""
    md = tokens("miit")
    b = await create(client, md, "c1", batch())
    await add(
        client, md, "e1", b.name, entry("com.example.a", "first"), entry("com.example.a", "second")
    )
    await publish(client, md, "p1", b.name)
    sites = (await client.list_sites(pb.ListSitesRequest(), metadata=md)).response
    (site,) = sites.sites
    assert site.status == pb.SITE_STATUS_NOTIFIED and site.action_count == 2
    acts = (
        await client.list_site_actions(pb.ListSiteActionsRequest(parent=site.name), metadata=md)
    ).response
    assert [list(a.problems) for a in acts.actions] == [["first"], ["second"]]
