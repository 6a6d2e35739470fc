"""Sites and apps: canonical identity, status derived from actions, refused transitions that
write nothing, retraction, and the read RPCs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest

from netnet.client import NetNetError, SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common import audit
from services.common.config import reference
from services.common.context import Principal
from services.common.errors import Violations
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, apply_migrations
from services.sites.__main__ import SPEC
from services.sites.domain import ActionInput, validate_action
from services.sites.operations.sites import ACTION_CALLS
from services.sites.servicer import action_input
from tests.service.sites.helpers import (
    BAN,
    CLOSE,
    CONFIRM,
    NOTIFY,
    REMOVE,
    RESTORE,
    WEBSITE,
    action,
    app,
    record,
    snapshot,
    web,
)
from tests.support.rpc import HOUR_US, error_reason, expect_error
from tests.support.servers import START_US, Tokens

FAILED = grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "raw",
    [
        "www.example.com",
        "WWW.Example.COM",
        "https://WWW.Example.com:8080/a/b?c=d#e",
        "http://www.example.com",
        "//www.example.com/path",
        "www.example.com.",
        "  www.example.com  ",
        "ftp://user@www.example.com:21/",
    ],
)
async def test_website_identity_is_the_lowercase_host(
    client: SitesClient, tokens: Tokens, raw: str
) -> None:
    md = tokens("miit")
    first = await record(client, md, action("a1", web("www.example.com"), BAN))
    again = await record(client, md, action("a2", web(raw), CLOSE))
    assert again.site.name == first.site.name
    assert again.site.identifier == "www.example.com"
    assert again.site.kind == WEBSITE
    assert again.site.action_count == 2
    listed = (
        await client.list_sites(pb.ListSitesRequest(kind=WEBSITE, identifier=raw), metadata=md)
    ).response
    assert [s.name for s in listed.sites] == [first.site.name]


async def test_kind_is_part_of_the_identity(client: SitesClient, tokens: Tokens) -> None:
    """A website whose host reads like a package id is not that app; other hosts differ."""
    md = tokens("miit")
    as_app = await record(client, md, action("a1", app("com.example.app"), BAN))
    as_web = await record(client, md, action("a2", web("com.example.app"), BAN))
    other = await record(client, md, action("a3", web("example.com"), BAN))
    sub = await record(client, md, action("a4", web("m.example.com"), BAN))
    names = {as_app.site.name, as_web.site.name, other.site.name, sub.site.name}
    assert len(names) == 4
    assert as_app.site.kind == pb.SITE_KIND_APP and as_app.site.identifier == "com.example.app"
    listed = (
        await client.list_sites(pb.ListSitesRequest(kind=pb.SITE_KIND_APP), metadata=md)
    ).response
    assert [s.name for s in listed.sites] == [as_app.site.name]
    # Package ids keep their case: a different case is a different app.
    upper = await record(client, md, action("a5", app("com.Example.app"), BAN))
    assert upper.site.name not in names


async def test_status_follows_every_action(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    site = app("com.example.shop", display_name="Shop", operator_entity="Shop Ltd")
    steps = [
        (NOTIFY, pb.SITE_STATUS_NOTIFIED),
        (CONFIRM, pb.SITE_STATUS_RECTIFIED),
        (NOTIFY, pb.SITE_STATUS_NOTIFIED),
        (BAN, pb.SITE_STATUS_BANNED),
        (RESTORE, pb.SITE_STATUS_RESTORED),
        (CLOSE, pb.SITE_STATUS_CLOSED),
        (RESTORE, pb.SITE_STATUS_RESTORED),
        (REMOVE, pb.SITE_STATUS_REMOVED),
        (RESTORE, pb.SITE_STATUS_RESTORED),
        (NOTIFY, pb.SITE_STATUS_NOTIFIED),
        (BAN, pb.SITE_STATUS_BANNED),
        (CLOSE, pb.SITE_STATUS_CLOSED),  # another kind of shutdown on a banned site
    ]
    names = []
    for n, (act, status) in enumerate(steps):
        r = await record(client, md, action(f"s{n}", site, act))
        assert r.site.status == status, (n, act)
        assert r.site.action_count == n + 1
        assert r.action.action == act and r.action.site == r.site.name
        assert r.action.name.startswith(f"{r.site.name}/actions/")
        assert r.action.department == "miit" and r.action.actor == "tester"
        names.append(r.action.name)
        if status == pb.SITE_STATUS_NOTIFIED:
            assert r.site.notice_due_time.ToMicroseconds() == START_US + 7 * 86_400_000_000
            assert list(r.action.problems) == ["collects contacts without consent"]
        else:
            assert not r.site.HasField("notice_due_time")
    got = await client.get_site(pb.GetSiteRequest(name=r.site.name), metadata=md)
    assert got.site == r.site
    assert got.site.display_name == "Shop" and got.site.operator_entity == "Shop Ltd"
    listed = (
        await client.list_site_actions(
            pb.ListSiteActionsRequest(parent=r.site.name, page_size=5), metadata=md
        )
    ).response
    seen = [a.name for a in listed.actions]
    while listed.next_page_token:
        listed = (
            await client.list_site_actions(
                pb.ListSiteActionsRequest(
                    parent=r.site.name, page_size=5, page_token=listed.next_page_token
                ),
                metadata=md,
            )
        ).response
        seen += [a.name for a in listed.actions]
    assert seen == names


async def _ban(client: SitesClient, md: list[tuple[str, str]], site: pb.SiteRef) -> None:
    await record(client, md, action("setup-ban", site, BAN))


async def _notify_confirm(client: SitesClient, md: list[tuple[str, str]], site: pb.SiteRef) -> None:
    await record(client, md, action("setup-n", site, NOTIFY))
    await record(client, md, action("setup-c", site, CONFIRM))


async def _close(client: SitesClient, md: list[tuple[str, str]], site: pb.SiteRef) -> None:
    await record(client, md, action("setup-close", site, CLOSE))


async def _remove(client: SitesClient, md: list[tuple[str, str]], site: pb.SiteRef) -> None:
    await record(client, md, action("setup-rm", site, REMOVE))


async def _seen(client: SitesClient, md: list[tuple[str, str]], site: pb.SiteRef) -> None:
    """The site exists (active) through a content disposition only."""
    d = pb.DispositionInput(
        request_id="setup-d",
        site=site,
        locator="https://x/1",
        content_sha256="0" * 64,
        category="obscene",
        measure=pb.MEASURE_DELETE,
        handler=pb.HANDLER_DIRECT,
        department="miit",
    )
    await client.record_disposition(pb.RecordDispositionRequest(disposition=d), metadata=md)


@pytest.mark.parametrize(
    ("setup", "act", "reason"),
    [
        (None, CONFIRM, "NO_OPEN_NOTICE"),  # never heard of: not even created
        (None, RESTORE, "NOTHING_TO_RESTORE"),
        (_seen, CONFIRM, "NO_OPEN_NOTICE"),
        (_seen, RESTORE, "NOTHING_TO_RESTORE"),
        (_notify_confirm, CONFIRM, "NO_OPEN_NOTICE"),  # confirmed twice
        (_notify_confirm, RESTORE, "NOTHING_TO_RESTORE"),
        (_ban, BAN, "ALREADY_DONE"),
        (_close, CLOSE, "ALREADY_DONE"),
        (_remove, REMOVE, "ALREADY_DONE"),
        (_ban, NOTIFY, "SITE_SHUT"),
        (_close, NOTIFY, "SITE_SHUT"),
        (_ban, CONFIRM, "NO_OPEN_NOTICE"),
    ],
)
async def test_nonsense_transitions_are_refused_and_write_nothing(
    client: SitesClient,
    tokens: Tokens,
    setup,
    act,
    reason,  # type: ignore[no-untyped-def]
) -> None:
    md = tokens("miit")
    site = app("com.example.refused")
    if setup is not None:
        await setup(client, md, site)
    before = await snapshot(client, tokens)
    err = await expect_error(record(client, md, action("bad", site, act)), FAILED)
    assert error_reason(err) == reason
    assert await snapshot(client, tokens) == before
    if setup is None:
        assert before.sites == ()


async def test_a_refused_request_id_stays_free(client: SitesClient, tokens: Tokens) -> None:
    """The refusal stores nothing under the request id: the same request succeeds later."""
    md = tokens("miit")
    site = app("com.example.later")
    confirm = action("confirm-1", site, CONFIRM)
    await expect_error(record(client, md, confirm), FAILED)
    await record(client, md, action("notify-1", site, NOTIFY))
    r = await record(client, md, confirm)
    assert not r.duplicate and r.site.status == pb.SITE_STATUS_RECTIFIED
    assert r.site.action_count == 2


async def test_actions_out_of_effective_order_are_folded_in_time_order(
    client: SitesClient, tokens: Tokens
) -> None:
    md = tokens("miit")
    site = app("com.example.late")
    ban = await record(client, md, action("ban", site, BAN, effective_us=START_US - 1 * HOUR_US))
    # A notice effective before the ban, learned of later: the site is still banned.
    late = await record(
        client, md, action("notice", site, NOTIFY, effective_us=START_US - 5 * HOUR_US)
    )
    assert late.site.status == pb.SITE_STATUS_BANNED
    assert late.site.action_count == 2
    assert late.site.first_action_time.ToMicroseconds() == START_US - 5 * HOUR_US
    assert late.site.last_action_time.ToMicroseconds() == START_US - 1 * HOUR_US
    # A restore effective before the ban would leave history nonsense: refused, nothing written.
    before = await snapshot(client, tokens)
    err = await expect_error(
        record(client, md, action("restore", site, RESTORE, effective_us=START_US - 2 * HOUR_US)),
        FAILED,
    )
    assert error_reason(err) == "NOTHING_TO_RESTORE"
    assert await snapshot(client, tokens) == before
    # After the ban, a restore is fine.
    ok = await record(client, md, action("restore2", site, RESTORE))
    assert ok.site.status == pb.SITE_STATUS_RESTORED
    assert ban.site.name == ok.site.name


async def test_retract_restates_status_and_stats(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    site = app("com.example.oops")
    await record(client, md, action("n", site, NOTIFY))
    ban = await record(client, md, action("b", site, BAN))
    assert ban.site.status == pb.SITE_STATUS_BANNED
    by_action = [common_pb2.DIMENSION_ACTION]
    r = await client.retract_site_action(
        pb.RetractSiteActionRequest(request_id="r1", name=ban.action.name, reason="wrong app"),
        metadata=md,
    )
    assert r.site.status == pb.SITE_STATUS_NOTIFIED
    assert r.site.action_count == 1
    assert r.site.notice_due_time.ToMicroseconds() == START_US + 7 * 86_400_000_000
    assert r.action.retracted and r.action.retract_reason == "wrong app"
    assert r.action.retracted_by == "tester"
    assert r.action.retract_time.ToMicroseconds() == START_US
    listed = (
        await client.list_site_actions(pb.ListSiteActionsRequest(parent=ban.site.name), metadata=md)
    ).response
    assert [(a.action, a.retracted) for a in listed.actions] == [(NOTIFY, False), (BAN, True)]
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS, group_by=by_action),
        metadata=md,
    )
    assert [(x.action, x.count, x.distinct_subjects) for x in stats.rows] == [
        ("notify_rectification", 1, 1)
    ]
    status = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_STATUS, group_by=by_action),
        metadata=md,
    )
    assert [(x.action, x.count) for x in status.rows] == [("notified", 1)]

    # Retracting it again is refused; retracting the notice too leaves an active site.
    err = await expect_error(
        client.retract_site_action(
            pb.RetractSiteActionRequest(request_id="r2", name=ban.action.name, reason="again"),
            metadata=md,
        ),
        FAILED,
    )
    assert error_reason(err) == "ALREADY_RETRACTED"
    notice = listed.actions[0]
    r2 = await client.retract_site_action(
        pb.RetractSiteActionRequest(request_id="r3", name=notice.name, reason="wrong app"),
        metadata=md,
    )
    assert r2.site.status == pb.SITE_STATUS_ACTIVE and r2.site.action_count == 0
    assert not r2.site.HasField("notice_due_time")
    total = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_ACTIONS), metadata=md
    )
    assert (total.total.count, total.total.distinct_subjects) == (0, 0)


async def test_retract_refused_when_a_later_action_depends_on_it(
    client: SitesClient, tokens: Tokens
) -> None:
    md = tokens("miit")
    site = app("com.example.depends")
    notice = await record(client, md, action("n", site, NOTIFY))
    await record(client, md, action("c", site, CONFIRM))
    before = await snapshot(client, tokens)
    err = await expect_error(
        client.retract_site_action(
            pb.RetractSiteActionRequest(request_id="r", name=notice.action.name, reason="x"),
            metadata=md,
        ),
        FAILED,
    )
    assert error_reason(err) == "LATER_ACTION_DEPENDS"
    assert await snapshot(client, tokens) == before


async def test_retract_needs_a_reason_and_an_existing_action(
    client: SitesClient, tokens: Tokens
) -> None:
    md = tokens("miit")
    r = await record(client, md, action("b", app("com.example.x"), BAN))
    before = await snapshot(client, tokens)
    err = await expect_error(
        client.retract_site_action(
            pb.RetractSiteActionRequest(request_id="r", name=r.action.name, reason=""),
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error_reason(err) == "INVALID_ARGUMENT"
    for name in (f"{r.site.name}/actions/999", "sites/999/actions/1"):
        await expect_error(
            client.retract_site_action(
                pb.RetractSiteActionRequest(request_id="r", name=name, reason="x"), metadata=md
            ),
            grpc.StatusCode.NOT_FOUND,
        )
    await expect_error(
        client.retract_site_action(
            pb.RetractSiteActionRequest(request_id="r", name="sites/x/actions/1", reason="x"),
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert await snapshot(client, tokens) == before


async def test_site_details_follow_the_latest_reference(
    client: SitesClient, tokens: Tokens
) -> None:
    md = tokens("miit")
    first = await record(
        client,
        md,
        action(
            "a1",
            web("shop.example.cn", display_name="Shop", icp_filing="ICP-123", region="330700"),
            BAN,
        ),
    )
    assert (first.site.display_name, first.site.icp_filing, first.site.region) == (
        "Shop",
        "ICP-123",
        "330700",
    )
    # Empty fields keep what is known; given ones replace it.
    later = await record(
        client,
        md,
        action("a2", web("shop.example.cn", operator_entity="Shop Ltd", region="110105"), RESTORE),
    )
    assert later.site.name == first.site.name
    assert (
        later.site.display_name,
        later.site.operator_entity,
        later.site.icp_filing,
        later.site.region,
    ) == ("Shop", "Shop Ltd", "ICP-123", "110105")
    assert later.site.etag != first.site.etag


async def test_get_batch_get_and_list_sites(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    cac = tokens("cac")
    a = await record(client, md, action("a", app("com.example.a"), BAN, campaign_id="qingfeng"))
    b = await record(client, cac, action("b", web("b.example.com"), CLOSE, "cac", category="fraud"))
    c = await record(client, md, action("c", app("com.example.c"), NOTIFY))
    got = await client.batch_get_sites(
        pb.BatchGetSitesRequest(names=[c.site.name, "sites/999", a.site.name]), metadata=md
    )
    assert [s.name for s in got.sites] == [c.site.name, a.site.name]
    assert list(got.not_found) == ["sites/999"]
    await expect_error(
        client.get_site(pb.GetSiteRequest(name="sites/999"), metadata=md), grpc.StatusCode.NOT_FOUND
    )
    await expect_error(
        client.get_site(pb.GetSiteRequest(name="apps/1"), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    async def names(**filters: object) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            page = (
                await client.list_sites(
                    pb.ListSitesRequest(page_size=1, page_token=token, **filters),  # type: ignore[arg-type]
                    metadata=md,
                )
            ).response
            out += [s.name for s in page.sites]
            token = page.next_page_token
            if not token:
                return out

    assert await names() == [a.site.name, b.site.name, c.site.name]
    assert await names(status=pb.SITE_STATUS_BANNED) == [a.site.name]
    assert await names(department="cac") == [b.site.name]
    assert await names(category="fraud") == [b.site.name]
    assert await names(campaign_id="qingfeng") == [a.site.name]
    assert await names(kind=pb.SITE_KIND_APP) == [a.site.name, c.site.name]
    assert await names(department="mps") == []
    # A page token belongs to its filter.
    page = (await client.list_sites(pb.ListSitesRequest(page_size=1), metadata=md)).response
    await expect_error(
        client.list_sites(
            pb.ListSitesRequest(page_size=1, page_token=page.next_page_token, department="cac"),
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_calls_in_flight_together_are_each_answered_and_audited(
    client: SitesClient, tokens: Tokens
) -> None:
    """Concurrent calls (written in batches when they wait together) are answered and audited
    one by one; a refused one among them leaves no trace."""
    md = tokens("miit")
    await record(client, md, action("ban-first", web("banned.example.cn", display_name="Old"), BAN))
    before = await snapshot(client, tokens)
    results = await asyncio.gather(
        *(record(client, md, action(f"b{i}", web(f"s{i}.example.cn"), BAN)) for i in range(10)),
        # Refused whether it comes before or after the restore: nothing to confirm.
        record(
            client, md, action("confirm", web("banned.example.cn", display_name="New"), CONFIRM)
        ),
        record(client, md, action("restore", web("banned.example.cn"), RESTORE)),
        return_exceptions=True,
    )
    assert all(isinstance(r, pb.RecordSiteActionResponse) for r in results[:10])
    assert isinstance(results[10], NetNetError)
    assert results[10].code == grpc.StatusCode.FAILED_PRECONDITION
    assert isinstance(results[11], pb.RecordSiteActionResponse)
    assert results[11].site.display_name == "Old"
    after = await snapshot(client, tokens)
    assert len(after.sites) == len(before.sites) + 10
    assert after.audit_entries == before.audit_entries + 11


async def test_calls_on_one_site_are_each_answered_with_the_site_right_after_them(
    client: SitesClient, tokens: Tokens
) -> None:
    """Calls on the same site written in one batch: each answer shows the site as its own
    action left it, not as the batch did."""
    md = tokens("miit")
    site = web("notices.example.cn")
    results = await asyncio.gather(
        *(record(client, md, action(f"n{i}", site, NOTIFY)) for i in range(12))
    )
    assert sorted(r.site.action_count for r in results) == list(range(1, 13))
    assert len({r.site.etag for r in results}) == 12
    assert all(r.site.departments == ["miit"] for r in results)
    again = await record(client, md, action("n0", site, NOTIFY))  # a retry: the site as it is
    assert again.duplicate and again.site.action_count == 12


def test_a_refused_call_in_a_batch_leaves_the_site_as_it_was(tmp_path: Path) -> None:
    """The batch form of RecordSiteAction, called directly: a refused record in the same batch
    as an accepted one on the same site does not give the site its names."""
    conn = sqlite3.connect(tmp_path / "sites.db", isolation_level=None, factory=SqliteConn)
    audit.bind_key(conn, b"audit key")
    assert SPEC.migrations is not None
    apply_migrations(conn, [("runtime", RUNTIME_MIGRATIONS), ("sites", SPEC.migrations)])
    principal = Principal("op", "miit", "", frozenset({"operator"}))

    def item(m: pb.SiteActionInput) -> tuple[Principal, ActionInput, int]:
        v = Violations()
        a = validate_action(action_input(m), START_US, v, {}, reference({}))
        assert not v.items
        return principal, a, START_US

    def run(*ms: pb.SiteActionInput) -> Sequence[tuple[bool, object]]:
        conn.execute("BEGIN")
        out = ACTION_CALLS(conn, [item(m) for m in ms])
        conn.execute("COMMIT")
        return out

    assert run(action("ban", web("banned.example.cn", display_name="Old"), BAN))[0][0]
    out = run(
        action("confirm", web("banned.example.cn", display_name="New"), CONFIRM),
        action("restore", web("banned.example.cn"), RESTORE),
    )
    assert [ok for ok, _ in out] == [False, True]
    (name,) = conn.execute("SELECT display_name FROM sites").fetchone()
    assert name == "Old"
