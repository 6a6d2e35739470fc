"""Builders and checks shared by the sites service tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from tests.support.rpc import DAY_US, Metadata, sha, ts
from tests.support.servers import START_US

if TYPE_CHECKING:
    from tests.support.servers import Tokens
else:
    Tokens = Any

WEBSITE, APP = pb.SITE_KIND_WEBSITE, pb.SITE_KIND_APP
NOTIFY = pb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION
CONFIRM = pb.SITE_ACTION_TYPE_CONFIRM_RECTIFIED
BAN = pb.SITE_ACTION_TYPE_BAN
CLOSE = pb.SITE_ACTION_TYPE_CLOSE
REMOVE = pb.SITE_ACTION_TYPE_REMOVE_FROM_STORES
RESTORE = pb.SITE_ACTION_TYPE_RESTORE
ACTION_NAMES = {
    NOTIFY: "notify_rectification",
    CONFIRM: "confirm_rectified",
    BAN: "ban",
    CLOSE: "close",
    REMOVE: "remove_from_stores",
    RESTORE: "restore",
}
STATUS_NAMES = {
    pb.SITE_STATUS_ACTIVE: "active",
    pb.SITE_STATUS_NOTIFIED: "notified",
    pb.SITE_STATUS_RECTIFIED: "rectified",
    pb.SITE_STATUS_OVERDUE: "overdue",
    pb.SITE_STATUS_BANNED: "banned",
    pb.SITE_STATUS_CLOSED: "closed",
    pb.SITE_STATUS_REMOVED: "removed",
    pb.SITE_STATUS_RESTORED: "restored",
}
CONTENT_ACTIONS = {
    (pb.HANDLER_DIRECT, pb.MEASURE_DELETE): "direct:delete",
    (pb.HANDLER_DIRECT, pb.MEASURE_BLOCK): "direct:block",
    (pb.HANDLER_DIRECT, pb.MEASURE_DOWN_RANK): "direct:down_rank",
    (pb.HANDLER_DIRECT, pb.MEASURE_LABEL): "direct:label",
    (pb.HANDLER_PLATFORM, pb.MEASURE_DELETE): "platform:delete",
    (pb.HANDLER_PLATFORM, pb.MEASURE_BLOCK): "platform:block",
    (pb.HANDLER_PLATFORM, pb.MEASURE_DOWN_RANK): "platform:down_rank",
    (pb.HANDLER_PLATFORM, pb.MEASURE_LABEL): "platform:label",
}

__all__ = [
    "ACTION_NAMES",
    "APP",
    "BAN",
    "CLOSE",
    "CONFIRM",
    "CONTENT_ACTIONS",
    "NOTIFY",
    "REMOVE",
    "RESTORE",
    "STATUS_NAMES",
    "WEBSITE",
    "Snapshot",
    "action",
    "app",
    "disposition",
    "import_stream",
    "next_event",
    "record",
    "snapshot",
    "wait_for_event",
    "web",
]


def web(identifier: str, **fields: str) -> pb.SiteRef:
    """A website by host (or URL)."""
    return pb.SiteRef(kind=WEBSITE, identifier=identifier, **fields)


def app(identifier: str, **fields: str) -> pb.SiteRef:
    """An app by package id."""
    return pb.SiteRef(kind=APP, identifier=identifier, **fields)


def action(
    request_id: str,
    site: pb.SiteRef,
    act: pb.SiteActionType.ValueType,
    department: str = "miit",
    *,
    category: str = "user_rights",
    region: str = "",
    campaign_id: str = "",
    special_action: str = "",
    case: str = "",
    effective_us: int | None = None,
    due_us: int | None = None,
    problems: Iterable[str] | None = None,
) -> pb.SiteActionInput:
    """A site action; a notice gets a due time a week ahead and one problem unless given."""
    m = pb.SiteActionInput(
        request_id=request_id,
        site=site,
        action=act,
        category=category,
        department=department,
        region=region,
        campaign_id=campaign_id,
        special_action=special_action,
        case=case,
    )
    if act == NOTIFY:
        m.due_time.CopyFrom(ts(due_us if due_us is not None else START_US + 7 * DAY_US))
        m.problems.extend(["collects contacts without consent"] if problems is None else problems)
    else:
        if due_us is not None:
            m.due_time.CopyFrom(ts(due_us))
        if problems is not None:
            m.problems.extend(problems)
    if effective_us is not None:
        m.effective_time.CopyFrom(ts(effective_us))
    return m


async def record(
    client: SitesClient, md: Metadata, a: pb.SiteActionInput
) -> pb.RecordSiteActionResponse:
    return await client.record_site_action(pb.RecordSiteActionRequest(action=a), metadata=md)


def disposition(
    request_id: str,
    site: pb.SiteRef,
    content: str = "",
    department: str = "cac",
    *,
    measure: pb.Measure.ValueType = pb.MEASURE_DELETE,
    handler: pb.Handler.ValueType = pb.HANDLER_DIRECT,
    category: str = "obscene",
    locator: str = "",
    campaign_id: str = "",
    special_action: str = "",
    perceptual_hash: str = "",
    effective_us: int | None = None,
) -> pb.DispositionInput:
    m = pb.DispositionInput(
        request_id=request_id,
        site=site,
        locator=locator or f"https://{site.identifier}/item/{request_id}",
        content_sha256=sha(content or request_id),
        perceptual_hash=perceptual_hash,
        category=category,
        measure=measure,
        handler=handler,
        department=department,
        campaign_id=campaign_id,
        special_action=special_action,
    )
    if effective_us is not None:
        m.effective_time.CopyFrom(ts(effective_us))
    return m


async def import_stream(
    batches: Iterable[Iterable[pb.DispositionInput]],
) -> AsyncIterator[pb.ImportDispositionsRequest]:
    for batch in batches:
        yield pb.ImportDispositionsRequest(dispositions=list(batch))


async def next_event(
    events: AsyncIterator[pb.WatchChangesResponse], seconds: float = 5.0
) -> common_pb2.ChangeEvent:
    """The next event of a WatchChanges stream (bounded wait)."""
    msg = await asyncio.wait_for(anext(events, None), seconds)
    assert isinstance(msg, pb.WatchChangesResponse), f"stream ended: {msg!r}"
    return msg.event


async def wait_for_event(
    events: AsyncIterator[pb.WatchChangesResponse],
    resource: str,
    kind: common_pb2.ChangeKind.ValueType,
    seconds: float = 5.0,
) -> tuple[common_pb2.ChangeEvent, list[common_pb2.ChangeEvent]]:
    """Read a WatchChanges stream until the event (resource, kind); returns it and those
    before."""
    seen: list[common_pb2.ChangeEvent] = []

    async def until() -> common_pb2.ChangeEvent:
        while True:
            event = await next_event(events, seconds)
            if event.resource == resource and event.kind == kind:
                return event
            seen.append(event)

    return await asyncio.wait_for(until(), seconds), seen


@dataclass(frozen=True)
class Snapshot:
    """What the service holds, seen through its API: any write changes some part of it."""

    sites: tuple[tuple[str, int, int, str, str, str], ...]
    actions: tuple[tuple[str, bool], ...]
    batches: tuple[tuple[str, int, int, str], ...]
    stats: tuple[tuple[int, int], ...]  # (count, distinct) per subject
    audit_entries: int
    audit_head: str


async def snapshot(client: SitesClient, tokens: Tokens) -> Snapshot:
    md = tokens("office", "auditor", "analyst")
    sites = await (await client.list_sites(page_size=1000, metadata=md)).all()
    actions: list[tuple[str, bool]] = []
    for s in sites:
        listed = await client.list_site_actions(parent=s.name, page_size=1000, metadata=md)
        actions += [(a.name, a.retracted) async for a in listed]
    batches = await (await client.list_notice_batches(page_size=1000, metadata=md)).all()
    stats: list[tuple[int, int]] = []
    for subject in (
        pb.STATS_SUBJECT_SITE_ACTIONS,
        pb.STATS_SUBJECT_CONTENT,
        pb.STATS_SUBJECT_NOTICE_BATCHES,
        pb.STATS_SUBJECT_SITE_STATUS,
    ):
        r = await client.get_stats(pb.GetStatsRequest(subject=subject), metadata=md)
        stats.append((r.total.count, r.total.distinct_subjects))
    verification = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=md)
    ).verification
    assert verification.ok, verification.problem
    entries = await (await client.list_audit_entries(page_size=1000, metadata=md)).all()
    return Snapshot(
        tuple((s.name, s.status, s.action_count, s.etag, s.display_name, s.region) for s in sites),
        tuple(actions),
        tuple((b.name, b.state, b.entry_count, b.etag) for b in batches),
        tuple(stats),
        verification.entries_checked,
        entries[-1].hash if entries else "",
    )
