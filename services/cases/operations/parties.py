"""Parties of a case (suspects, organisations), their coercive measures and sentences: written
by the lead office, real names shown to it alone."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.domain import (
    Case,
    EventKind,
    Measure,
    MeasureRecord,
    Party,
    PartyKind,
    mask_name,
    require_lead,
    sees_real_names,
    validate_party,
)
from services.cases.operations.base import (
    CLOCK_SKEW_US,
    WRITERS,
    A,
    Call,
    case_name,
    event,
    get_case,
    log,
    once,
    refuse_real_names,
    restate,
)
from services.cases.operations.visibility import visible_case
from services.common import changes, names, paging
from services.common.auth import require_role
from services.common.context import Principal
from services.common.errors import FailedPrecondition, NotFound, Violations
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime


async def add(rt: Runtime, call: Call[Party, A], parent: str, party: Party) -> A:
    """A party added by the lead office (the answer carries its real name: only the lead
    office gets one)."""
    principal = require_role(*WRITERS)
    (case_id,) = names.parse(parent, "parent", "cases")
    party = replace(party, case_id=case_id, real_name=party.real_name.strip())
    v = Violations()
    validate_party(party, v, "party.")
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(rt, call, lambda c: _add(c, principal, case_id, party, call.request_id, now))


def _add(
    conn: Conn, principal: Principal, case_id: int, party: Party, request_id: str, now_us: int
) -> Party:
    case = get_case(conn, case_id)
    require_lead(principal, case)
    # The role is shown to every viewer and in the timeline: no party's real name in it.
    refuse_real_names(conn, case, {"party.role": party.role}, [party.real_name])
    party = replace(
        party,
        id=store.next_id(conn, "parties"),
        case_id=case.id,
        masked_name=mask_name(party.real_name, party.kind),
        measures=[],
        sentence_months=None,
        sentence_fine_fen=0,
        sentence_us=None,
    )
    store.save_party(conn, party)
    kind = PartyKind(party.kind).name.lower()
    added = event(
        conn,
        principal,
        case,
        EventKind.PARTY_ADDED,
        f"{kind} {party.masked_name} added" + (f" ({party.role})" if party.role else ""),
        now_us,
    )
    log(
        conn,
        principal,
        "AddParty",
        f"{case_name(case.id)}/parties/{party.id}",
        request_id,
        "added",
        now_us,
        case.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_EVENTS.rows([added])],
    )
    return party


def _party(
    conn: Conn, principal: Principal, case_id: int, party_id: int
) -> tuple[Case, list[Party], Party]:
    case = get_case(conn, case_id)
    require_lead(principal, case)
    parties = store.parties_of(conn, case.id)
    party = next((p for p in parties if p.id == party_id), None)
    if party is None:
        raise NotFound(f"{case_name(case_id)}/parties/{party_id} not found")
    return case, parties, party


def _copy(parties: list[Party]) -> list[Party]:
    return [replace(p, measures=list(p.measures)) for p in parties]


async def record_measure(
    rt: Runtime, call: Call[Party, A], name: str, measure: int, time_us: int | None
) -> A:
    """A coercive measure on a suspect, dated by when it was taken (now when not given)."""
    principal = require_role(*WRITERS)
    case_id, party_id = names.parse(name, "party", "cases", "parties")
    now = rt.clock.now_us()
    v = Violations()
    v.check(measure in Measure.__members__.values(), "measure", "required")
    when = time_us or now
    v.check(when <= now + CLOCK_SKEW_US, "time", "must not lie in the future")
    v.raise_if_any()
    return await once(
        rt,
        call,
        lambda c: _record_measure(
            c, principal, case_id, party_id, measure, when, call.request_id, now
        ),
    )


def _record_measure(
    conn: Conn,
    principal: Principal,
    case_id: int,
    party_id: int,
    measure: int,
    time_us: int,
    request_id: str,
    now_us: int,
) -> Party:
    case, parties, party = _party(conn, principal, case_id, party_id)
    if party.kind != PartyKind.SUSPECT:
        raise FailedPrecondition("coercive measures apply to suspects", reason="NOT_A_SUSPECT")
    # Dated by its own time, which may precede the campaign: a detention in March belongs
    # to a case the summer campaign took on (its case is what the campaign names).
    before = _copy(parties)
    record = MeasureRecord(measure, time_us, principal.department)
    measure_id = store.add_measure(conn, party.id, record)
    party.measures.append(record)
    restate(conn, (case, before), (case, parties))
    what = Measure(measure).name.lower().replace("_", " ")
    recorded = event(
        conn, principal, case, EventKind.MEASURE_RECORDED, f"{party.masked_name}: {what}", now_us
    )
    log(
        conn,
        principal,
        "RecordMeasure",
        f"{case_name(case.id)}/parties/{party.id}",
        request_id,
        what,
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([recorded]), store.AUDITED_MEASURES.rows([measure_id])],
    )
    return party


async def record_sentence(
    rt: Runtime,
    call: Call[Party, A],
    name: str,
    months: int,
    fine_fen: int,
    time_us: int | None,
) -> A:
    principal = require_role(*WRITERS)
    case_id, party_id = names.parse(name, "party", "cases", "parties")
    now = rt.clock.now_us()
    v = Violations()
    v.check(0 <= months <= 1200, "sentence.term_months", "0 to 1200 months")
    v.check(fine_fen >= 0, "sentence.fine_fen", "must not be negative")
    v.check(months > 0 or fine_fen > 0, "sentence", "a term or a fine is required")
    when = time_us or now
    v.raise_if_any()
    return await once(
        rt,
        call,
        lambda c: _record_sentence(
            c, principal, case_id, party_id, months, fine_fen, when, call.request_id, now
        ),
    )


def _record_sentence(
    conn: Conn,
    principal: Principal,
    case_id: int,
    party_id: int,
    months: int,
    fine_fen: int,
    time_us: int,
    request_id: str,
    now_us: int,
) -> Party:
    case, parties, party = _party(conn, principal, case_id, party_id)
    before = _copy(parties)
    party.sentence_months, party.sentence_fine_fen, party.sentence_us = months, fine_fen, time_us
    store.save_party(conn, party)
    restate(conn, (case, before), (case, parties))
    sentenced = event(
        conn,
        principal,
        case,
        EventKind.SENTENCED,
        f"{party.masked_name}: sentenced to {months} months, fine {fine_fen} fen",
        now_us,
    )
    log(
        conn,
        principal,
        "RecordSentence",
        f"{case_name(case.id)}/parties/{party.id}",
        request_id,
        "sentenced",
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([sentenced])],
    )
    return party


async def page(rt: Runtime, parent: str, page_size: int, token: str) -> tuple[list[Party], str]:
    """A page of a visible case's parties: real names for the lead office, blank for others."""
    principal, case = await visible_case(rt, parent, "parent")
    size = paging.page_size(page_size)
    after = paging.decode(token, parent) or 0
    rows = await rt.db.read(lambda c: store.parties_of(c, case.id, after, size + 1))
    found, next_token = paging.cut(rows, size, parent)
    if not sees_real_names(principal, case):
        found = [replace(p, real_name="") for p in found]
    return found, next_token
