"""netnet.sites.v1.SiteService: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from typing import Any

import grpc
import structlog
from google.protobuf.message import Message

from netnet.sites.v1 import sites_pb2 as pb
from netnet.sites.v1 import sites_pb2_grpc as pb_grpc
from services.common import campaigns as campaign_rules
from services.common import names, paging, rollups, standard
from services.common.auth import check_record_department, require_role, require_writer_for
from services.common.campaigns import Campaign
from services.common.catalogue import Catalogue, caller_metadata
from services.common.context import Principal
from services.common.convert import to_ts, to_us
from services.common.errors import FieldViolation, InvalidArgument, NotFound, Violations
from services.common.importer import Importer
from services.common.recording import Outcome, unary_calls
from services.common.reference import Reference, is_slug
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.keys import hash64
from services.common.storage.writer import BatchRun
from services.sites import operations, store
from services.sites.domain import (
    APP_ROLLUP,
    BAN_CLOSE_ROLLUP,
    BATCH_ROLLUP,
    CLOCK_SKEW_US,
    CONTENT_ROLLUP,
    EARLIEST_US,
    SITE_ROLLUP,
    STATUS_ROLLUP,
    ActionInput,
    Batch,
    DispositionInput,
    DispositionRow,
    Site,
    SiteActionRow,
    SiteRef,
    canonical_identifier,
    validate_action,
    validate_disposition,
    validate_problems,
    validate_ref,
)

WRITERS = ("operator", "admin", "service")
MAX_ITEM_RESULTS = 10_000
STATS_ROLLUPS = {
    pb.STATS_SUBJECT_SITE_ACTIONS: (SITE_ROLLUP, True),
    pb.STATS_SUBJECT_CONTENT: (CONTENT_ROLLUP, False),
    pb.STATS_SUBJECT_NOTICE_BATCHES: (BATCH_ROLLUP, False),
    pb.STATS_SUBJECT_SITE_STATUS: (STATUS_ROLLUP, False),
    pb.STATS_SUBJECT_APP_ACTIONS: (APP_ROLLUP, True),
    pb.STATS_SUBJECT_BANS_AND_CLOSURES: (BAN_CLOSE_ROLLUP, True),
}
log = structlog.get_logger()


def site_pb(s: Site, departments: list[str] | None = None) -> pb.Site:
    return pb.Site(
        departments=departments,
        name=f"sites/{s.id}",
        kind=s.kind,
        identifier=s.identifier,  # type: ignore[arg-type]
        display_name=s.display_name,
        operator_entity=s.operator_entity,
        icp_filing=s.icp_filing,
        region=s.region,
        status=s.status,  # type: ignore[arg-type]
        notice_due_time=to_ts(s.due_us),
        first_action_time=to_ts(s.first_action_us),
        last_action_time=to_ts(s.last_action_us),
        action_count=s.action_count,
        etag=str(s.revision),
    )


def action_pb(r: SiteActionRow) -> pb.SiteAction:
    return pb.SiteAction(
        name=operations.action_name(r.site_id, r.id),
        site=f"sites/{r.site_id}",
        action=r.action,
        category=r.category,
        department=r.department,  # type: ignore[arg-type]
        region=r.region,
        campaign_id=r.campaign_id,
        special_action=r.special_action,
        case=r.case,
        actor=r.actor,
        request_id=r.request_id,
        effective_time=to_ts(r.effective_us),
        due_time=to_ts(r.due_us),
        problems=r.problems,
        notice_batch=operations.batch_name(r.notice_batch_id) if r.notice_batch_id else "",
        record_time=to_ts(r.record_us),
        retracted=r.retracted_us is not None,
        retract_reason=r.retract_reason,
        retracted_by=r.retracted_by,
        retract_time=to_ts(r.retracted_us),
    )


def batch_pb(b: Batch) -> pb.NoticeBatch:
    return pb.NoticeBatch(
        name=operations.batch_name(b.id),
        title=b.title,
        department=b.department,
        category=b.category,
        campaign_id=b.campaign_id,
        special_action=b.special_action,
        due_time=to_ts(b.due_us),
        state=b.state,
        entry_count=b.entry_count,  # type: ignore[arg-type]
        create_time=to_ts(b.create_us),
        publish_time=to_ts(b.publish_us),
        etag=str(b.revision),
    )


def disposition_pb(d: DispositionRow) -> pb.Disposition:
    return pb.Disposition(
        name=operations.disposition_name(d.site_id, d.id),
        site=f"sites/{d.site_id}",
        locator=d.locator,
        content_sha256=d.content_sha256,
        perceptual_hash=d.perceptual_hash,
        category=d.category,
        measure=d.measure,
        handler=d.handler,  # type: ignore[arg-type]
        department=d.department,
        campaign_id=d.campaign_id,
        special_action=d.special_action,
        actor=d.actor,
        request_id=d.request_id,
        effective_time=to_ts(d.effective_us),
        record_time=to_ts(d.record_us),
    )


def site_ref(m: pb.SiteRef) -> SiteRef:
    return SiteRef(m.kind, m.identifier, m.display_name, m.operator_entity, m.icp_filing, m.region)


def ref_pb(r: SiteRef) -> pb.SiteRef:
    return pb.SiteRef(
        kind=r.kind,
        identifier=r.identifier,  # type: ignore[arg-type]
        display_name=r.display_name,
        operator_entity=r.operator_entity,
        icp_filing=r.icp_filing,
        region=r.region,
    )


def action_input(m: pb.SiteActionInput, prefix: str = "") -> ActionInput:
    return ActionInput(
        m.request_id,
        site_ref(m.site),
        m.action,
        m.category,
        m.department,
        m.region,
        m.campaign_id,
        m.special_action,
        m.case,
        to_us(m.effective_time, m.HasField("effective_time"), f"{prefix}effective_time"),
        to_us(m.due_time, m.HasField("due_time"), f"{prefix}due_time"),
        tuple(m.problems),
    )


def disposition_input(m: pb.DispositionInput, prefix: str = "") -> DispositionInput:
    return DispositionInput(
        m.request_id,
        site_ref(m.site),
        m.locator,
        m.content_sha256,
        m.perceptual_hash,
        m.category,
        m.measure,
        m.handler,
        m.department,
        m.campaign_id,
        m.special_action,
        to_us(m.effective_time, m.HasField("effective_time"), f"{prefix}effective_time"),
        hash64(m.SerializeToString(deterministic=True)),
    )


def _prepare_disposition(
    m: object,
    now: int,
    v: Violations,
    campaigns: Mapping[str, Campaign | None],
    principal: Principal,
    ref: Reference,
) -> DispositionInput:
    d = disposition_input(m)  # type: ignore[arg-type]
    check_record_department(principal, d.department, v)
    return validate_disposition(d, now, v, campaigns, ref)


def _request_id(request_id: str, v: Violations) -> None:
    v.check(0 < len(request_id) <= 128, "request_id", "required, at most 128 characters")


class SiteServicer(standard.StandardRpcs, pb_grpc.SiteServiceServicer):
    messages = pb
    stats = STATS_ROLLUPS

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.catalogue = catalogue

    async def RecordSiteAction(
        self, request: pb.RecordSiteActionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordSiteActionResponse:
        principal = require_writer_for(request.action.department)
        now = self.rt.clock.now_us()
        known = await self.catalogue.resolve([request.action.campaign_id], caller_metadata(context))
        v = Violations()
        a = validate_action(
            action_input(request.action, "action."),
            now,
            v,
            known,
            self.rt.settings.reference,
            "action.",
        )
        v.raise_if_any()
        # Calls of one principal waiting at the same moment are written as one batch.
        answer = await self.db.write_batched(ACTION_CALLS, (principal, a, now), principal)
        return answer  # type: ignore[no-any-return]

    async def RetractSiteAction(
        self, request: pb.RetractSiteActionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetractSiteActionResponse:
        principal = require_role(*WRITERS)
        v = Violations()
        _request_id(request.request_id, v)
        v.check(0 < len(request.reason) <= 512, "reason", "required, at most 512 characters")
        v.raise_if_any()
        site_id, action_id = names.parse(request.name, "name", "sites", "actions")
        now = self.rt.clock.now_us()

        def work(c: Conn) -> Message:
            row, site = operations.retract_action(
                c, principal, site_id, action_id, request.reason, request.request_id, now
            )
            deps = rollups.departments_of(c, SITE_ROLLUP, [site.id]).get(site.id)
            return pb.RetractSiteActionResponse(action=action_pb(row), site=site_pb(site, deps))

        return pb.RetractSiteActionResponse.FromString(
            await standard.once(self.rt, request, "RetractSiteAction", request.request_id, work)
        )

    async def GetSite(
        self, request: pb.GetSiteRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSiteResponse:
        (site_id,) = names.parse(request.name, "name", "sites")
        rows, deps = await self.db.read(
            lambda c: _with_departments(c, [s for s in [store.get_site(c, site_id)] if s])
        )
        if not rows:
            raise NotFound(f"{request.name} not found")
        return pb.GetSiteResponse(site=site_pb(rows[0], deps.get(site_id)))

    async def BatchGetSites(
        self, request: pb.BatchGetSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetSitesResponse:
        ids = standard.batch_ids(request.names, "sites")
        rows, deps = await self.db.read(
            lambda c: _with_departments(c, list(store.get_sites(c, ids).values()))
        )
        found, missing = standard.found_and_missing(request.names, ids, {s.id: s for s in rows})
        return pb.BatchGetSitesResponse(
            sites=[site_pb(s, deps.get(s.id)) for s in found], not_found=missing
        )

    async def ListSites(
        self, request: pb.ListSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSitesResponse:
        size = paging.page_size(request.page_size)
        identifier = ""
        if request.identifier:
            identifier = canonical_identifier(request.kind, request.identifier) or ""
            if not identifier:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "identifier", "must be a host or package id (and kind must be set)"
                        )
                    ]
                )
        marks = {
            k: val
            for k, val in (
                ("department", request.department),
                ("campaign_id", request.campaign_id),
                ("category", request.category),
            )
            if val
        }
        bound = [request.kind, request.status, identifier, marks]
        after = paging.decode(request.page_token, bound) or 0
        rows, deps = await self.db.read(
            lambda c: _with_departments(
                c,
                store.list_sites(
                    c, after, size + 1, request.kind, request.status, identifier, marks
                ),
            )
        )
        page, token = paging.cut(rows, size, bound)
        return pb.ListSitesResponse(
            sites=[site_pb(s, deps.get(s.id)) for s in page], next_page_token=token
        )

    async def ListSiteActions(
        self, request: pb.ListSiteActionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSiteActionsResponse:
        page, token = await standard.child_page(
            self.rt,
            request,
            "sites",
            lambda c, i: store.get_site(c, i) is not None,
            store.actions_of,
        )
        return pb.ListSiteActionsResponse(
            actions=[action_pb(r) for r in page], next_page_token=token
        )

    async def ListOverdueSites(
        self, request: pb.ListOverdueSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOverdueSitesResponse:
        size = paging.page_size(request.page_size)
        batch_id = (
            names.parse(request.notice_batch, "notice_batch", "noticeBatches")[0]
            if request.notice_batch
            else 0
        )
        bound = [request.department, batch_id]
        after = paging.decode(request.page_token, bound) or 0
        now = self.rt.clock.now_us()

        def read(
            c: Conn,
        ) -> tuple[list[tuple[Site, SiteActionRow]], dict[int, list[str]]]:
            rows = store.overdue(c, now, after, size + 1, request.department, batch_id)
            return rows, rollups.departments_of(c, SITE_ROLLUP, [s.id for s, _ in rows])

        rows, deps = await self.db.read(read)
        page, token = paging.cut(rows, size, bound, key=lambda r: r[0].id)
        return pb.ListOverdueSitesResponse(
            sites=[
                pb.OverdueSite(site=site_pb(s, deps.get(s.id)), notice=action_pb(a))
                for s, a in page
            ],
            next_page_token=token,
        )

    async def CreateNoticeBatch(
        self, request: pb.CreateNoticeBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateNoticeBatchResponse:
        b = request.batch
        principal = require_writer_for(b.department)
        now = self.rt.clock.now_us()
        v = Violations()
        _request_id(request.request_id, v)
        v.check(0 < len(b.title) <= 256, "batch.title", "required, at most 256 characters")
        v.check(
            b.category in self.rt.settings.reference.categories,
            "batch.category",
            "unknown category",
        )
        v.check(not b.campaign_id or is_slug(b.campaign_id), "batch.campaign_id", "must be a slug")
        v.check(
            not b.special_action or (is_slug(b.special_action) and bool(b.campaign_id)),
            "batch.special_action",
            "must be a slug, with a campaign_id",
        )
        due = to_us(b.due_time, b.HasField("due_time"), "batch.due_time")
        # A batch published with a past date may have its due time in the past too; the
        # publish refuses a due time not after the publish time.
        v.check(due is not None and due > EARLIEST_US, "batch.due_time", "required")
        known = await self.catalogue.resolve([b.campaign_id], caller_metadata(context))
        campaign_rules.check(v, known, b.campaign_id, b.special_action, None, "due_time", "batch.")
        v.raise_if_any()

        def work(c: Conn) -> Message:
            batch = operations.create_batch(
                c,
                principal,
                b.title,
                b.category,
                b.campaign_id,
                b.special_action,
                due or 0,
                request.request_id,
                now,
            )
            return pb.CreateNoticeBatchResponse(batch=batch_pb(batch))

        return pb.CreateNoticeBatchResponse.FromString(
            await standard.once(self.rt, request, "CreateNoticeBatch", request.request_id, work)
        )

    async def AddNoticeEntries(
        self, request: pb.AddNoticeEntriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddNoticeEntriesResponse:
        principal = require_role(*WRITERS)
        v = Violations()
        _request_id(request.request_id, v)
        v.check(0 < len(request.entries) <= 1000, "entries", "1 to 1000 entries required")
        entries = []
        for i, e in enumerate(request.entries):
            entries.append(
                (validate_ref(site_ref(e.site), v, f"entries[{i}].site."), tuple(e.problems))
            )
            validate_problems(tuple(e.problems), v, f"entries[{i}].problems")
        v.raise_if_any()
        (batch_id,) = names.parse(request.batch, "batch", "noticeBatches")
        now = self.rt.clock.now_us()

        def work(c: Conn) -> Message:
            batch = operations.add_entries(c, principal, batch_id, entries, request.request_id, now)
            return pb.AddNoticeEntriesResponse(batch=batch_pb(batch))

        return pb.AddNoticeEntriesResponse.FromString(
            await standard.once(self.rt, request, "AddNoticeEntries", request.request_id, work)
        )

    async def PublishNoticeBatch(
        self, request: pb.PublishNoticeBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishNoticeBatchResponse:
        principal = require_role(*WRITERS)
        v = Violations()
        _request_id(request.request_id, v)
        now = self.rt.clock.now_us()
        given = to_us(request.publish_time, request.HasField("publish_time"), "publish_time")
        publish = now if given is None else given
        v.check(
            EARLIEST_US <= publish <= now + CLOCK_SKEW_US,
            "publish_time",
            "must not lie in the future",
        )
        v.raise_if_any()
        (batch_id,) = names.parse(request.name, "name", "noticeBatches")
        stored = await self.db.read(lambda c: store.get_batch(c, batch_id))
        if stored is not None and stored.campaign_id:
            known = await self.catalogue.resolve([stored.campaign_id], caller_metadata(context))
            campaign_rules.check(
                v, known, stored.campaign_id, stored.special_action, publish, "publish_time"
            )
            v.raise_if_any()

        def work(c: Conn) -> Message:
            batch = operations.publish_batch(
                c, principal, batch_id, request.etag, request.request_id, now, publish
            )
            return pb.PublishNoticeBatchResponse(batch=batch_pb(batch))

        return pb.PublishNoticeBatchResponse.FromString(
            await standard.once(self.rt, request, "PublishNoticeBatch", request.request_id, work)
        )

    async def GetNoticeBatch(
        self, request: pb.GetNoticeBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetNoticeBatchResponse:
        (batch_id,) = names.parse(request.name, "name", "noticeBatches")

        def read(
            c: Conn,
        ) -> tuple[Batch | None, list[tuple[SiteRef, tuple[str, ...]]]]:
            return store.get_batch(c, batch_id), store.entries_of(c, batch_id)

        batch, entries = await self.db.read(read)
        if batch is None:
            raise NotFound(f"{request.name} not found")
        return pb.GetNoticeBatchResponse(
            batch=batch_pb(batch),
            entries=[pb.NoticeEntry(site=ref_pb(r), problems=p) for r, p in entries],
        )

    async def ListNoticeBatches(
        self, request: pb.ListNoticeBatchesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNoticeBatchesResponse:
        size = paging.page_size(request.page_size)
        bound = [request.department, request.campaign_id]
        after = paging.decode(request.page_token, bound) or 0
        rows = await self.db.read(
            lambda c: store.list_batches(
                c, after, size + 1, request.department, request.campaign_id
            )
        )
        page, token = paging.cut(rows, size, bound)
        return pb.ListNoticeBatchesResponse(
            batches=[batch_pb(b) for b in page], next_page_token=token
        )

    async def RecordDisposition(
        self, request: pb.RecordDispositionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordDispositionResponse:
        principal = require_writer_for(request.disposition.department)
        now = self.rt.clock.now_us()
        known = await self.catalogue.resolve(
            [request.disposition.campaign_id], caller_metadata(context)
        )
        v = Violations()
        d = validate_disposition(
            disposition_input(request.disposition, "disposition."),
            now,
            v,
            known,
            self.rt.settings.reference,
            "disposition.",
        )
        v.raise_if_any()
        answer = await self.db.write_batched(DISPOSITION_CALLS, (principal, d, now), principal)
        return answer  # type: ignore[no-any-return]

    async def ImportDispositions(
        self,
        request_iterator: AsyncIterator[pb.ImportDispositionsRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.ImportDispositionsResponse:
        principal: Principal = require_role(*WRITERS)
        md = caller_metadata(context)
        results: list[pb.ItemResult] = []

        def keep(result: object) -> None:
            for o in result.outcomes:  # type: ignore[attr-defined]
                if len(results) <= MAX_ITEM_RESULTS:
                    results.append(
                        pb.ItemResult(
                            index=o.index,
                            request_id=o.request_id,
                            name=o.name,
                            duplicate=o.duplicate,
                            field=o.field,
                            reason=o.reason,
                        )
                    )

        importer: Importer[pb.ImportDispositionsRequest, DispositionInput] = Importer(
            service="sites",
            clock=self.rt.clock,
            field="dispositions",
            campaigns=lambda records: self.catalogue.resolve(
                (r.campaign_id for r in records),  # type: ignore[attr-defined]
                md,
            ),
            prepare=partial(
                _prepare_disposition, principal=principal, ref=self.rt.settings.reference
            ),
            write=lambda items, now: self.db.write_in_steps(
                partial(
                    operations.import_dispositions, principal=principal, items=items, now_us=now
                )
            ),
            on_result=keep,
        )
        summary = await importer.run(request_iterator)
        if summary.accepted + summary.duplicates + summary.rejected > MAX_ITEM_RESULTS:
            results = []
        return pb.ImportDispositionsResponse(
            summary=summary, results=sorted(results, key=lambda r: r.index)
        )

    async def LookupContentHash(
        self, request: pb.LookupContentHashRequest, context: grpc.aio.ServicerContext
    ) -> pb.LookupContentHashResponse:
        v = Violations()
        sha, phash = request.content_sha256.lower(), request.perceptual_hash.lower()
        v.check(
            bool(sha) != bool(phash),
            "content_sha256",
            "give either content_sha256 or perceptual_hash",
        )
        v.check(not sha or len(sha) == 64, "content_sha256", "must be 64 hex digits")
        v.check(not phash or len(phash) == 16, "perceptual_hash", "must be 16 hex digits")
        v.raise_if_any()
        size = paging.page_size(request.page_size)
        bound = [sha, phash]
        after = paging.decode(request.page_token, bound) or 0

        def read(c: Conn) -> tuple[list[DispositionRow], list[str]]:
            return (
                store.by_content(c, sha, phash, after, size + 1),
                store.content_departments(c, sha, phash),
            )

        rows, departments = await self.db.read(read)
        page, token = paging.cut(rows, size, bound)
        return pb.LookupContentHashResponse(
            dispositions=[disposition_pb(d) for d in page],
            departments=departments,
            next_page_token=token,
        )


def _answered(calls: BatchRun, answer: Callable[[Conn, list[Outcome]], list[object]]) -> BatchRun:
    """A batch run of unary record calls whose accepted records are answered, all at once,
    by answer(conn, outcomes) in the writing transaction (no read after the write)."""

    def run(c: Conn, items: list[Any]) -> list[tuple[bool, Any]]:
        results = calls(c, items)
        answers = iter(answer(c, [o for ok, o in results if ok]))
        return [(True, next(answers)) if ok else (False, o) for ok, o in results]

    return run


def _action_answers(c: Conn, outcomes: list[Outcome]) -> list[object]:
    """Each action with its site as it stood right after it (a duplicate: as it stands now);
    three look-ups for the whole batch. The calls of a batch are in one department: a site's
    departments after the batch are those after any of its records."""
    rows = store.get_actions(c, [o.record_id for o in outcomes])
    sites = store.get_sites(c, [rows[o.record_id].site_id for o in outcomes if o.after is None])
    departments = rollups.departments_of(c, SITE_ROLLUP, [r.site_id for r in rows.values()])
    answers: list[object] = []
    for o in outcomes:
        row = rows[o.record_id]
        site = site_pb(o.after or sites[row.site_id], departments.get(row.site_id))
        answers.append(
            pb.RecordSiteActionResponse(action=action_pb(row), site=site, duplicate=o.duplicate)
        )
    return answers


def _disposition_answers(c: Conn, outcomes: list[Outcome]) -> list[object]:
    """Each disposition with how many others of its content there are (two look-ups for the
    whole batch)."""
    rows = store.get_dispositions(c, [o.record_id for o in outcomes])
    counts = store.count_by_content(c, [r.content_sha256 for r in rows.values()])
    return [
        pb.RecordDispositionResponse(
            disposition=disposition_pb(rows[o.record_id]),
            duplicate=o.duplicate,
            earlier_count=counts[rows[o.record_id].content_sha256] - 1,
        )
        for o in outcomes
    ]


# RecordSiteAction and RecordDisposition calls of one principal waiting at the same moment
# are written as one batch (Database.write_batched).
ACTION_CALLS = _answered(
    unary_calls(partial(operations.record_actions, strict=False, calls=True)), _action_answers
)
DISPOSITION_CALLS = _answered(
    unary_calls(operations.record_dispositions),
    _disposition_answers,
)


def _with_departments(c: Conn, sites: list[Site]) -> tuple[list[Site], dict[int, list[str]]]:
    return sites, rollups.departments_of(c, SITE_ROLLUP, [s.id for s in sites])


async def overdue_sweep(runtime: Runtime) -> None:
    """Background loop: mark past-due notices overdue (and emit their change events)."""
    while True:
        marked = await runtime.db.write(
            lambda c: operations.sweep_overdue(c, runtime.clock.now_us())
        )
        if marked:
            log.info("overdue sweep", marked=marked)
        if marked < operations.SWEEP_LIMIT:
            await asyncio.sleep(runtime.settings.overdue_sweep_seconds)


def register(server: grpc.aio.Server, runtime: Runtime) -> list[str]:
    catalogue = Catalogue(runtime.settings.cases_addr)
    runtime.on_stop.append(catalogue.close)
    pb_grpc.add_SiteServiceServicer_to_server(SiteServicer(runtime, catalogue), server)
    return [pb.DESCRIPTOR.services_by_name["SiteService"].full_name]
