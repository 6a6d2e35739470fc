"""Bad input: INVALID_ARGUMENT with a google.rpc.BadRequest naming every bad field, and
nothing written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from tests.service.sites.helpers import (
    APP,
    BAN,
    NOTIFY,
    REMOVE,
    WEBSITE,
    action,
    app,
    disposition,
    snapshot,
    web,
)
from tests.support.rpc import DAY_US, Metadata, bad_fields, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def with_(m: Any, **changes: Any) -> Any:
    """A copy of message m with some fields set (nested ones as 'a__b')."""
    copy = type(m)()
    copy.CopyFrom(m)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = copy
        for p in parents:
            target = getattr(target, p)
        if isinstance(value, list):
            del getattr(target, last)[:]
            getattr(target, last).extend(value)
        elif value is None:
            target.ClearField(last)
        elif hasattr(value, "DESCRIPTOR"):
            getattr(target, last).CopyFrom(value)
        else:
            setattr(target, last, value)
    return copy


NOTICE = action("n1", app("com.example.app"), NOTIFY)
BANNED = action("b1", web("www.example.com"), BAN)

ACTION_CASES: list[tuple[str, pb.SiteActionInput, list[str]]] = [
    ("space in host", with_(BANNED, site__identifier="exa mple.com"), ["site.identifier"]),
    ("localhost", with_(BANNED, site__identifier="localhost"), ["site.identifier"]),
    ("hyphen-edged label", with_(BANNED, site__identifier="-bad-.com"), ["site.identifier"]),
    (
        "port that is not one",
        with_(BANNED, site__identifier="example.com:99999"),
        ["site.identifier"],
    ),
    ("empty host", with_(BANNED, site__identifier=""), ["site.identifier"]),
    ("scheme only", with_(BANNED, site__identifier="https://"), ["site.identifier"]),
    ("ip address", with_(BANNED, site__identifier="10.1.2.3"), ["site.identifier"]),
    ("empty label", with_(BANNED, site__identifier="a..example.com"), ["site.identifier"]),
    ("one-part package", with_(NOTICE, site__identifier="example"), ["site.identifier"]),
    (
        "package starts with digit",
        with_(NOTICE, site__identifier="1com.example"),
        ["site.identifier"],
    ),
    (
        "package with hyphen",
        with_(NOTICE, site__identifier="com.ex-ample.app"),
        ["site.identifier"],
    ),
    (
        "package as url",
        with_(NOTICE, site__identifier="https://com.example.app"),
        ["site.identifier"],
    ),
    ("no kind", with_(BANNED, site__kind=pb.SITE_KIND_UNSPECIFIED), ["site.kind"]),
    ("bad site region", with_(BANNED, site__region="12345"), ["site.region"]),
    ("bad icp filing", with_(BANNED, site__icp_filing="ICP 123!"), ["site.icp_filing"]),
    ("long display name", with_(BANNED, site__display_name="x" * 257), ["site.display_name"]),
    ("unknown category", with_(BANNED, category="spam"), ["category"]),
    ("no category", with_(BANNED, category=""), ["category"]),
    ("no department", with_(BANNED, department=""), ["department"]),
    ("no action", with_(BANNED, action=pb.SITE_ACTION_TYPE_UNSPECIFIED), ["action"]),
    ("removal of a website", with_(BANNED, action=REMOVE), ["action"]),
    ("no request id", with_(BANNED, request_id=""), ["request_id"]),
    ("long request id", with_(BANNED, request_id="r" * 129), ["request_id"]),
    ("special action alone", with_(BANNED, special_action="summer"), ["special_action"]),
    ("bad campaign", with_(BANNED, campaign_id="Net Net"), ["campaign_id"]),
    ("bad region", with_(BANNED, region="0100"), ["region"]),
    ("bad case", with_(BANNED, case="case/5"), ["case"]),
    (
        "future effective time",
        with_(BANNED, effective_time=ts(START_US + DAY_US)),
        ["effective_time"],
    ),
    (
        "ancient effective time",
        with_(BANNED, effective_time=ts(900_000_000_000_000)),
        ["effective_time"],
    ),
    ("due time in the past", with_(NOTICE, due_time=ts(START_US - 1)), ["due_time"]),
    ("due time now", with_(NOTICE, due_time=ts(START_US)), ["due_time"]),
    ("notice without due time", with_(NOTICE, due_time=None), ["due_time"]),
    ("notice without problems", with_(NOTICE, problems=[]), ["problems"]),
    ("empty problem", with_(NOTICE, problems=["ok", ""]), ["problems"]),
    ("51 problems", with_(NOTICE, problems=[f"p{i}" for i in range(51)]), ["problems"]),
    ("due time on a ban", with_(BANNED, due_time=ts(START_US + DAY_US)), ["due_time"]),
    ("problems on a ban", with_(BANNED, problems=["x"]), ["problems"]),
    (
        "everything at once",
        with_(NOTICE, site__identifier="exa mple", category="spam", due_time=ts(START_US - 1)),
        ["site.identifier", "category", "due_time"],
    ),
]


@pytest.mark.parametrize(
    ("bad", "fields"), [c[1:] for c in ACTION_CASES], ids=[c[0] for c in ACTION_CASES]
)
async def test_bad_site_action(
    client: SitesClient, tokens: Tokens, bad: pb.SiteActionInput, fields: list[str]
) -> None:
    md = tokens("miit")
    before = await snapshot(client, tokens)
    err = await expect_error(
        client.record_site_action(pb.RecordSiteActionRequest(action=bad), metadata=md), INVALID
    )
    assert sorted(bad_fields(err)) == sorted(f"action.{f}" for f in fields)
    assert error_reason(err) == "INVALID_ARGUMENT"
    assert await snapshot(client, tokens) == before
    # The same request with the field fixed is accepted (the case was bad for that reason).
    fixed = NOTICE if bad.site.kind == APP or bad.action == NOTIFY else BANNED
    r = await client.record_site_action(pb.RecordSiteActionRequest(action=fixed), metadata=md)
    assert r.action.name


GOOD_ITEM = disposition("d1", web("www.example.com"), "clip")

DISPOSITION_CASES: list[tuple[str, pb.DispositionInput, list[str]]] = [
    ("oversized locator", with_(GOOD_ITEM, locator="https://a/" + "x" * 2039), ["locator"]),
    ("no locator", with_(GOOD_ITEM, locator=""), ["locator"]),
    ("short sha256", with_(GOOD_ITEM, content_sha256="ab" * 31), ["content_sha256"]),
    ("non-hex sha256", with_(GOOD_ITEM, content_sha256="g" * 64), ["content_sha256"]),
    ("upper-case sha256", with_(GOOD_ITEM, content_sha256="AB" * 32), ["content_sha256"]),
    ("no sha256", with_(GOOD_ITEM, content_sha256=""), ["content_sha256"]),
    ("bad perceptual hash", with_(GOOD_ITEM, perceptual_hash="xyz"), ["perceptual_hash"]),
    ("no measure", with_(GOOD_ITEM, measure=pb.MEASURE_UNSPECIFIED), ["measure"]),
    ("no handler", with_(GOOD_ITEM, handler=pb.HANDLER_UNSPECIFIED), ["handler"]),
    ("unknown measure", with_(GOOD_ITEM, measure=42), ["measure"]),
    ("special action alone", with_(GOOD_ITEM, special_action="summer"), ["special_action"]),
    ("unknown category", with_(GOOD_ITEM, category="spam"), ["category"]),
    ("bad host", with_(GOOD_ITEM, site__identifier="localhost"), ["site.identifier"]),
    ("no request id", with_(GOOD_ITEM, request_id=""), ["request_id"]),
    (
        "measure and handler",
        with_(GOOD_ITEM, measure=pb.MEASURE_UNSPECIFIED, handler=pb.HANDLER_UNSPECIFIED),
        ["measure", "handler"],
    ),
]


@pytest.mark.parametrize(
    ("bad", "fields"), [c[1:] for c in DISPOSITION_CASES], ids=[c[0] for c in DISPOSITION_CASES]
)
async def test_bad_disposition(
    client: SitesClient, tokens: Tokens, bad: pb.DispositionInput, fields: list[str]
) -> None:
    md = tokens("cac")
    before = await snapshot(client, tokens)
    err = await expect_error(
        client.record_disposition(pb.RecordDispositionRequest(disposition=bad), metadata=md),
        INVALID,
    )
    assert sorted(bad_fields(err)) == sorted(f"disposition.{f}" for f in fields)
    assert await snapshot(client, tokens) == before
    # The locator limit is inclusive: exactly 2048 characters is fine.
    edge = with_(GOOD_ITEM, locator="https://a/" + "x" * 2038)
    assert len(edge.locator) == 2048
    await client.record_disposition(pb.RecordDispositionRequest(disposition=edge), metadata=md)


BATCH = pb.NoticeBatch(
    title="batch", department="miit", category="user_rights", due_time=ts(START_US + 7 * DAY_US)
)


def _create(
    b: pb.NoticeBatch, rid: str = "c1"
) -> Callable[[SitesClient, Metadata], Awaitable[Any]]:
    return lambda s, md: s.create_notice_batch(
        pb.CreateNoticeBatchRequest(request_id=rid, batch=b), metadata=md
    )


def _add(
    entries: list[pb.NoticeEntry], batch: str = "noticeBatches/1", rid: str = "e1"
) -> Callable[[SitesClient, Metadata], Awaitable[Any]]:
    return lambda s, md: s.add_notice_entries(
        pb.AddNoticeEntriesRequest(request_id=rid, batch=batch, entries=entries), metadata=md
    )


ENTRY = pb.NoticeEntry(site=app("com.example.ok"), problems=["p"])

BATCH_CASES: list[tuple[str, Callable[[SitesClient, Metadata], Awaitable[Any]], list[str]]] = [
    # A batch may be dated in the past (published with a past publish_time): a due time
    # in the past is refused when it is not after the publish time (test_batches).
    ("due time before 2000", _create(with_(BATCH, due_time=ts(1))), ["batch.due_time"]),
    ("unknown campaign", _create(with_(BATCH, campaign_id="nosuch")), ["batch.campaign_id"]),
    (
        "unknown special action",
        _create(with_(BATCH, campaign_id="netnet-2021", special_action="nosuch")),
        ["batch.special_action"],
    ),
    ("no due time", _create(with_(BATCH, due_time=None)), ["batch.due_time"]),
    ("no title", _create(with_(BATCH, title="")), ["batch.title"]),
    ("unknown category", _create(with_(BATCH, category="spam")), ["batch.category"]),
    (
        "special action alone",
        _create(with_(BATCH, special_action="summer")),
        ["batch.special_action"],
    ),
    ("bad campaign", _create(with_(BATCH, campaign_id="Bad Slug")), ["batch.campaign_id"]),
    ("no request id", _create(BATCH, rid=""), ["request_id"]),
    ("no entries", _add([]), ["entries"]),
    ("1001 entries", _add([ENTRY] * 1001), ["entries"]),
    (
        "bad entries",
        _add(
            [
                ENTRY,
                pb.NoticeEntry(site=web("exa mple.com"), problems=["p"]),
                pb.NoticeEntry(site=app("com.example.x")),
                pb.NoticeEntry(site=pb.SiteRef(identifier="com.example.y"), problems=["p"]),
            ]
        ),
        ["entries[1].site.identifier", "entries[2].problems", "entries[3].site.kind"],
    ),
    ("bad batch name", _add([ENTRY], batch="batches/1"), ["batch"]),
    ("no request id to add", _add([ENTRY], rid=""), ["request_id"]),
]


@pytest.mark.parametrize(
    ("call", "fields"), [c[1:] for c in BATCH_CASES], ids=[c[0] for c in BATCH_CASES]
)
async def test_bad_notice_batch_input(
    client: SitesClient, tokens: Tokens, call, fields: list[str]
) -> None:  # type: ignore[no-untyped-def]
    md = tokens("miit")
    await _create(BATCH, "existing")(client, md)  # noticeBatches/1, a draft
    before = await snapshot(client, tokens)
    err = await expect_error(call(client, md), INVALID)
    assert bad_fields(err) == fields
    assert await snapshot(client, tokens) == before


READ_CASES: list[tuple[str, Callable[[SitesClient, Metadata], Awaitable[Any]], str]] = [
    (
        "stats without subject",
        lambda s, md: s.get_stats(pb.GetStatsRequest(), metadata=md),
        "subject",
    ),
    (
        "stats period backwards",
        lambda s, md: s.get_stats(
            pb.GetStatsRequest(
                subject=pb.STATS_SUBJECT_CONTENT,
                filter=common_pb2.StatsFilter(start_time=ts(START_US), end_time=ts(START_US - 1)),
            ),
            metadata=md,
        ),
        "filter.end_time",
    ),
    (
        "stats repeated dimension",
        lambda s, md: s.get_stats(
            pb.GetStatsRequest(
                subject=pb.STATS_SUBJECT_CONTENT,
                group_by=[common_pb2.DIMENSION_DAY, common_pb2.DIMENSION_DAY],
            ),
            metadata=md,
        ),
        "group_by[1]",
    ),
    (
        "negative page size",
        lambda s, md: s.list_sites(pb.ListSitesRequest(page_size=-1), metadata=md),
        "page_size",
    ),
    (
        "forged page token",
        lambda s, md: s.list_sites(pb.ListSitesRequest(page_token="not-a-token"), metadata=md),
        "page_token",
    ),
    (
        "bad identifier filter",
        lambda s, md: s.list_sites(
            pb.ListSitesRequest(kind=WEBSITE, identifier="exa mple.com"), metadata=md
        ),
        "identifier",
    ),
    (
        "bad batch filter",
        lambda s, md: s.list_overdue_sites(
            pb.ListOverdueSitesRequest(notice_batch="noticeBatches/x"), metadata=md
        ),
        "notice_batch",
    ),
    (
        "bad parent",
        lambda s, md: s.list_site_actions(pb.ListSiteActionsRequest(parent="apps/1"), metadata=md),
        "parent",
    ),
    (
        "too many names",
        lambda s, md: s.batch_get_sites(
            pb.BatchGetSitesRequest(names=["sites/1"] * 1001), metadata=md
        ),
        "names",
    ),
    (
        "bad name in batch get",
        lambda s, md: s.batch_get_sites(
            pb.BatchGetSitesRequest(names=["sites/1", "sites/one"]), metadata=md
        ),
        "names[1]",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in READ_CASES], ids=[c[0] for c in READ_CASES]
)
async def test_bad_read_request(client: SitesClient, tokens: Tokens, call, field: str) -> None:  # type: ignore[no-untyped-def]
    err = await expect_error(call(client, tokens("office", "analyst")), INVALID)
    assert bad_fields(err) == [field]


async def test_bad_watch_position(client: SitesClient, tokens: Tokens) -> None:
    changes = client.watch_changes(pb.WatchChangesRequest(after_seq=-1), metadata=tokens("cac"))
    err = await expect_error(anext(changes), INVALID)
    assert bad_fields(err) == ["after_seq"]
