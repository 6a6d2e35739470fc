"""netnet.sites.v1.SiteService: protobuf in, one use case call, protobuf out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from netnet.sites.v1 import sites_pb2 as pb
from netnet.sites.v1 import sites_pb2_grpc as pb_grpc
from services.common import standard
from services.common.catalogue import Catalogue, caller_metadata
from services.common.convert import to_ts, to_us
from services.common.hashing import hash64
from services.common.idempotency import Answered, Once
from services.common.importer import Importer
from services.common.recording import BatchResult
from services.common.server import Runtime
from services.sites.domain import (
    APP_ROLLUP,
    BAN_CLOSE_ROLLUP,
    BATCH_ROLLUP,
    CONTENT_ROLLUP,
    SITE_ROLLUP,
    STATUS_ROLLUP,
    ActionInput,
    Batch,
    DispositionInput,
    DispositionRow,
    Site,
    SiteActionRow,
    SiteRef,
)
from services.sites.operations import batches, dispositions, sites

MAX_ITEM_RESULTS = 10_000
STATS_ROLLUPS = {
    pb.STATS_SUBJECT_SITE_ACTIONS: (SITE_ROLLUP, True),
    pb.STATS_SUBJECT_CONTENT: (CONTENT_ROLLUP, False),
    pb.STATS_SUBJECT_NOTICE_BATCHES: (BATCH_ROLLUP, False),
    pb.STATS_SUBJECT_SITE_STATUS: (STATUS_ROLLUP, False),
    pb.STATS_SUBJECT_APP_ACTIONS: (APP_ROLLUP, True),
    pb.STATS_SUBJECT_BANS_AND_CLOSURES: (BAN_CLOSE_ROLLUP, True),
}


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
        name=sites.action_name(r.site_id, r.id),
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
        notice_batch=batches.batch_name(r.notice_batch_id) if r.notice_batch_id else "",
        record_time=to_ts(r.record_us),
        retracted=r.retracted_us is not None,
        retract_reason=r.retract_reason,
        retracted_by=r.retracted_by,
        retract_time=to_ts(r.retracted_us),
    )


def batch_pb(b: Batch) -> pb.NoticeBatch:
    return pb.NoticeBatch(
        name=batches.batch_name(b.id),
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
        name=dispositions.disposition_name(d.site_id, d.id),
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


def action_answer_pb(x: sites.ActionAnswer) -> pb.RecordSiteActionResponse:
    return pb.RecordSiteActionResponse(
        action=action_pb(x.action), site=site_pb(x.site, x.departments), duplicate=x.duplicate
    )


def retracted_pb(x: sites.ActionAnswer) -> pb.RetractSiteActionResponse:
    return pb.RetractSiteActionResponse(
        action=action_pb(x.action), site=site_pb(x.site, x.departments)
    )


def created_pb(b: Batch) -> pb.CreateNoticeBatchResponse:
    return pb.CreateNoticeBatchResponse(batch=batch_pb(b))


def entries_added_pb(b: Batch) -> pb.AddNoticeEntriesResponse:
    return pb.AddNoticeEntriesResponse(batch=batch_pb(b))


def published_pb(b: Batch) -> pb.PublishNoticeBatchResponse:
    return pb.PublishNoticeBatchResponse(batch=batch_pb(b))


def item_results(result: BatchResult) -> list[pb.ItemResult]:
    return [
        pb.ItemResult(
            index=o.index,
            request_id=o.request_id,
            name=o.name,
            duplicate=o.duplicate,
            field=o.field,
            reason=o.reason,
        )
        for o in result.outcomes
    ] + [
        pb.ItemResult(index=index, request_id=request_id, name=name)
        for index, request_id, name in result.written
    ]


class SiteServicer(standard.StandardRpcs, pb_grpc.SiteServiceServicer):
    messages = pb
    stats = STATS_ROLLUPS

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        self.rt = runtime
        self.sites = sites.Sites(runtime, catalogue)
        self.batches = batches.NoticeBatches(runtime, catalogue)
        self.dispositions = dispositions.Dispositions(runtime, catalogue)

    async def RecordSiteAction(
        self, request: pb.RecordSiteActionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordSiteActionResponse:
        a = action_input(request.action, "action.")
        return action_answer_pb(await self.sites.record(a, caller_metadata(context), "action."))

    @standard.idempotent(retracted_pb)
    async def RetractSiteAction(
        self, request: pb.RetractSiteActionRequest, context: grpc.aio.ServicerContext, once: Once
    ) -> Answered:
        return await self.sites.retract(request.name, request.reason, once)

    async def GetSite(
        self, request: pb.GetSiteRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSiteResponse:
        site, departments = await self.sites.get(request.name)
        return pb.GetSiteResponse(site=site_pb(site, departments))

    async def BatchGetSites(
        self, request: pb.BatchGetSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetSitesResponse:
        found, missing = await self.sites.batch_get(request.names)
        return pb.BatchGetSitesResponse(
            sites=[site_pb(s, deps) for s, deps in found], not_found=missing
        )

    async def ListSites(
        self, request: pb.ListSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSitesResponse:
        page, token = await self.sites.list_sites(
            request.page_size,
            request.page_token,
            request.kind,
            request.status,
            request.identifier,
            {
                "department": request.department,
                "campaign_id": request.campaign_id,
                "category": request.category,
            },
        )
        return pb.ListSitesResponse(
            sites=[site_pb(s, deps) for s, deps in page], next_page_token=token
        )

    async def ListSiteActions(
        self, request: pb.ListSiteActionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSiteActionsResponse:
        page, token = await self.sites.list_actions(
            request.parent, request.page_size, request.page_token, request.newest_first
        )
        return pb.ListSiteActionsResponse(
            actions=[action_pb(r) for r in page], next_page_token=token
        )

    async def ListOverdueSites(
        self, request: pb.ListOverdueSitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOverdueSitesResponse:
        page, token = await self.sites.list_overdue(
            request.page_size, request.page_token, request.department, request.notice_batch
        )
        return pb.ListOverdueSitesResponse(
            sites=[
                pb.OverdueSite(site=site_pb(o.site, o.departments), notice=action_pb(o.notice))
                for o in page
            ],
            next_page_token=token,
        )

    @standard.idempotent(created_pb)
    async def CreateNoticeBatch(
        self, request: pb.CreateNoticeBatchRequest, context: grpc.aio.ServicerContext, once: Once
    ) -> Answered:
        b = request.batch
        draft = batches.Draft(
            b.title,
            b.department,
            b.category,
            b.campaign_id,
            b.special_action,
            to_us(b.due_time, b.HasField("due_time"), "batch.due_time"),
        )
        return await self.batches.create(draft, caller_metadata(context), once)

    @standard.idempotent(entries_added_pb)
    async def AddNoticeEntries(
        self, request: pb.AddNoticeEntriesRequest, context: grpc.aio.ServicerContext, once: Once
    ) -> Answered:
        entries = [(site_ref(e.site), tuple(e.problems)) for e in request.entries]
        return await self.batches.add_entries(request.batch, entries, once)

    @standard.idempotent(published_pb)
    async def PublishNoticeBatch(
        self, request: pb.PublishNoticeBatchRequest, context: grpc.aio.ServicerContext, once: Once
    ) -> Answered:
        publish = to_us(request.publish_time, request.HasField("publish_time"), "publish_time")
        return await self.batches.publish(
            request.name, request.etag, publish, caller_metadata(context), once
        )

    async def GetNoticeBatch(
        self, request: pb.GetNoticeBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetNoticeBatchResponse:
        batch, entries = await self.batches.get(request.name)
        return pb.GetNoticeBatchResponse(
            batch=batch_pb(batch),
            entries=[pb.NoticeEntry(site=ref_pb(r), problems=p) for r, p in entries],
        )

    async def ListNoticeBatches(
        self, request: pb.ListNoticeBatchesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNoticeBatchesResponse:
        page, token = await self.batches.list_batches(
            request.page_size, request.page_token, request.department, request.campaign_id
        )
        return pb.ListNoticeBatchesResponse(
            batches=[batch_pb(b) for b in page], next_page_token=token
        )

    async def RecordDisposition(
        self, request: pb.RecordDispositionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordDispositionResponse:
        d = disposition_input(request.disposition, "disposition.")
        x = await self.dispositions.record(d, caller_metadata(context), "disposition.")
        return pb.RecordDispositionResponse(
            disposition=disposition_pb(x.disposition),
            duplicate=x.duplicate,
            earlier_count=x.earlier_count,
        )

    async def ImportDispositions(
        self,
        request_iterator: AsyncIterator[pb.ImportDispositionsRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.ImportDispositionsResponse:
        intake = self.dispositions.intake(caller_metadata(context))
        results: list[pb.ItemResult] = []

        def keep(result: BatchResult) -> None:
            if len(results) <= MAX_ITEM_RESULTS:
                results.extend(item_results(result)[: MAX_ITEM_RESULTS + 1 - len(results)])

        importer: Importer[pb.ImportDispositionsRequest, DispositionInput] = Importer(
            "sites", self.rt.clock, "dispositions", disposition_input, intake, on_result=keep
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
        page, departments, token = await self.dispositions.lookup(
            request.content_sha256, request.perceptual_hash, request.page_size, request.page_token
        )
        return pb.LookupContentHashResponse(
            dispositions=[disposition_pb(d) for d in page],
            departments=departments,
            next_page_token=token,
        )


def register(server: grpc.aio.Server, runtime: Runtime) -> list[str]:
    catalogue = Catalogue(runtime.settings.cases_addr, runtime.settings.client_tls)
    runtime.on_stop.append(catalogue.close)
    pb_grpc.add_SiteServiceServicer_to_server(SiteServicer(runtime, catalogue), server)
    return [pb.DESCRIPTOR.services_by_name["SiteService"].full_name]
