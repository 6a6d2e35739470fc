"""netnet.cases.v1.CaseService and CampaignService: protobuf in, one use case, protobuf out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from grpc.aio import ServicerContext as Context

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.cases.v1 import campaigns_pb2_grpc as cpb_grpc
from netnet.cases.v1 import cases_pb2 as pb
from netnet.cases.v1 import cases_pb2_grpc as pb_grpc
from services.cases.convert import (
    campaign_in,
    campaign_pb,
    case_in,
    case_pb,
    clue_in,
    clue_pb,
    event_pb,
    handover_pb,
    holder_pb,
    measure_issued_in,
    measure_issued_pb,
    party_in,
    party_pb,
    typical_in,
    typical_pb,
)
from services.cases.domain import (
    CASE_STATES,
    CASES,
    GAINS,
    HANDOVERS,
    MEASURES,
    SENTENCE_MONTHS,
    SENTENCES,
    TYPICAL,
)
from services.cases.operations import campaigns, cases, clues, measures_issued, parties, typical
from services.cases.operations.base import Call
from services.cases.operations.visibility import feed_view
from services.common import changes, standard
from services.common.context import Principal
from services.common.convert import to_us
from services.common.server import Runtime

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
R = TypeVar("R")
M = TypeVar("M", bound=Message)


def _call(request: Message, response: type[M], answer: Callable[[R], M]) -> Call[R, M]:
    """A mutation for its use case: the method named by its request message, the request's
    bytes for the idempotency check, and how the result is answered (and read back)."""
    request_id: str = request.request_id  # type: ignore[attr-defined]
    return Call(
        type(request).DESCRIPTOR.name.removesuffix("Request"),
        request_id,
        request.SerializeToString(deterministic=True),
        answer,
        response.FromString,
    )


class CampaignServicer(cpb_grpc.CampaignServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def CreateCampaign(
        self, request: cpb.CreateCampaignRequest, context: Context
    ) -> cpb.CreateCampaignResponse:
        return await campaigns.create(
            self.rt,
            _call(
                request,
                cpb.CreateCampaignResponse,
                lambda c: cpb.CreateCampaignResponse(campaign=campaign_pb(c)),
            ),
            campaign_in(request.campaign),
        )

    async def UpdateCampaign(
        self, request: cpb.UpdateCampaignRequest, context: Context
    ) -> cpb.UpdateCampaignResponse:
        m = request.campaign
        return await campaigns.update(
            self.rt,
            _call(
                request,
                cpb.UpdateCampaignResponse,
                lambda c: cpb.UpdateCampaignResponse(campaign=campaign_pb(c)),
            ),
            m.name,
            campaign_in(m),
            list(request.update_mask.paths),
            m.etag,
        )

    async def GetCampaign(
        self, request: cpb.GetCampaignRequest, context: Context
    ) -> cpb.GetCampaignResponse:
        c = await campaigns.get(self.rt, request.name)
        return cpb.GetCampaignResponse(campaign=campaign_pb(c))

    async def ListCampaigns(
        self, request: cpb.ListCampaignsRequest, context: Context
    ) -> cpb.ListCampaignsResponse:
        page, token = await campaigns.page(self.rt, request.page_size, request.page_token)
        return cpb.ListCampaignsResponse(
            campaigns=[campaign_pb(c) for c in page], next_page_token=token
        )

    async def RecordMeasureIssued(
        self, request: cpb.RecordMeasureIssuedRequest, context: Context
    ) -> cpb.RecordMeasureIssuedResponse:
        return await measures_issued.record(
            self.rt,
            _call(
                request,
                cpb.RecordMeasureIssuedResponse,
                lambda m: cpb.RecordMeasureIssuedResponse(measure_issued=measure_issued_pb(m)),
            ),
            request.parent,
            measure_issued_in(request.measure_issued),
        )

    async def ListMeasuresIssued(
        self, request: cpb.ListMeasuresIssuedRequest, context: Context
    ) -> cpb.ListMeasuresIssuedResponse:
        r = request
        page, token = await measures_issued.page(self.rt, r.parent, r.page_size, r.page_token)
        return cpb.ListMeasuresIssuedResponse(
            measures_issued=[measure_issued_pb(m) for m in page], next_page_token=token
        )


class CaseServicer(standard.StandardRpcs, pb_grpc.CaseServiceServicer):
    messages = pb
    stats = STATS_ROLLUPS

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def feed_view(self, principal: Principal) -> changes.View:
        return feed_view(principal)

    # --- clues and hand-overs ---

    async def RecordClue(
        self, request: pb.RecordClueRequest, context: Context
    ) -> pb.RecordClueResponse:
        return await clues.record(
            self.rt,
            _call(request, pb.RecordClueResponse, lambda c: pb.RecordClueResponse(clue=clue_pb(c))),
            clue_in(request.clue),
        )

    async def GetClue(self, request: pb.GetClueRequest, context: Context) -> pb.GetClueResponse:
        clue, handovers = await clues.get(self.rt, request.name)
        return pb.GetClueResponse(clue=clue_pb(clue), handovers=[handover_pb(h) for h in handovers])

    async def TransferClue(
        self, request: pb.TransferClueRequest, context: Context
    ) -> pb.TransferClueResponse:
        r = request
        return await clues.transfer(
            self.rt,
            _call(
                request,
                pb.TransferClueResponse,
                lambda h: pb.TransferClueResponse(handover=handover_pb(h)),
            ),
            r.clue,
            r.to_department,
            r.to_region,
            r.note,
        )

    async def AcknowledgeHandover(
        self, request: pb.AcknowledgeHandoverRequest, context: Context
    ) -> pb.AcknowledgeHandoverResponse:
        return await clues.acknowledge(
            self.rt,
            _call(
                request,
                pb.AcknowledgeHandoverResponse,
                lambda h: pb.AcknowledgeHandoverResponse(handover=handover_pb(h)),
            ),
            request.name,
        )

    async def AcceptHandover(
        self, request: pb.AcceptHandoverRequest, context: Context
    ) -> pb.AcceptHandoverResponse:
        new_case = case_in(request.new_case, "new_case.") if request.HasField("new_case") else None
        return await clues.accept(
            self.rt,
            _call(
                request,
                pb.AcceptHandoverResponse,
                lambda r: pb.AcceptHandoverResponse(handover=handover_pb(r[0]), case=case_pb(r[1])),
            ),
            request.name,
            request.case,
            new_case,
        )

    async def ReturnHandover(
        self, request: pb.ReturnHandoverRequest, context: Context
    ) -> pb.ReturnHandoverResponse:
        return await clues.give_back(
            self.rt,
            _call(
                request,
                pb.ReturnHandoverResponse,
                lambda h: pb.ReturnHandoverResponse(handover=handover_pb(h)),
            ),
            request.name,
            list(request.reasons),
        )

    async def ListHandovers(
        self, request: pb.ListHandoversRequest, context: Context
    ) -> pb.ListHandoversResponse:
        r = request
        page, token = await clues.page(
            self.rt, r.page_size, r.page_token, r.incoming, r.state, r.overdue_only
        )
        return pb.ListHandoversResponse(
            handovers=[handover_pb(h) for h in page], next_page_token=token
        )

    # --- cases ---

    async def CreateCase(
        self, request: pb.CreateCaseRequest, context: Context
    ) -> pb.CreateCaseResponse:
        return await cases.create(
            self.rt,
            _call(request, pb.CreateCaseResponse, lambda c: pb.CreateCaseResponse(case=case_pb(c))),
            case_in(request.case),
        )

    async def UpdateCase(
        self, request: pb.UpdateCaseRequest, context: Context
    ) -> pb.UpdateCaseResponse:
        m = request.case
        return await cases.update(
            self.rt,
            _call(request, pb.UpdateCaseResponse, lambda c: pb.UpdateCaseResponse(case=case_pb(c))),
            m.name,
            case_in(m),
            list(request.update_mask.paths),
            m.etag,
        )

    async def TransitionCase(
        self, request: pb.TransitionCaseRequest, context: Context
    ) -> pb.TransitionCaseResponse:
        r = request
        return await cases.transition(
            self.rt,
            _call(
                request,
                pb.TransitionCaseResponse,
                lambda c: pb.TransitionCaseResponse(case=case_pb(c)),
            ),
            r.name,
            r.state,
            r.note,
            r.etag,
        )

    async def GetCase(self, request: pb.GetCaseRequest, context: Context) -> pb.GetCaseResponse:
        return pb.GetCaseResponse(case=case_pb(await cases.get(self.rt, request.name)))

    async def BatchGetCases(
        self, request: pb.BatchGetCasesRequest, context: Context
    ) -> pb.BatchGetCasesResponse:
        found, missing = await cases.batch_get(self.rt, list(request.names))
        return pb.BatchGetCasesResponse(cases=[case_pb(c) for c in found], not_found=missing)

    async def ListCases(
        self, request: pb.ListCasesRequest, context: Context
    ) -> pb.ListCasesResponse:
        r = request
        filters: dict[str, object] = {
            "campaign_id": r.campaign_id,
            "kind": r.kind,
            "state": r.state,
            "lead_department": r.lead_department,
            "number": r.number,
        }
        page, token = await cases.page(self.rt, r.page_size, r.page_token, filters)
        return pb.ListCasesResponse(cases=[case_pb(c) for c in page], next_page_token=token)

    async def FindCaseHolders(
        self, request: pb.FindCaseHoldersRequest, context: Context
    ) -> pb.FindCaseHoldersResponse:
        found = await cases.holders(self.rt, request.number)
        return pb.FindCaseHoldersResponse(holders=[holder_pb(h) for h in found])

    async def ListCaseEvents(
        self, request: pb.ListCaseEventsRequest, context: Context
    ) -> pb.ListCaseEventsResponse:
        r = request
        page, token = await cases.events(self.rt, r.parent, r.page_size, r.page_token)
        return pb.ListCaseEventsResponse(events=[event_pb(e) for e in page], next_page_token=token)

    # --- parties ---

    async def AddParty(self, request: pb.AddPartyRequest, context: Context) -> pb.AddPartyResponse:
        return await parties.add(
            self.rt,
            _call(request, pb.AddPartyResponse, lambda p: pb.AddPartyResponse(party=party_pb(p))),
            request.parent,
            party_in(request.party),
        )

    async def RecordMeasure(
        self, request: pb.RecordMeasureRequest, context: Context
    ) -> pb.RecordMeasureResponse:
        r = request
        when = to_us(r.time, r.HasField("time"), "time")
        return await parties.record_measure(
            self.rt,
            _call(
                request,
                pb.RecordMeasureResponse,
                lambda p: pb.RecordMeasureResponse(party=party_pb(p)),
            ),
            r.party,
            r.measure,
            when,
        )

    async def RecordSentence(
        self, request: pb.RecordSentenceRequest, context: Context
    ) -> pb.RecordSentenceResponse:
        s = request.sentence
        when = to_us(s.time, s.HasField("time"), "sentence.time")
        return await parties.record_sentence(
            self.rt,
            _call(
                request,
                pb.RecordSentenceResponse,
                lambda p: pb.RecordSentenceResponse(party=party_pb(p)),
            ),
            request.party,
            s.term_months,
            s.fine_fen,
            when,
        )

    async def ListParties(
        self, request: pb.ListPartiesRequest, context: Context
    ) -> pb.ListPartiesResponse:
        r = request
        page, token = await parties.page(self.rt, r.parent, r.page_size, r.page_token)
        return pb.ListPartiesResponse(parties=[party_pb(p) for p in page], next_page_token=token)

    # --- typical cases ---

    async def PublishTypicalCase(
        self, request: pb.PublishTypicalCaseRequest, context: Context
    ) -> pb.PublishTypicalCaseResponse:
        m = request.typical_case
        return await typical.publish(
            self.rt,
            _call(
                request,
                pb.PublishTypicalCaseResponse,
                lambda t: pb.PublishTypicalCaseResponse(typical_case=typical_pb(t)),
            ),
            m.name,
            m.case,
            typical_in(m),
        )

    async def DraftTypicalCase(
        self, request: pb.DraftTypicalCaseRequest, context: Context
    ) -> pb.DraftTypicalCaseResponse:
        m = request.typical_case
        return await typical.draft(
            self.rt,
            _call(
                request,
                pb.DraftTypicalCaseResponse,
                lambda t: pb.DraftTypicalCaseResponse(typical_case=typical_pb(t)),
            ),
            m.case,
            typical_in(m, dated=False),
        )

    async def GetTypicalCase(
        self, request: pb.GetTypicalCaseRequest, context: Context
    ) -> pb.GetTypicalCaseResponse:
        t = await typical.get(self.rt, request.name)
        return pb.GetTypicalCaseResponse(typical_case=typical_pb(t))

    async def ListTypicalCases(
        self, request: pb.ListTypicalCasesRequest, context: Context
    ) -> pb.ListTypicalCasesResponse:
        r = request
        page, token = await typical.page(self.rt, r.campaign_id, r.page_size, r.page_token)
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
