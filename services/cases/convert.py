"""The cases contracts <-> the domain's records: what the servicer converts, both ways."""

from __future__ import annotations

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.cases.v1 import cases_pb2 as pb
from services.cases.domain import (
    Campaign,
    Case,
    Clue,
    Event,
    Facts,
    MeasureIssued,
    Party,
    TypicalCase,
)
from services.cases.operations.base import case_name
from services.cases.operations.cases import Holder
from services.cases.operations.clues import Timed
from services.common.convert import to_ts, to_us


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


def measure_issued_pb(m: MeasureIssued) -> cpb.MeasureIssued:
    return cpb.MeasureIssued(
        name=f"campaigns/{m.campaign_id}/measuresIssued/{m.id}",
        title=m.title,
        department=m.department,
        kind=m.kind,  # type: ignore[arg-type]
        issue_time=to_ts(m.issue_us),
        special_action=m.special_action,
        recorded_by=m.recorded_by,
        create_time=to_ts(m.create_us),
    )


def measure_issued_in(m: cpb.MeasureIssued) -> MeasureIssued:
    """A measure issued as sent (its campaign named apart by the request's parent)."""
    issued = to_us(m.issue_time, m.HasField("issue_time"), "measure_issued.issue_time")
    return MeasureIssued(0, "", m.department, m.kind, m.title, issued or 0, m.special_action, "", 0)


def case_pb(c: Case) -> pb.Case:
    f = c.facts
    return pb.Case(
        name=case_name(c.id),
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


def party_pb(p: Party) -> pb.Party:
    return pb.Party(
        name=f"cases/{p.case_id}/parties/{p.id}",
        kind=p.kind,  # type: ignore[arg-type]
        real_name=p.real_name,
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
        case=case_name(t.case_id),
        campaign_id=t.campaign_id,
        title=t.title,
        region=t.region,
        summary=t.summary,
        outcome=t.outcome,
        publish_time=to_ts(t.publish_us or None),
        published_by=t.published_by,
        state=t.state,  # type: ignore[arg-type]
        region_code=t.region_code,
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
        case=case_name(c.case_id) if c.case_id else "",  # type: ignore[arg-type]
        create_time=to_ts(c.create_us),
        etag=str(c.revision),
    )


def handover_pb(t: Timed) -> pb.Handover:
    h = t.handover
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
        case=case_name(h.case_id) if h.case_id else "",
        return_reasons=h.return_reasons,
        overdue=t.overdue,
        acknowledge_deadline=to_ts(t.ack_deadline_us),
    )


def typical_in(m: pb.TypicalCase, dated: bool = True) -> TypicalCase:
    """A typical case's text as sent (its case named apart), and when it was published if
    dated and given."""
    published = (
        to_us(m.publish_time, m.HasField("publish_time"), "typical_case.publish_time")
        if dated
        else None
    )
    return TypicalCase(0, 0, "", m.title, m.region, m.summary, m.outcome, published or 0, "", "")


def party_in(m: pb.Party) -> Party:
    return Party(0, 0, m.kind, m.real_name, "", m.role)


def clue_in(m: pb.Clue) -> Clue:
    return Clue(
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


def holder_pb(h: Holder) -> pb.CaseHolder:
    return pb.CaseHolder(
        case=h.case, lead_department=h.lead_department, assisting_departments=h.assisting
    )
