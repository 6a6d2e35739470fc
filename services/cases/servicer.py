"""netnet.cases.v1.CaseService and CampaignService: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import grpc
from google.protobuf.message import Message

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.cases.v1 import campaigns_pb2_grpc as cpb_grpc
from netnet.cases.v1 import cases_pb2 as pb
from netnet.cases.v1 import cases_pb2_grpc as pb_grpc
from services.cases import operations, store
from services.cases.domain import (
    CAMPAIGN_UPDATABLE,
    CASE_STATES,
    CASES,
    GAINS,
    HANDOVERS,
    MEASURES,
    SENTENCE_MONTHS,
    SENTENCES,
    TYPICAL,
    UPDATABLE,
    Campaign,
    Case,
    CaseState,
    Clue,
    ClueSource,
    Event,
    Facts,
    Handover,
    Measure,
    Party,
    TypicalCase,
    can_view,
    clue_visible,
    sees_real_names,
    validate_campaign,
    validate_case,
    validate_party,
)
from services.common import changes, names, paging, standard
from services.common.auth import require_role, require_writer_for
from services.common.context import Principal, current_principal
from services.common.convert import to_ts, to_us
from services.common.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.reference import is_region, is_slug
from services.common.server import Runtime
from services.common.storage import Conn

WRITERS = ("operator", "admin", "service")
STATS_ROLLUPS = {
    pb.STATS_SUBJECT_CASES: (CASES, False),
    pb.STATS_SUBJECT_CASE_STATES: (CASE_STATES, False),
    pb.STATS_SUBJECT_MEASURES: (MEASURES, True),
    pb.STATS_SUBJECT_SENTENCES: (SENTENCES, True),
    pb.STATS_SUBJECT_SENTENCE_MONTHS: (SENTENCE_MONTHS, False),
    pb.STATS_SUBJECT_ILLEGAL_GAINS: (GAINS, False),
    pb.STATS_SUBJECT_TYPICAL_CASES: (TYPICAL, False),
    pb.STATS_SUBJECT_HANDOVERS: (HANDOVERS, False),
}
MAX_TEXT = 4000


# --- conversions -------------------------------------------------------------------------


def campaign_pb(c: Campaign) -> cpb.Campaign:
    return cpb.Campaign(
        name=f"campaigns/{c.slug}",
        id=c.slug,
        title=c.title,
        start_time=to_ts(c.start_us),
        end_time=to_ts(c.end_us),
        lead_department=c.lead_department,
        participating_departments=c.participating,
        special_actions=[cpb.SpecialAction(id=i, title=t) for i, t in c.special_actions],
        create_time=to_ts(c.create_us),
        update_time=to_ts(c.update_us),
        etag=str(c.revision),
    )


def campaign_in(m: cpb.Campaign) -> Campaign:
    return Campaign(
        0,
        m.id,
        m.title,
        to_us(m.start_time, field="campaign.start_time") or 0,
        to_us(m.end_time, field="campaign.end_time") or 0,
        m.lead_department,
        list(m.participating_departments),
        [(s.id, s.title) for s in m.special_actions],
        0,
        0,
        0,
    )


def case_pb(c: Case) -> pb.Case:
    f = c.facts
    return pb.Case(
        name=operations.case_name(c.id),
        number=c.number,
        title=c.title,
        kind=c.kind,
        lead_department=c.lead_department,  # type: ignore[arg-type]
        lead_region=c.lead_region,
        assisting_departments=c.assisting,
        provinces=c.provinces,
        campaign_id=c.campaign_id,
        special_action=c.special_action,
        categories=c.categories,
        state=c.state,  # type: ignore[arg-type]
        facts=pb.CaseFacts(
            illegal_gains_fen=f.illegal_gains_fen,
            items=[pb.ItemCount(type=t, count=n) for t, n in f.items],
            customers=f.customers,
            victim_count=f.victim_count,
            victims_include_minors=f.victims_include_minors,
            data_volume_bytes=f.data_volume_bytes,
        ),
        linked_resources=c.linked,
        create_time=to_ts(c.create_us),
        update_time=to_ts(c.update_us),
        etag=str(c.revision),
        register_time=to_ts(c.register_us or c.create_us),
    )


def case_in(m: pb.Case, prefix: str = "case.") -> Case:
    f = m.facts
    facts = Facts(
        f.illegal_gains_fen,
        [(i.type, i.count) for i in f.items],
        f.customers,
        f.victim_count,
        f.victims_include_minors,
        f.data_volume_bytes,
    )
    return Case(
        0,
        m.number,
        m.title,
        m.kind,
        m.lead_department,
        m.lead_region,
        list(m.assisting_departments),
        list(m.provinces),
        m.campaign_id,
        m.special_action,
        list(m.categories),
        m.state,
        facts,
        list(dict.fromkeys(m.linked_resources)),
        0,
        0,
        0,
        to_us(m.register_time, m.HasField("register_time"), f"{prefix}register_time") or 0,
    )


def party_pb(p: Party, show_real_name: bool) -> pb.Party:
    return pb.Party(
        name=f"cases/{p.case_id}/parties/{p.id}",
        kind=p.kind,  # type: ignore[arg-type]
        real_name=p.real_name if show_real_name else "",
        masked_name=p.masked_name,
        role=p.role,
        measures=[
            pb.MeasureRecord(
                measure=m.measure,
                time=to_ts(m.time_us),  # type: ignore[arg-type]
                department=m.department,
            )
            for m in p.measures
        ],
        sentence=pb.Sentence(
            term_months=p.sentence_months, fine_fen=p.sentence_fine_fen, time=to_ts(p.sentence_us)
        )
        if p.sentence_months is not None
        else None,
    )


def event_pb(e: Event) -> pb.CaseEvent:
    return pb.CaseEvent(
        name=f"cases/{e.case_id}/events/{e.id}",
        kind=e.kind,  # type: ignore[arg-type]
        time=to_ts(e.time_us),
        actor=e.actor,
        department=e.department,
        detail=e.detail,
        fields=e.fields,
        from_state=e.from_state,
        to_state=e.to_state,
    )  # type: ignore[arg-type]


def typical_pb(t: TypicalCase) -> pb.TypicalCase:
    return pb.TypicalCase(
        name=f"typicalCases/{t.id}",
        case=operations.case_name(t.case_id),
        campaign_id=t.campaign_id,
        title=t.title,
        region=t.region,
        summary=t.summary,
        outcome=t.outcome,
        publish_time=to_ts(t.publish_us or None),
        published_by=t.published_by,
        state=t.state,  # type: ignore[arg-type]
    )


def clue_pb(c: Clue) -> pb.Clue:
    return pb.Clue(
        name=f"clues/{c.id}",
        source=c.source,
        summary=c.summary,  # type: ignore[arg-type]
        holder_department=c.holder_department,
        holder_region=c.holder_region,
        category=c.category,
        campaign_id=c.campaign_id,
        special_action=c.special_action,
        state=c.state,
        case=operations.case_name(c.case_id) if c.case_id else "",  # type: ignore[arg-type]
        create_time=to_ts(c.create_us),
        etag=str(c.revision),
    )


def handover_pb(h: Handover, now_us: int, ack_timeout_us: int) -> pb.Handover:
    return pb.Handover(
        name=f"clues/{h.clue_id}/handovers/{h.id}",
        clue=f"clues/{h.clue_id}",
        from_department=h.from_department,
        from_region=h.from_region,
        to_department=h.to_department,
        to_region=h.to_region,
        note=h.note,
        state=h.state,
        sent_time=to_ts(h.sent_us),
        sent_by=h.sent_by,  # type: ignore[arg-type]
        acknowledge_time=to_ts(h.ack_us),
        acknowledged_by=h.ack_by,
        resolve_time=to_ts(h.resolve_us),
        resolved_by=h.resolved_by,
        case=operations.case_name(h.case_id) if h.case_id else "",
        return_reasons=h.return_reasons,
        overdue=h.overdue(now_us, ack_timeout_us),
    )


def _mask_fields(mask: list[str], allowed: tuple[str, ...], v: Violations) -> tuple[str, ...]:
    v.check(bool(mask), "update_mask", "name the fields to change")
    bad = [p for p in mask if p not in allowed]
    v.check(
        not bad, "update_mask", f"cannot change {', '.join(bad)}; allowed: {', '.join(allowed)}"
    )
    return tuple(dict.fromkeys(p for p in mask if p in allowed))


def _text(
    v: Violations, value: str, field: str, limit: int = MAX_TEXT, required: bool = True
) -> None:
    v.check(
        (bool(value) or not required) and len(value) <= limit,
        field,
        f"{'required, ' if required else ''}at most {limit} characters",
    )


def _typical_in(m: pb.TypicalCase) -> TypicalCase:
    """A typical case's text, checked (its case named, its fields within bounds)."""
    (case_id,) = names.parse(m.case, "typical_case.case", "cases")
    v = Violations()
    _text(v, m.title, "typical_case.title", 256)
    _text(v, m.region, "typical_case.region", 256)
    _text(v, m.summary, "typical_case.summary")
    _text(v, m.outcome, "typical_case.outcome", required=False)
    v.raise_if_any()
    return TypicalCase(0, case_id, "", m.title, m.region, m.summary, m.outcome, 0, "", "")


class CampaignServicer(cpb_grpc.CampaignServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def CreateCampaign(
        self, request: cpb.CreateCampaignRequest, context: grpc.aio.ServicerContext
    ) -> cpb.CreateCampaignResponse:
        principal = require_role("admin")
        c = campaign_in(request.campaign)
        v = Violations()
        validate_campaign(
            c, v, "campaign.", ("id", *CAMPAIGN_UPDATABLE), self.rt.settings.reference
        )
        v.raise_if_any()
        now = self.rt.clock.now_us()
        return cpb.CreateCampaignResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "CreateCampaign",
                request.request_id,
                lambda conn: cpb.CreateCampaignResponse(
                    campaign=campaign_pb(
                        operations.create_campaign(conn, principal, c, request.request_id, now)
                    )
                ),
            )
        )

    async def UpdateCampaign(
        self, request: cpb.UpdateCampaignRequest, context: grpc.aio.ServicerContext
    ) -> cpb.UpdateCampaignResponse:
        principal = require_role("admin")
        v = Violations()
        fields = _mask_fields(list(request.update_mask.paths), CAMPAIGN_UPDATABLE, v)
        slug = request.campaign.name.removeprefix("campaigns/")
        v.check(
            request.campaign.name.startswith("campaigns/") and is_slug(slug),
            "campaign.name",
            "must be campaigns/{id}",
        )
        c = campaign_in(request.campaign)
        c.slug = slug
        validate_campaign(c, v, "campaign.", fields, self.rt.settings.reference)
        v.raise_if_any()
        now = self.rt.clock.now_us()
        return cpb.UpdateCampaignResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "UpdateCampaign",
                request.request_id,
                lambda conn: cpb.UpdateCampaignResponse(
                    campaign=campaign_pb(
                        operations.update_campaign(
                            conn,
                            principal,
                            c,
                            fields,
                            request.campaign.etag,
                            request.request_id,
                            now,
                        )
                    )
                ),
            )
        )

    async def GetCampaign(
        self, request: cpb.GetCampaignRequest, context: grpc.aio.ServicerContext
    ) -> cpb.GetCampaignResponse:
        slug = request.name.removeprefix("campaigns/")
        if not request.name.startswith("campaigns/") or not is_slug(slug):
            raise InvalidArgument([FieldViolation("name", "must be campaigns/{id}")])
        c = await self.rt.db.read(lambda conn: store.campaign_by_slug(conn, slug))
        if c is None:
            raise NotFound(f"{request.name} not found")
        return cpb.GetCampaignResponse(campaign=campaign_pb(c))

    async def ListCampaigns(
        self, request: cpb.ListCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> cpb.ListCampaignsResponse:
        size = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, "campaigns") or 0
        rows = await self.rt.db.read(lambda c: store.list_campaigns(c, after, size + 1))
        page, token = paging.cut(rows, size, "campaigns")
        return cpb.ListCampaignsResponse(
            campaigns=[campaign_pb(c) for c in page], next_page_token=token
        )


class CaseServicer(standard.StandardRpcs, pb_grpc.CaseServiceServicer):
    messages = pb
    stats = STATS_ROLLUPS

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.ack_timeout_us = int(runtime.settings.handover_ack_seconds * 1_000_000)

    def feed_view(self, principal: Principal) -> changes.View:
        return partial(operations.readable_changes, principal)

    def _handover_pb(self, h: Handover) -> pb.Handover:
        return handover_pb(h, self.rt.clock.now_us(), self.ack_timeout_us)

    async def _visible_case(self, name: str, field: str = "name") -> tuple[Principal, Case]:
        (case_id,) = names.parse(name, field, "cases")
        principal = current_principal()
        case = await self.db.read(lambda c: store.get_case(c, case_id))
        if case is None:
            raise NotFound(f"{name} not found")
        if not can_view(principal, case):
            raise PermissionDenied(
                "case details are for the lead office and the assisting and coordinating "
                "offices of the areas the case involves",
                reason="CASE_NOT_VISIBLE",
            )
        return principal, case

    # --- clues and hand-overs ---

    async def RecordClue(
        self, request: pb.RecordClueRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordClueResponse:
        m = request.clue
        principal = require_writer_for(m.holder_department)
        v = Violations()
        v.check(m.source in ClueSource.__members__.values(), "clue.source", "required")
        _text(v, m.summary, "clue.summary")
        v.check(
            m.holder_department in self.rt.settings.reference.departments,
            "clue.holder_department",
            "unknown department",
        )
        v.check(
            not m.holder_region or is_region(m.holder_region),
            "clue.holder_region",
            "must be a 6-digit division code",
        )
        v.check(
            m.category in self.rt.settings.reference.categories, "clue.category", "unknown category"
        )
        v.check(not m.campaign_id or is_slug(m.campaign_id), "clue.campaign_id", "must be a slug")
        v.check(
            not m.special_action or (is_slug(m.special_action) and bool(m.campaign_id)),
            "clue.special_action",
            "must be a slug, with a campaign_id",
        )
        v.raise_if_any()
        clue = Clue(
            0,
            m.source,
            m.summary,
            m.holder_department,
            m.holder_region,
            m.category,
            m.campaign_id,
            m.special_action,
            0,
            None,
            0,
            0,
        )
        now = self.rt.clock.now_us()
        return pb.RecordClueResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "RecordClue",
                request.request_id,
                lambda c: pb.RecordClueResponse(
                    clue=clue_pb(
                        operations.record_clue(c, principal, clue, request.request_id, now)
                    )
                ),
            )
        )

    async def GetClue(
        self, request: pb.GetClueRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetClueResponse:
        (clue_id,) = names.parse(request.name, "name", "clues")

        def read(c: Conn) -> tuple[Clue | None, list[Handover]]:
            return store.get_clue(c, clue_id), store.handovers_of(c, clue_id)

        clue, handovers = await self.db.read(read)
        if clue is None:
            raise NotFound(f"{request.name} not found")
        if not clue_visible(current_principal(), clue, handovers):
            raise PermissionDenied(
                "the clue is for the offices it passed through", reason="CLUE_NOT_VISIBLE"
            )
        return pb.GetClueResponse(
            clue=clue_pb(clue), handovers=[self._handover_pb(h) for h in handovers]
        )

    async def TransferClue(
        self, request: pb.TransferClueRequest, context: grpc.aio.ServicerContext
    ) -> pb.TransferClueResponse:
        principal = require_role(*WRITERS)
        v = Violations()
        v.check(
            request.to_department in self.rt.settings.reference.departments,
            "to_department",
            "unknown department",
        )
        v.check(
            not request.to_region or is_region(request.to_region),
            "to_region",
            "must be a 6-digit division code",
        )
        _text(v, request.note, "note", required=False)
        v.raise_if_any()
        (clue_id,) = names.parse(request.clue, "clue", "clues")
        now = self.rt.clock.now_us()
        return pb.TransferClueResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "TransferClue",
                request.request_id,
                lambda c: pb.TransferClueResponse(
                    handover=self._handover_pb(
                        operations.transfer(
                            c,
                            principal,
                            clue_id,
                            request.to_department,
                            request.to_region,
                            request.note,
                            request.request_id,
                            now,
                        )
                    )
                ),
            )
        )

    async def AcknowledgeHandover(
        self, request: pb.AcknowledgeHandoverRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcknowledgeHandoverResponse:
        principal = require_role(*WRITERS)
        clue_id, handover_id = names.parse(request.name, "name", "clues", "handovers")
        now = self.rt.clock.now_us()
        return pb.AcknowledgeHandoverResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "AcknowledgeHandover",
                request.request_id,
                lambda c: pb.AcknowledgeHandoverResponse(
                    handover=self._handover_pb(
                        operations.acknowledge(
                            c, principal, clue_id, handover_id, request.request_id, now
                        )
                    )
                ),
            )
        )

    async def AcceptHandover(
        self, request: pb.AcceptHandoverRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptHandoverResponse:
        principal = require_role(*WRITERS)
        clue_id, handover_id = names.parse(request.name, "name", "clues", "handovers")
        v = Violations()
        joining = bool(request.case)
        v.check(
            joining != request.HasField("new_case"),
            "case",
            "give either case (to join) or new_case (to open)",
        )
        new_case = None
        if request.HasField("new_case"):
            new_case = case_in(request.new_case, "new_case.")
            new_case.lead_department = principal.department
            validate_case(
                new_case, v, "new_case.", ("number", "kind", *UPDATABLE), self.rt.settings.reference
            )
        v.raise_if_any()
        case_id = names.parse(request.case, "case", "cases")[0] if joining else None
        now = self.rt.clock.now_us()

        def work(c: Conn) -> Message:
            h, case = operations.accept(
                c, principal, clue_id, handover_id, case_id, new_case, request.request_id, now
            )
            return pb.AcceptHandoverResponse(handover=self._handover_pb(h), case=case_pb(case))

        return pb.AcceptHandoverResponse.FromString(
            await standard.once(self.rt, request, "AcceptHandover", request.request_id, work)
        )

    async def ReturnHandover(
        self, request: pb.ReturnHandoverRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReturnHandoverResponse:
        principal = require_role(*WRITERS)
        clue_id, handover_id = names.parse(request.name, "name", "clues", "handovers")
        v = Violations()
        v.check(
            0 < len(request.reasons) <= 20 and all(0 < len(r) <= 512 for r in request.reasons),
            "reasons",
            "1 to 20 reasons of at most 512 characters",
        )
        v.raise_if_any()
        now = self.rt.clock.now_us()
        return pb.ReturnHandoverResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "ReturnHandover",
                request.request_id,
                lambda c: pb.ReturnHandoverResponse(
                    handover=self._handover_pb(
                        operations.give_back(
                            c,
                            principal,
                            clue_id,
                            handover_id,
                            list(request.reasons),
                            request.request_id,
                            now,
                        )
                    )
                ),
            )
        )

    async def ListHandovers(
        self, request: pb.ListHandoversRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListHandoversResponse:
        principal = current_principal()
        size = paging.page_size(request.page_size)
        bound = [
            principal.department,
            principal.region,
            request.incoming,
            request.state,
            request.overdue_only,
        ]
        after = paging.decode(request.page_token, bound) or 0
        now = self.rt.clock.now_us()
        state = pb.HANDOVER_STATE_SENT if request.overdue_only else request.state
        if request.overdue_only and request.state not in (0, pb.HANDOVER_STATE_SENT):
            raise InvalidArgument([FieldViolation("state", "overdue hand-overs are 'sent'")])
        before = now - self.ack_timeout_us if request.overdue_only else None
        rows = await self.db.read(
            lambda c: store.list_handovers(
                c,
                principal.department,
                principal.region,
                request.incoming,
                state,
                before,
                after,
                size + 1,
            )
        )
        page, token = paging.cut(rows, size, bound)
        return pb.ListHandoversResponse(
            handovers=[self._handover_pb(h) for h in page], next_page_token=token
        )

    # --- cases ---

    async def CreateCase(
        self, request: pb.CreateCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCaseResponse:
        principal = require_writer_for(request.case.lead_department)
        case = case_in(request.case)
        v = Violations()
        validate_case(
            case,
            v,
            "case.",
            ("number", "kind", "lead_department", *UPDATABLE),
            self.rt.settings.reference,
        )
        v.raise_if_any()
        now = self.rt.clock.now_us()
        return pb.CreateCaseResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "CreateCase",
                request.request_id,
                lambda c: pb.CreateCaseResponse(
                    case=case_pb(
                        operations.create_case(c, principal, case, request.request_id, now)
                    )
                ),
            )
        )

    async def UpdateCase(
        self, request: pb.UpdateCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateCaseResponse:
        principal = require_role(*WRITERS)
        (case_id,) = names.parse(request.case.name, "case.name", "cases")
        v = Violations()
        fields = _mask_fields(list(request.update_mask.paths), UPDATABLE, v)
        case = case_in(request.case)
        # Checked against the stored case: assisting departments against its lead, a special
        # action against its campaign (unless the mask changes the campaign too).
        deferred = tuple(
            f
            for f in ("assisting_departments", "special_action")
            if f in fields and (f != "special_action" or "campaign_id" not in fields)
        )
        validate_case(
            case,
            v,
            "case.",
            tuple(f for f in fields if f not in deferred),
            self.rt.settings.reference,
        )
        v.raise_if_any()
        now = self.rt.clock.now_us()

        def work(c: Conn) -> Message:
            current = store.get_case(c, case_id) if deferred else None
            if current is not None:
                case.lead_department = current.lead_department
                if "campaign_id" not in fields:
                    case.campaign_id = current.campaign_id
                check = Violations()
                validate_case(case, check, "case.", deferred, self.rt.settings.reference)
                check.raise_if_any()
            return pb.UpdateCaseResponse(
                case=case_pb(
                    operations.update_case(
                        c,
                        principal,
                        case_id,
                        case,
                        fields,
                        request.case.etag,
                        request.request_id,
                        now,
                    )
                )
            )

        return pb.UpdateCaseResponse.FromString(
            await standard.once(self.rt, request, "UpdateCase", request.request_id, work)
        )

    async def TransitionCase(
        self, request: pb.TransitionCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.TransitionCaseResponse:
        principal = require_role(*WRITERS)
        (case_id,) = names.parse(request.name, "name", "cases")
        v = Violations()
        v.check(request.state in CaseState.__members__.values(), "state", "required")
        _text(v, request.note, "note", 1000, required=False)
        v.raise_if_any()
        now = self.rt.clock.now_us()
        return pb.TransitionCaseResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "TransitionCase",
                request.request_id,
                lambda c: pb.TransitionCaseResponse(
                    case=case_pb(
                        operations.transition(
                            c,
                            principal,
                            case_id,
                            request.state,
                            request.note,
                            request.etag,
                            request.request_id,
                            now,
                        )
                    )
                ),
            )
        )

    async def GetCase(
        self, request: pb.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCaseResponse:
        _, case = await self._visible_case(request.name)
        return pb.GetCaseResponse(case=case_pb(case))

    async def BatchGetCases(
        self, request: pb.BatchGetCasesRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetCasesResponse:
        ids = standard.batch_ids(request.names, "cases")
        principal = current_principal()
        found = await self.db.read(lambda c: store.get_cases(c, ids))
        visible = {i: case for i, case in found.items() if can_view(principal, case)}
        cases, missing = standard.found_and_missing(request.names, ids, visible)
        return pb.BatchGetCasesResponse(cases=[case_pb(c) for c in cases], not_found=missing)

    async def ListCases(
        self, request: pb.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCasesResponse:
        principal = current_principal()
        size = paging.page_size(request.page_size)
        filters = {
            "campaign_id": request.campaign_id,
            "kind": request.kind,
            "state": request.state,
            "lead_department": request.lead_department,
            "number": request.number,
        }
        bound = [principal.department, principal.region, filters]
        after = paging.decode(request.page_token, bound) or 0
        rows = await self.db.read(
            lambda c: operations.visible_cases(c, principal, after, size + 1, filters)
        )
        page, token = paging.cut(rows, size, bound)
        return pb.ListCasesResponse(cases=[case_pb(c) for c in page], next_page_token=token)

    async def FindCaseHolders(
        self, request: pb.FindCaseHoldersRequest, context: grpc.aio.ServicerContext
    ) -> pb.FindCaseHoldersResponse:
        if not request.number or len(request.number) > 32:
            raise InvalidArgument([FieldViolation("number", "required, at most 32 characters")])
        principal = current_principal()
        found = await self.db.read(lambda c: store.cases_by_number(c, request.number))
        return pb.FindCaseHoldersResponse(
            holders=[
                pb.CaseHolder(
                    case=operations.case_name(c.id) if can_view(principal, c) else "",
                    lead_department=c.lead_department,
                    assisting_departments=c.assisting,
                )
                for c in found
            ]
        )

    async def ListCaseEvents(
        self, request: pb.ListCaseEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCaseEventsResponse:
        _, case = await self._visible_case(request.parent, "parent")
        size = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, request.parent) or 0
        rows = await self.db.read(lambda c: store.events_of(c, case.id, after, size + 1))
        page, token = paging.cut(rows, size, request.parent)
        return pb.ListCaseEventsResponse(events=[event_pb(e) for e in page], next_page_token=token)

    # --- parties ---

    async def AddParty(
        self, request: pb.AddPartyRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddPartyResponse:
        principal = require_role(*WRITERS)
        (case_id,) = names.parse(request.parent, "parent", "cases")
        m = request.party
        party = Party(0, case_id, m.kind, m.real_name.strip(), "", m.role)
        v = Violations()
        validate_party(party, v, "party.")
        v.raise_if_any()
        now = self.rt.clock.now_us()
        return pb.AddPartyResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "AddParty",
                request.request_id,
                lambda c: pb.AddPartyResponse(
                    party=party_pb(
                        operations.add_party(c, principal, case_id, party, request.request_id, now),
                        True,
                    )
                ),
            )
        )

    async def RecordMeasure(
        self, request: pb.RecordMeasureRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordMeasureResponse:
        principal = require_role(*WRITERS)
        case_id, party_id = names.parse(request.party, "party", "cases", "parties")
        now = self.rt.clock.now_us()
        v = Violations()
        v.check(request.measure in Measure.__members__.values(), "measure", "required")
        when = to_us(request.time, request.HasField("time"), "time") or now
        v.check(when <= now + 300_000_000, "time", "must not lie in the future")
        v.raise_if_any()
        return pb.RecordMeasureResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "RecordMeasure",
                request.request_id,
                lambda c: pb.RecordMeasureResponse(
                    party=party_pb(
                        operations.record_measure(
                            c,
                            principal,
                            case_id,
                            party_id,
                            request.measure,
                            when,
                            request.request_id,
                            now,
                        ),
                        True,
                    )
                ),
            )
        )

    async def RecordSentence(
        self, request: pb.RecordSentenceRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordSentenceResponse:
        principal = require_role(*WRITERS)
        case_id, party_id = names.parse(request.party, "party", "cases", "parties")
        s = request.sentence
        now = self.rt.clock.now_us()
        v = Violations()
        v.check(0 <= s.term_months <= 1200, "sentence.term_months", "0 to 1200 months")
        v.check(s.fine_fen >= 0, "sentence.fine_fen", "must not be negative")
        v.check(s.term_months > 0 or s.fine_fen > 0, "sentence", "a term or a fine is required")
        when = to_us(s.time, s.HasField("time"), "sentence.time") or now
        v.raise_if_any()
        return pb.RecordSentenceResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "RecordSentence",
                request.request_id,
                lambda c: pb.RecordSentenceResponse(
                    party=party_pb(
                        operations.record_sentence(
                            c,
                            principal,
                            case_id,
                            party_id,
                            s.term_months,
                            s.fine_fen,
                            when,
                            request.request_id,
                            now,
                        ),
                        True,
                    )
                ),
            )
        )

    async def ListParties(
        self, request: pb.ListPartiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPartiesResponse:
        principal, case = await self._visible_case(request.parent, "parent")
        size = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, request.parent) or 0
        rows = await self.db.read(lambda c: store.parties_of(c, case.id, after, size + 1))
        page, token = paging.cut(rows, size, request.parent)
        show = sees_real_names(principal, case)
        return pb.ListPartiesResponse(
            parties=[party_pb(p, show) for p in page], next_page_token=token
        )

    # --- typical cases ---

    async def PublishTypicalCase(
        self, request: pb.PublishTypicalCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishTypicalCaseResponse:
        principal = require_role(*WRITERS)
        m = request.typical_case
        draft_id = None
        if m.name:
            (draft_id,) = names.parse(m.name, "typical_case.name", "typicalCases")
            given = [f for f in ("case", "title", "region", "summary", "outcome") if getattr(m, f)]
            if given:
                raise InvalidArgument(
                    [
                        FieldViolation(f"typical_case.{f}", "a draft is published as vetted")
                        for f in given
                    ]
                )
            t = TypicalCase(0, 0, "", "", "", "", "", 0, "", "")
        else:
            t = _typical_in(m)
        published = to_us(m.publish_time, m.HasField("publish_time"), "typical_case.publish_time")
        t = replace(t, publish_us=published or 0)
        now = self.rt.clock.now_us()
        return pb.PublishTypicalCaseResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "PublishTypicalCase",
                request.request_id,
                lambda c: pb.PublishTypicalCaseResponse(
                    typical_case=typical_pb(
                        operations.publish_typical(
                            c, principal, t, draft_id, request.request_id, now
                        )
                    )
                ),
            )
        )

    async def DraftTypicalCase(
        self, request: pb.DraftTypicalCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.DraftTypicalCaseResponse:
        principal = require_role(*WRITERS)
        t = _typical_in(request.typical_case)
        now = self.rt.clock.now_us()
        return pb.DraftTypicalCaseResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "DraftTypicalCase",
                request.request_id,
                lambda c: pb.DraftTypicalCaseResponse(
                    typical_case=typical_pb(
                        operations.draft_typical(c, principal, t, request.request_id, now)
                    )
                ),
            )
        )

    async def GetTypicalCase(
        self, request: pb.GetTypicalCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTypicalCaseResponse:
        (typical_id,) = names.parse(request.name, "name", "typicalCases")
        principal = current_principal()
        t = await self.db.read(lambda c: operations.get_typical(c, principal, typical_id))
        return pb.GetTypicalCaseResponse(typical_case=typical_pb(t))

    async def ListTypicalCases(
        self, request: pb.ListTypicalCasesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTypicalCasesResponse:
        size = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, request.campaign_id) or 0
        rows = await self.db.read(
            lambda c: store.list_typical(c, request.campaign_id, after, size + 1)
        )
        page, token = paging.cut(rows, size, request.campaign_id)
        return pb.ListTypicalCasesResponse(
            typical_cases=[typical_pb(t) for t in page], next_page_token=token
        )


def register(server: grpc.aio.Server, runtime: Runtime) -> list[str]:
    pb_grpc.add_CaseServiceServicer_to_server(CaseServicer(runtime), server)
    cpb_grpc.add_CampaignServiceServicer_to_server(CampaignServicer(runtime), server)
    return [
        pb.DESCRIPTOR.services_by_name["CaseService"].full_name,
        cpb.DESCRIPTOR.services_by_name["CampaignService"].full_name,
    ]
