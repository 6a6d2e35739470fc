"""Cases use cases, each one transaction on the writer: every change is checked, timed,
attributed, written to the case's timeline, the audit chain and the change feed, and the
counters are restated by difference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from services.cases import store
from services.cases.domain import (
    CAMPAIGN_UPDATABLE,
    HANDOVERS,
    TYPICAL,
    TYPICAL_PUBLISHED,
    Campaign,
    Case,
    CaseState,
    Clue,
    ClueState,
    Event,
    EventKind,
    Handover,
    HandoverState,
    Measure,
    MeasureRecord,
    Party,
    PartyKind,
    TypicalCase,
    TypicalState,
    assists,
    can_view,
    check_handover_step,
    check_transition,
    clue_visible,
    contributions,
    covers,
    difference,
    leads,
    mask_name,
    real_name_in,
    require_area,
    require_lead,
    sees_real_names,
)
from services.common import audit, changes, rollups
from services.common import campaigns as campaign_rules
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import (
    AlreadyExists,
    EtagMismatch,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.reference import COORDINATING_OFFICE
from services.common.storage import Conn


def case_name(case_id: int) -> str:
    return f"cases/{case_id}"


def _log(
    conn: Conn,
    principal: Principal,
    method: str,
    name: str,
    request_id: str,
    outcome: str,
    now_us: int,
    campaign_id: str = "",
    kind: int = changes.UPDATED,
    rows: Sequence[audit.Rows] = (),
) -> None:
    changes.append(conn, kind, name, principal.department, campaign_id, now_us)
    audit.append(conn, principal, method, name, request_id, outcome, now_us, rows)


def _event(
    conn: Conn,
    principal: Principal,
    case: Case,
    kind: EventKind,
    detail: str,
    now_us: int,
    fields: list[str] | None = None,
    from_state: int = 0,
    to_state: int = 0,
) -> int:
    return store.add_event(
        conn,
        Event(
            0,
            case.id,
            kind,
            now_us,
            principal.operator,
            principal.department,
            detail,
            fields or [],
            from_state,
            to_state,
        ),
    )


def _restate(
    conn: Conn,
    before: tuple[Case, list[Party]] | None,
    after: tuple[Case, list[Party]],
) -> None:
    old = contributions(*before) if before else []
    for rollup, deltas in difference(old, contributions(*after)).items():
        rollups.apply(conn, rollup, deltas)


def _case(conn: Conn, case_id: int) -> Case:
    case = store.get_case(conn, case_id)
    if case is None:
        raise NotFound(f"{case_name(case_id)} not found")
    return case


CLOCK_SKEW_US = 5 * 60 * 1_000_000


def _dated(
    conn: Conn,
    campaign_id: str,
    special_action: str,
    time_us: int | None,
    time_field: str,
    now_us: int,
    prefix: str = "",
) -> None:
    """A record's campaign exists (here, its owner) with that special action, and the time
    it happened (None: not dated) is not in the future and lies within the campaign."""
    v = Violations()
    if time_us is not None and not v.check(
        time_us <= now_us + CLOCK_SKEW_US, f"{prefix}{time_field}", "must not lie in the future"
    ):
        time_us = None  # said once
    c = store.campaign_by_slug(conn, campaign_id) if campaign_id else None
    actions = frozenset(s for s, _ in c.special_actions) if c else frozenset()
    known = {c.slug: campaign_rules.Campaign(c.slug, c.start_us, c.end_us, actions)} if c else {}
    campaign_rules.check(v, known, campaign_id, special_action, time_us, time_field, prefix)
    v.raise_if_any()


def _check_etag(etag: str, revision: int) -> None:
    if etag and etag != str(revision):
        raise EtagMismatch("the record changed since it was read; read it again")


# --- campaigns ---------------------------------------------------------------------------


def create_campaign(
    conn: Conn, principal: Principal, c: Campaign, request_id: str, now_us: int
) -> Campaign:
    if store.campaign_by_slug(conn, c.slug) is not None:
        raise AlreadyExists(f"campaign {c.slug!r} already exists")
    c = replace(
        c, id=store.next_id(conn, "campaigns"), create_us=now_us, update_us=now_us, revision=1
    )
    store.save_campaign(conn, c)
    _log(
        conn,
        principal,
        "CreateCampaign",
        f"campaigns/{c.slug}",
        request_id,
        "created",
        now_us,
        c.slug,
        changes.CREATED,
    )
    return c


def update_campaign(
    conn: Conn,
    principal: Principal,
    new: Campaign,
    fields: tuple[str, ...],
    etag: str,
    request_id: str,
    now_us: int,
) -> Campaign:
    current = store.campaign_by_slug(conn, new.slug)
    if current is None:
        raise NotFound(f"campaigns/{new.slug} not found")
    _check_etag(etag, current.revision)
    attrs = {
        "start_time": "start_us",
        "end_time": "end_us",
        "participating_departments": "participating",
    }
    for f in fields:
        assert f in CAMPAIGN_UPDATABLE
        setattr(current, attrs.get(f, f), getattr(new, attrs.get(f, f)))
    if current.end_us <= current.start_us:
        # Bad input, like the same period on create: name the field the request changed.
        field = "campaign.end_time" if "end_time" in fields else "campaign.start_time"
        raise InvalidArgument([FieldViolation(field, "the period must end after it starts")])
    current.update_us, current.revision = now_us, current.revision + 1
    store.save_campaign(conn, current)
    _log(
        conn,
        principal,
        "UpdateCampaign",
        f"campaigns/{current.slug}",
        request_id,
        "updated " + ",".join(fields),
        now_us,
        current.slug,
    )
    return current


# --- cases -------------------------------------------------------------------------------


def create_case(conn: Conn, principal: Principal, c: Case, request_id: str, now_us: int) -> Case:
    require_area(principal, c.lead_region, "lead region")
    register_us = c.register_us or now_us
    _dated(conn, c.campaign_id, c.special_action, register_us, "register_time", now_us, "case.")
    c = replace(
        c,
        id=store.next_id(conn, "cases"),
        state=CaseState.REGISTERED,
        lead_department=principal.department,
        create_us=now_us,
        update_us=now_us,
        revision=1,
        register_us=register_us,
    )
    store.save_case(conn, c)
    event = _event(conn, principal, c, EventKind.CREATED, f"registered case {c.number}", now_us)
    _restate(conn, None, (c, []))
    _log(
        conn,
        principal,
        "CreateCase",
        case_name(c.id),
        request_id,
        "created",
        now_us,
        c.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_EVENTS.rows([event])],
    )
    return c


def update_case(
    conn: Conn,
    principal: Principal,
    case_id: int,
    new: Case,
    fields: tuple[str, ...],
    etag: str,
    request_id: str,
    now_us: int,
) -> Case:
    case = _case(conn, case_id)
    require_lead(principal, case)
    if "lead_region" in fields:
        require_area(principal, new.lead_region, "lead region")
    _check_etag(etag, case.revision)
    if "title" in fields:  # assisting departments and the office read it
        _refuse_real_names(conn, case, {"case.title": new.title})
    before = replace(case)
    attrs = {"assisting_departments": "assisting", "linked_resources": "linked"}
    for f in fields:
        setattr(case, attrs.get(f, f), getattr(new, attrs.get(f, f)))
    if "campaign_id" in fields or "special_action" in fields:
        _dated(
            conn,
            case.campaign_id,
            case.special_action,
            case.register_us or case.create_us,
            "register_time",
            now_us,
            "case.",
        )
    case.update_us, case.revision = now_us, case.revision + 1
    store.save_case(conn, case)
    parties = store.parties_of(conn, case.id)
    _restate(conn, (before, parties), (case, parties))
    event = _event(
        conn,
        principal,
        case,
        EventKind.UPDATED,
        "changed " + ", ".join(fields),
        now_us,
        list(fields),
    )
    _log(
        conn,
        principal,
        "UpdateCase",
        case_name(case.id),
        request_id,
        "updated " + ",".join(fields),
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([event])],
    )
    return case


def transition(
    conn: Conn,
    principal: Principal,
    case_id: int,
    to_state: int,
    note: str,
    etag: str,
    request_id: str,
    now_us: int,
) -> Case:
    case = _case(conn, case_id)
    require_lead(principal, case)
    _check_etag(etag, case.revision)
    check_transition(case, to_state)
    # The note goes into the timeline, which assisting departments and the office read.
    _refuse_real_names(conn, case, {"note": note})
    before = replace(case)
    case.state, case.update_us, case.revision = to_state, now_us, case.revision + 1
    store.save_case(conn, case)
    parties = store.parties_of(conn, case.id)
    _restate(conn, (before, parties), (case, parties))
    detail = f"{CaseState(before.state).name.lower()} → {CaseState(to_state).name.lower()}"
    event = _event(
        conn,
        principal,
        case,
        EventKind.STATE_CHANGED,
        f"{detail}. {note}".strip(". "),
        now_us,
        from_state=before.state,
        to_state=to_state,
    )
    _log(
        conn,
        principal,
        "TransitionCase",
        case_name(case.id),
        request_id,
        detail,
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([event])],
    )
    return case


# --- parties -----------------------------------------------------------------------------


def _refuse_real_names(
    conn: Conn, case: Case, texts: dict[str, str], more: list[str] | None = None
) -> None:
    """Text that others read must not contain a party's real name."""
    names = [*store.real_names(conn, case.id), *(more or [])]
    bad = real_name_in({k: v for k, v in texts.items() if v}, names)
    if bad:
        raise FailedPrecondition(
            f"{bad} contains a party's real name: use the masked form", reason="REAL_NAME_IN_TEXT"
        )


def _party(
    conn: Conn, principal: Principal, case_id: int, party_id: int
) -> tuple[Case, list[Party], Party]:
    case = _case(conn, case_id)
    require_lead(principal, case)
    parties = store.parties_of(conn, case.id)
    party = next((p for p in parties if p.id == party_id), None)
    if party is None:
        raise NotFound(f"{case_name(case_id)}/parties/{party_id} not found")
    return case, parties, party


def _copy(parties: list[Party]) -> list[Party]:
    return [replace(p, measures=list(p.measures)) for p in parties]


def add_party(
    conn: Conn,
    principal: Principal,
    case_id: int,
    party: Party,
    request_id: str,
    now_us: int,
) -> Party:
    case = _case(conn, case_id)
    require_lead(principal, case)
    # The role is shown to every viewer and in the timeline: no party's real name in it.
    _refuse_real_names(conn, case, {"party.role": party.role}, [party.real_name])
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
    event = _event(
        conn,
        principal,
        case,
        EventKind.PARTY_ADDED,
        f"{kind} {party.masked_name} added" + (f" ({party.role})" if party.role else ""),
        now_us,
    )
    _log(
        conn,
        principal,
        "AddParty",
        f"{case_name(case.id)}/parties/{party.id}",
        request_id,
        "added",
        now_us,
        case.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_EVENTS.rows([event])],
    )
    return party


def record_measure(
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
    _restate(conn, (case, before), (case, parties))
    what = Measure(measure).name.lower().replace("_", " ")
    event = _event(
        conn, principal, case, EventKind.MEASURE_RECORDED, f"{party.masked_name}: {what}", now_us
    )
    _log(
        conn,
        principal,
        "RecordMeasure",
        f"{case_name(case.id)}/parties/{party.id}",
        request_id,
        what,
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([event]), store.AUDITED_MEASURES.rows([measure_id])],
    )
    return party


def record_sentence(
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
    _restate(conn, (case, before), (case, parties))
    event = _event(
        conn,
        principal,
        case,
        EventKind.SENTENCED,
        f"{party.masked_name}: sentenced to {months} months, fine {fine_fen} fen",
        now_us,
    )
    _log(
        conn,
        principal,
        "RecordSentence",
        f"{case_name(case.id)}/parties/{party.id}",
        request_id,
        "sentenced",
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([event])],
    )
    return party


# --- typical cases -----------------------------------------------------------------------


def _vetted_text(conn: Conn, principal: Principal, case: Case, t: TypicalCase) -> None:
    """Only the lead office, which sees the parties' real names, submits text that is
    compared with them (and is told which field matched): anyone else would learn whether a
    guessed name is right. The refusal of anyone else does not depend on the text."""
    if not sees_real_names(principal, case):
        raise PermissionDenied(
            "only the lead office writes a typical case's text; the coordinating office "
            "publishes a draft the lead office vetted (give its name)",
            reason="DRAFT_REQUIRED",
        )
    texts = {
        "typical_case.title": t.title,
        "typical_case.region": t.region,
        "typical_case.summary": t.summary,
        "typical_case.outcome": t.outcome,
    }
    _refuse_real_names(conn, case, texts)


def _publisher(principal: Principal, case: Case) -> None:
    if not (
        leads(principal, case)
        or (principal.department == COORDINATING_OFFICE and can_view(principal, case))
    ):
        raise PermissionDenied(
            "typical cases are published by the lead office or the coordinating office",
            reason="NOT_PUBLISHER",
        )


def draft_typical(
    conn: Conn, principal: Principal, t: TypicalCase, request_id: str, now_us: int
) -> TypicalCase:
    """The lead office vets a summary for the coordinating office to publish."""
    case = _case(conn, t.case_id)
    _vetted_text(conn, principal, case, t)
    t = replace(
        t,
        id=store.next_id(conn, "typical_cases"),
        campaign_id=case.campaign_id,
        publish_us=0,
        published_by="",
        department=principal.department,
        state=TypicalState.DRAFT,
        vetted_party_id=store.last_party_id(conn, case.id),
    )
    store.save_typical(conn, t)
    event = _event(
        conn,
        principal,
        case,
        EventKind.TYPICAL_CASE_DRAFTED,
        f"drafted typicalCases/{t.id}",
        now_us,
    )
    _log(
        conn,
        principal,
        "DraftTypicalCase",
        f"typicalCases/{t.id}",
        request_id,
        "drafted",
        now_us,
        case.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_EVENTS.rows([event]), store.AUDITED_TYPICAL_TEXT.rows([t.id])],
    )
    return t


def publish_typical(
    conn: Conn,
    principal: Principal,
    t: TypicalCase,
    draft_id: int | None,
    request_id: str,
    now_us: int,
) -> TypicalCase:
    """Publish a frozen, anonymised summary: the lead office's own text, or a draft it vetted
    (by the lead office or the coordinating office)."""
    requested_us = t.publish_us  # when it was published, if the caller says
    if draft_id is None:
        case = _case(conn, t.case_id)
        _publisher(principal, case)
        _vetted_text(conn, principal, case, t)
        t = replace(t, id=store.next_id(conn, "typical_cases"))
        kind = changes.CREATED
        typical_rows = [store.AUDITED_TYPICAL_TEXT.rows([t.id])]  # its text, written now
    else:
        draft = store.get_typical(conn, draft_id)
        if draft is None:
            raise NotFound(f"typicalCases/{draft_id} not found")
        case = _case(conn, draft.case_id)
        _publisher(principal, case)
        if draft.state != TypicalState.DRAFT:
            raise FailedPrecondition(
                f"typicalCases/{draft_id} is already published", reason="ALREADY_PUBLISHED"
            )
        if store.last_party_id(conn, case.id) != draft.vetted_party_id:
            raise FailedPrecondition(
                "parties were added to the case after the lead office vetted this draft: "
                "it vets the text again",
                reason="DRAFT_STALE",
            )
        t, kind = draft, changes.UPDATED
        typical_rows = []  # its text is the draft's entry's
    publish_us = requested_us or now_us
    _dated(conn, case.campaign_id, "", publish_us, "publish_time", now_us, "typical_case.")
    t = replace(
        t,
        campaign_id=case.campaign_id,
        publish_us=publish_us,
        published_by=principal.operator,
        department=principal.department,
        state=TypicalState.PUBLISHED,
    )
    store.save_typical(conn, t)
    typical_rows.append(store.AUDITED_TYPICAL.rows([t.id]))  # as published, for good
    rollups.apply(
        conn,
        TYPICAL,
        [
            (
                None,
                (
                    case.lead_department,
                    TYPICAL_PUBLISHED,
                    case.primary_category(),
                    case.campaign_id,
                    case.special_action,
                ),
                day_of(publish_us),
                1,
            )
        ],
    )
    event = _event(
        conn,
        principal,
        case,
        EventKind.TYPICAL_CASE_PUBLISHED,
        f"published as typicalCases/{t.id}",
        now_us,
    )
    _log(
        conn,
        principal,
        "PublishTypicalCase",
        f"typicalCases/{t.id}",
        request_id,
        "published",
        now_us,
        case.campaign_id,
        kind,
        rows=[store.AUDITED_EVENTS.rows([event]), *typical_rows],
    )
    return t


def get_typical(conn: Conn, principal: Principal, typical_id: int) -> TypicalCase:
    """A published summary is public; a draft is for those who see its case."""
    t = store.get_typical(conn, typical_id)
    if t is None:
        raise NotFound(f"typicalCases/{typical_id} not found")
    if t.state == TypicalState.DRAFT and not can_view(principal, _case(conn, t.case_id)):
        raise PermissionDenied(
            "a draft is for the offices that see its case", reason="CASE_NOT_VISIBLE"
        )
    return t


# --- reads -------------------------------------------------------------------------------

SCAN = 200  # cases read at a time while filling a page of visible ones


def visible_cases(
    conn: Conn,
    principal: Principal,
    after_id: int,
    limit: int,
    filters: dict[str, object],
) -> list[Case]:
    """Up to limit cases after an id that match the filters and that the caller may see
    (the department is narrowed in SQL, the region here, by the one rule)."""
    everything = principal.department == COORDINATING_OFFICE
    out: list[Case] = []
    while len(out) < limit:
        rows = store.list_cases(
            conn, after_id, max(limit, SCAN), principal.department, everything, filters
        )
        out += [c for c in rows if can_view(principal, c)]
        if len(rows) < max(limit, SCAN):
            break
        after_id = rows[-1].id
    return out[:limit]


def _resource(name: str) -> tuple[str, int] | None:
    """The record a change names that decides who reads it: (collection, id)."""
    parts = name.split("/")
    if len(parts) in (2, 4) and parts[0] in ("cases", "typicalCases", "clues"):
        if parts[1].isdigit():
            return parts[0], int(parts[1])
    return None


def readable_changes(
    principal: Principal, conn: Conn, batch: list[changes.Change]
) -> list[changes.Change]:
    """The change feed as the caller may read it: a change to a case (its parties), a draft,
    or a clue (its hand-overs) the caller may not read keeps only its position. Campaigns
    and published typical cases are read by every caller."""
    subjects = {c.seq: _resource(c.resource) for c in batch}
    wanted: dict[str, list[int]] = {"cases": [], "typicalCases": [], "clues": []}
    for subject in subjects.values():
        if subject:
            wanted[subject[0]].append(subject[1])
    typicals = store.get_typicals(conn, wanted["typicalCases"])
    cases = store.get_cases(conn, [*wanted["cases"], *(t.case_id for t in typicals.values())])
    clues = store.get_clues(conn, wanted["clues"])
    trail: dict[int, list[Handover]] = {}
    for h in store.handovers_of_clues(conn, list(clues)):
        trail.setdefault(h.clue_id, []).append(h)

    def case_readable(case_id: int) -> bool:
        case = cases.get(case_id)
        return case is not None and can_view(principal, case)

    def readable(c: changes.Change) -> bool:
        subject = subjects[c.seq]
        if subject is None:
            return c.resource.startswith("campaigns/")
        collection, ident = subject
        if collection == "cases":
            return case_readable(ident)
        if collection == "clues":
            clue = clues.get(ident)
            return clue is not None and clue_visible(principal, clue, trail.get(ident, []))
        t = typicals.get(ident)
        return t is not None and (t.state == TypicalState.PUBLISHED or case_readable(t.case_id))

    return [c if readable(c) else changes.withheld(c) for c in batch]


# --- clues and hand-overs ----------------------------------------------------------------


def record_clue(conn: Conn, principal: Principal, c: Clue, request_id: str, now_us: int) -> Clue:
    require_area(principal, c.holder_region, "holder region")
    _dated(conn, c.campaign_id, c.special_action, None, "", now_us, "clue.")
    c = replace(
        c,
        id=store.next_id(conn, "clues"),
        holder_department=principal.department,
        state=ClueState.OPEN,
        case_id=None,
        create_us=now_us,
        revision=1,
    )
    store.save_clue(conn, c)
    _log(
        conn,
        principal,
        "RecordClue",
        f"clues/{c.id}",
        request_id,
        "recorded",
        now_us,
        c.campaign_id,
        changes.CREATED,
    )
    return c


def _clue(conn: Conn, clue_id: int) -> Clue:
    clue = store.get_clue(conn, clue_id)
    if clue is None:
        raise NotFound(f"clues/{clue_id} not found")
    return clue


def _count_handover(
    conn: Conn, clue: Clue, department: str, step: HandoverState, now_us: int
) -> None:
    name = step.name.lower()
    rollups.apply(
        conn,
        HANDOVERS,
        [
            (
                None,
                (department, name, clue.category, clue.campaign_id, clue.special_action),
                day_of(now_us),
                1,
            )
        ],
    )


def transfer(
    conn: Conn,
    principal: Principal,
    clue_id: int,
    to_department: str,
    to_region: str,
    note: str,
    request_id: str,
    now_us: int,
) -> Handover:
    clue = _clue(conn, clue_id)
    if clue.holder_department != principal.department or not covers(
        principal.region, clue.holder_region
    ):
        raise PermissionDenied(
            f"the clue is held by {clue.holder_department!r}"
            f"{' of ' + clue.holder_region if clue.holder_region else ''}",
            reason="NOT_HOLDER",
        )
    if clue.state not in (ClueState.OPEN, ClueState.RETURNED):
        raise FailedPrecondition(
            f"the clue is {ClueState(clue.state).name.lower()}", reason="CLUE_STATE"
        )
    if to_department == clue.holder_department and to_region == clue.holder_region:
        raise FailedPrecondition("the clue is already held there", reason="SAME_HOLDER")
    h = Handover(
        store.next_id(conn, "handovers"),
        clue.id,
        clue.holder_department,
        clue.holder_region,
        to_department,
        to_region,
        note,
        HandoverState.SENT,
        now_us,
        principal.operator,
    )
    store.save_handover(conn, h)
    clue.state, clue.revision = ClueState.IN_TRANSFER, clue.revision + 1
    store.save_clue(conn, clue)
    _count_handover(conn, clue, principal.department, HandoverState.SENT, now_us)
    _log(
        conn,
        principal,
        "TransferClue",
        f"clues/{clue.id}/handovers/{h.id}",
        request_id,
        f"sent to {to_department}",
        now_us,
        clue.campaign_id,
        changes.CREATED,
    )
    return h


def _handover(
    conn: Conn,
    principal: Principal,
    clue_id: int,
    handover_id: int,
    to: HandoverState,
) -> tuple[Clue, Handover]:
    h = store.get_handover(conn, handover_id)
    if h is None or h.clue_id != clue_id:
        raise NotFound(f"clues/{clue_id}/handovers/{handover_id} not found")
    check_handover_step(h, principal, to)
    return _clue(conn, clue_id), h


def acknowledge(
    conn: Conn,
    principal: Principal,
    clue_id: int,
    handover_id: int,
    request_id: str,
    now_us: int,
) -> Handover:
    clue, h = _handover(conn, principal, clue_id, handover_id, HandoverState.ACKNOWLEDGED)
    h.state, h.ack_us, h.ack_by = HandoverState.ACKNOWLEDGED, now_us, principal.operator
    store.save_handover(conn, h)
    _count_handover(conn, clue, principal.department, HandoverState.ACKNOWLEDGED, now_us)
    _log(
        conn,
        principal,
        "AcknowledgeHandover",
        f"clues/{clue.id}/handovers/{h.id}",
        request_id,
        "acknowledged",
        now_us,
        clue.campaign_id,
    )
    return h


def accept(
    conn: Conn,
    principal: Principal,
    clue_id: int,
    handover_id: int,
    case_id: int | None,
    new_case: Case | None,
    request_id: str,
    now_us: int,
) -> tuple[Handover, Case]:
    clue, h = _handover(conn, principal, clue_id, handover_id, HandoverState.ACCEPTED)
    if case_id is not None:
        case = _case(conn, case_id)
        if not assists(principal, case):
            raise PermissionDenied(
                "a clue joins a case the receiving office leads or assists",
                reason="CASE_NOT_OURS",
            )
        event = _event(
            conn, principal, case, EventKind.CLUE_JOINED, f"clue clues/{clue.id} joined", now_us
        )
    else:
        assert new_case is not None
        case = create_case(conn, principal, new_case, request_id, now_us)
        event = _event(
            conn, principal, case, EventKind.CLUE_JOINED, f"opened from clues/{clue.id}", now_us
        )
    h.state, h.resolve_us, h.resolved_by, h.case_id = (
        HandoverState.ACCEPTED,
        now_us,
        principal.operator,
        case.id,
    )
    store.save_handover(conn, h)
    clue.state, clue.case_id, clue.revision = ClueState.ACCEPTED, case.id, clue.revision + 1
    clue.holder_department, clue.holder_region = h.to_department, h.to_region
    store.save_clue(conn, clue)
    _count_handover(conn, clue, principal.department, HandoverState.ACCEPTED, now_us)
    _log(
        conn,
        principal,
        "AcceptHandover",
        f"clues/{clue.id}/handovers/{h.id}",
        request_id,
        f"accepted into {case_name(case.id)}",
        now_us,
        clue.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([event])],
    )
    return h, case


def give_back(
    conn: Conn,
    principal: Principal,
    clue_id: int,
    handover_id: int,
    reasons: list[str],
    request_id: str,
    now_us: int,
) -> Handover:
    clue, h = _handover(conn, principal, clue_id, handover_id, HandoverState.RETURNED)
    h.state, h.resolve_us, h.resolved_by, h.return_reasons = (
        HandoverState.RETURNED,
        now_us,
        principal.operator,
        reasons,
    )
    store.save_handover(conn, h)
    clue.state, clue.revision = ClueState.RETURNED, clue.revision + 1
    clue.holder_department, clue.holder_region = h.from_department, h.from_region
    store.save_clue(conn, clue)
    _count_handover(conn, clue, principal.department, HandoverState.RETURNED, now_us)
    _log(
        conn,
        principal,
        "ReturnHandover",
        f"clues/{clue.id}/handovers/{h.id}",
        request_id,
        "returned",
        now_us,
        clue.campaign_id,
    )
    return h
