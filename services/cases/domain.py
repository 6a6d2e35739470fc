"""Cases domain: campaigns, clues and hand-overs, cases and their state machine, parties and
masking, typical-case publication. No transport, no SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum

from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import FailedPrecondition, PermissionDenied, Violations
from services.common.reference import (
    COORDINATING_OFFICE,
    Reference,
    is_region,
    is_slug,
)

MAX_TEXT = 256
CASE_NUMBER = re.compile(r"^[\w·./-]{1,32}$")
LINK = re.compile(r"^(sites|accounts)/[1-9][0-9]{0,18}$")
CJK = re.compile(r"[\u3400-\u9fff]")
# Two-character surnames, so that 欧阳某某 keeps the whole surname.
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "轩辕",
    "令狐",
    "端木",
    "独孤",
    "南宫",
    "呼延",
)


# The contracts' enums, value for value, as plain values (the domain needs no generated
# code); tests/unit/test_vocabulary.py fails when one differs from its contract. A value's
# name in lower case is the name statistics count it under (netnet.vocabulary).
class CaseKind(IntEnum):  # netnet.cases.v1.CaseKind
    ADMINISTRATIVE = 1
    CRIMINAL = 2


class CaseState(IntEnum):  # netnet.cases.v1.CaseState
    REGISTERED = 1
    INVESTIGATING = 2
    PROSECUTION = 3
    TRIAL = 4
    CLOSED = 5
    DROPPED = 6


class ClueSource(IntEnum):  # netnet.cases.v1.ClueSource
    PUBLIC_REPORT = 1
    PLATFORM_REPORT = 2
    PATROL = 3
    TRANSFER = 4


class ClueState(IntEnum):  # netnet.cases.v1.ClueState
    OPEN = 1
    IN_TRANSFER = 2
    ACCEPTED = 3
    RETURNED = 4


class HandoverState(IntEnum):  # netnet.cases.v1.HandoverState
    SENT = 1
    ACKNOWLEDGED = 2
    ACCEPTED = 3
    RETURNED = 4


class PartyKind(IntEnum):  # netnet.cases.v1.PartyKind
    SUSPECT = 1
    ORGANISATION = 2


class Measure(IntEnum):  # netnet.cases.v1.Measure
    SUMMONED = 1
    CRIMINAL_DETENTION = 2
    ARREST = 3
    BAIL = 4
    RELEASE = 5


class EventKind(IntEnum):  # netnet.cases.v1.CaseEventKind
    CREATED = 1
    UPDATED = 2
    STATE_CHANGED = 3
    PARTY_ADDED = 4
    MEASURE_RECORDED = 5
    SENTENCED = 6
    CLUE_JOINED = 7
    TYPICAL_CASE_PUBLISHED = 8
    TYPICAL_CASE_DRAFTED = 9


# Criminal cases go to prosecution and trial; administrative ones are decided and closed.
TRANSITIONS = {
    CaseKind.CRIMINAL: {
        CaseState.REGISTERED: {CaseState.INVESTIGATING, CaseState.DROPPED},
        CaseState.INVESTIGATING: {CaseState.PROSECUTION, CaseState.DROPPED},
        CaseState.PROSECUTION: {CaseState.TRIAL, CaseState.DROPPED},
        CaseState.TRIAL: {CaseState.CLOSED},
    },
    CaseKind.ADMINISTRATIVE: {
        CaseState.REGISTERED: {CaseState.INVESTIGATING, CaseState.DROPPED},
        CaseState.INVESTIGATING: {CaseState.CLOSED, CaseState.DROPPED},
    },
}
UPDATABLE = (
    "title",
    "lead_region",
    "assisting_departments",
    "provinces",
    "campaign_id",
    "special_action",
    "categories",
    "facts",
    "linked_resources",
)
CAMPAIGN_UPDATABLE = (
    "title",
    "start_time",
    "end_time",
    "lead_department",
    "participating_departments",
    "special_actions",
)
CASES, CASE_STATES, MEASURES, SENTENCES, SENTENCE_MONTHS, GAINS, TYPICAL, HANDOVERS = (
    "cases",
    "case_states",
    "measures",
    "sentences",
    "sentence_months",
    "illegal_gains",
    "typical_cases",
    "handovers",
)
# Names counted that are not an enum's value: sentences, and the sums of two facts (named
# as the contracts' fields Sentence.term_months and CaseFacts.illegal_gains_fen).
SENTENCED = EventKind.SENTENCED.name.lower()
TERM_MONTHS, ILLEGAL_GAINS_FEN = "term_months", "illegal_gains_fen"


@dataclass
class Campaign:
    id: int
    slug: str
    title: str
    start_us: int
    end_us: int
    lead_department: str
    participating: list[str]
    special_actions: list[tuple[str, str]]
    create_us: int
    update_us: int
    revision: int


@dataclass
class Facts:
    illegal_gains_fen: int = 0
    items: list[tuple[str, int]] = field(default_factory=list)
    customers: int = 0
    victim_count: int = 0
    victims_include_minors: bool = False
    data_volume_bytes: int = 0


@dataclass
class Case:
    id: int
    number: str
    title: str
    kind: int
    lead_department: str
    lead_region: str
    assisting: list[str]
    provinces: list[str]
    campaign_id: str
    special_action: str
    categories: list[str]
    state: int
    facts: Facts
    linked: list[str]
    create_us: int
    update_us: int
    revision: int
    register_us: int = 0  # when it was registered: what its figures are dated by

    def primary_category(self) -> str:
        return self.categories[0] if self.categories else "other"


@dataclass
class Clue:
    id: int
    source: int
    summary: str
    holder_department: str
    holder_region: str
    category: str
    campaign_id: str
    special_action: str
    state: int
    case_id: int | None
    create_us: int
    revision: int


@dataclass
class Handover:
    id: int
    clue_id: int
    from_department: str
    from_region: str
    to_department: str
    to_region: str
    note: str
    state: int
    sent_us: int
    sent_by: str
    ack_us: int | None = None
    ack_by: str = ""
    resolve_us: int | None = None
    resolved_by: str = ""
    case_id: int | None = None
    return_reasons: list[str] = field(default_factory=list)

    def overdue(self, now_us: int, ack_timeout_us: int) -> bool:
        return self.state == HandoverState.SENT and self.sent_us + ack_timeout_us <= now_us


@dataclass
class MeasureRecord:
    measure: int
    time_us: int
    department: str


@dataclass
class Party:
    id: int
    case_id: int
    kind: int
    real_name: str
    masked_name: str
    role: str
    measures: list[MeasureRecord] = field(default_factory=list)
    sentence_months: int | None = None
    sentence_fine_fen: int = 0
    sentence_us: int | None = None


class TypicalState(IntEnum):  # netnet.cases.v1.TypicalCaseState
    DRAFT = 1
    PUBLISHED = 2


# Published typical cases are counted under this name.
TYPICAL_PUBLISHED = TypicalState.PUBLISHED.name.lower()


@dataclass
class TypicalCase:
    id: int
    case_id: int
    campaign_id: str
    title: str
    region: str
    summary: str
    outcome: str
    publish_us: int
    published_by: str
    department: str
    state: int = TypicalState.PUBLISHED
    vetted_party_id: int = 0  # the last party when the lead office vetted the text
    region_code: str = ""  # its case's lead region, read with it (not stored with the text)


class MeasureIssuedKind(IntEnum):  # netnet.cases.v1.MeasureIssuedKind
    NOTICE = 1
    MEASURES = 2
    INSPECTION = 3


MAX_MEASURE_TITLE = 512


@dataclass
class MeasureIssued:
    """A notice or measures a department issued, or an inspection it carried out, in a
    campaign: what a release reports in words, not in figures. Append-only."""

    id: int
    campaign_id: str
    department: str
    kind: int
    title: str
    issue_us: int
    special_action: str
    recorded_by: str
    create_us: int


def validate_measure_issued(m: MeasureIssued, v: Violations, p: str, ref: Reference) -> None:
    v.check(
        0 < len(m.title.strip()) and len(m.title) <= MAX_MEASURE_TITLE,
        f"{p}title",
        f"required, at most {MAX_MEASURE_TITLE} characters",
    )
    v.check(m.department in ref.departments, f"{p}department", "required: a known department")
    v.check(
        m.kind in MeasureIssuedKind.__members__.values(),
        f"{p}kind",
        "required: notice, measures or inspection",
    )
    v.check(m.issue_us > 0, f"{p}issue_time", "required: when it was issued")
    v.check(
        not m.special_action or is_slug(m.special_action),
        f"{p}special_action",
        "must be a slug",
    )


@dataclass
class Event:
    id: int
    case_id: int
    kind: int
    time_us: int
    actor: str
    department: str
    detail: str
    fields: list[str]
    from_state: int = 0
    to_state: int = 0


# --- masking and publication -------------------------------------------------------------


def mask_name(real_name: str, kind: int = PartyKind.SUSPECT) -> str:
    """Surname + 某某 for Chinese names, "Zhu XX" for romanised ones."""
    name = real_name.strip()
    if kind == PartyKind.ORGANISATION or not name:
        return name
    if CJK.match(name):
        surname = name[:2] if name.startswith(COMPOUND_SURNAMES) else name[:1]
        return f"{surname}某某"
    parts = name.split()
    if len(parts) == 1:  # no surname to keep apart ("Zhudawei"): only the initial
        return f"{name[0]} XX"
    return f"{parts[0]} XX"


def real_name_in(texts: dict[str, str], real_names: list[str]) -> str | None:
    """The first field whose text contains a party's real name: the whole name, or the given
    name alone. Chinese names match anywhere; romanised ones as whole words."""
    patterns = []
    for real in real_names:
        name = re.sub(r"\s+", " ", real.strip())
        if not name:
            continue
        if CJK.match(name):
            surname = name[:2] if name.startswith(COMPOUND_SURNAMES) else name[:1]
            given = name[len(surname) :]
            patterns += [re.escape(name)] + ([re.escape(given)] if len(given) >= 2 else [])
        else:
            parts = name.split(" ")
            patterns.append(r"\b" + r"\s*".join(map(re.escape, parts)) + r"\b")
            if len(parts) > 1 and len(parts[-1]) >= 3:
                patterns.append(rf"\b{re.escape(parts[-1])}\b")
    if not patterns:
        return None
    found = re.compile("|".join(patterns), re.IGNORECASE)
    return next((f for f, text in texts.items() if found.search(text)), None)


# --- access ------------------------------------------------------------------------------
# Need-to-know (docs/ARCHITECTURE.md, "Who sees a case"): a token's region covers a record's
# region when it is national (empty), the same code, or the province or city containing it;
# the lead office is the lead department in a covering region, and only it sees real names
# and changes the case; assisting and coordinating offices see the details of a case in an
# area it involves (its lead region or a province involved).


def area_prefix(area: str) -> str:
    """The code prefix of the regions an area covers: a province (XX0000) covers XX....,
    a city (XXYY00) XXYY.., a county only itself; national ("") covers every code."""
    return area[:2] if area.endswith("0000") else area[:4] if area.endswith("00") else area


def covers(area: str, region: str) -> bool:
    """Whether a token's region (area) covers a record's region. A record with no region is
    national: only national tokens cover it."""
    if not area:
        return True
    return bool(region) and region.startswith(area_prefix(area))


def require_area(principal: Principal, region: str, what: str) -> None:
    """An office writes only records of its own area (as a department writes only in its
    own name)."""
    if not covers(principal.region, region):
        raise PermissionDenied(
            f"{what} {region or '(national)'} is outside the area of the caller's office "
            f"({principal.region})",
            reason="WRONG_REGION",
        )


def leads(principal: Principal, case: Case) -> bool:
    return principal.department == case.lead_department and covers(
        principal.region, case.lead_region
    )


def _involved(principal: Principal, case: Case) -> bool:
    """The token's region and an area the case involves overlap (either contains the other)."""
    areas = [case.lead_region, *case.provinces]
    return any(covers(principal.region, a) or (a and covers(a, principal.region)) for a in areas)


def can_view(principal: Principal, case: Case) -> bool:
    if leads(principal, case):
        return True
    named = principal.department == COORDINATING_OFFICE or principal.department in case.assisting
    return named and _involved(principal, case)


def assists(principal: Principal, case: Case) -> bool:
    """A department working on the case: the lead office, or an assisting office."""
    return leads(principal, case) or (
        principal.department in case.assisting and _involved(principal, case)
    )


def require_lead(principal: Principal, case: Case) -> None:
    if not leads(principal, case):
        raise PermissionDenied(
            f"only the lead office ({case.lead_department}"
            f"{', ' + case.lead_region if case.lead_region else ''}) changes this case",
            reason="NOT_LEAD_DEPARTMENT",
        )


def sees_real_names(principal: Principal, case: Case) -> bool:
    return leads(principal, case)


def clue_visible(principal: Principal, clue: Clue, handovers: list[Handover]) -> bool:
    """A clue is for the offices it passed through (department, in a covering region), and
    for the coordinating office of their areas."""
    offices = {(clue.holder_department, clue.holder_region)}
    offices |= {(h.from_department, h.from_region) for h in handovers}
    offices |= {(h.to_department, h.to_region) for h in handovers}
    return any(
        principal.department in (d, COORDINATING_OFFICE) and covers(principal.region, r)
        for d, r in offices
    )


# --- rules -------------------------------------------------------------------------------


def check_transition(case: Case, to_state: int) -> None:
    allowed = TRANSITIONS[CaseKind(case.kind)].get(CaseState(case.state), set())
    if to_state not in allowed:
        names = ", ".join(sorted(s.name.lower() for s in allowed)) or "none (final state)"
        raise FailedPrecondition(
            f"a {CaseKind(case.kind).name.lower()} case cannot go from "
            f"{CaseState(case.state).name.lower()} to {CaseState(to_state).name.lower()}; "
            f"allowed: {names}",
            reason="ILLEGAL_TRANSITION",
        )


def check_handover_step(h: Handover, principal: Principal, to: HandoverState) -> None:
    if principal.department != h.to_department or not covers(principal.region, h.to_region):
        raise PermissionDenied(
            f"only the receiving office ({h.to_department}"
            f"{', ' + h.to_region if h.to_region else ''}) can do this",
            reason="NOT_RECEIVER",
        )
    expected = (
        HandoverState.SENT if to == HandoverState.ACKNOWLEDGED else HandoverState.ACKNOWLEDGED
    )
    if h.state != expected:
        raise FailedPrecondition(
            f"the hand-over is {HandoverState(h.state).name.lower()}; "
            f"it must be {expected.name.lower()} first",
            reason="HANDOVER_STATE",
        )


# --- validation --------------------------------------------------------------------------


def validate_campaign(
    c: Campaign, v: Violations, p: str, fields: tuple[str, ...], ref: Reference
) -> None:
    if "id" in fields:
        v.check(is_slug(c.slug), f"{p}id", "required: a slug")
    if "title" in fields:
        v.check(0 < len(c.title) <= MAX_TEXT, f"{p}title", "required, at most 256 characters")
    # Each time only when named: an update of end_time alone keeps the stored start_time
    # (the merged period is checked when the update is applied).
    if "start_time" in fields:
        v.check(c.start_us > 0, f"{p}start_time", "required")
    if "end_time" in fields:
        v.check(
            c.end_us > 0 and ("start_time" not in fields or c.end_us > c.start_us),
            f"{p}end_time",
            "required, after start_time",
        )
    if "lead_department" in fields:
        v.check(c.lead_department in ref.departments, f"{p}lead_department", "unknown department")
    if "participating_departments" in fields:
        v.check(
            all(d in ref.departments for d in c.participating),
            f"{p}participating_departments",
            "unknown department",
        )
    if "special_actions" in fields:
        ids = [s for s, _ in c.special_actions]
        v.check(
            all(is_slug(s) for s in ids) and len(set(ids)) == len(ids),
            f"{p}special_actions",
            "ids must be distinct slugs",
        )
        v.check(
            all(0 < len(t) <= MAX_TEXT for _, t in c.special_actions),
            f"{p}special_actions",
            "each needs a title",
        )


def validate_case(c: Case, v: Violations, p: str, fields: tuple[str, ...], ref: Reference) -> None:
    """Checks the named fields of a case (all of them on create)."""
    checks = {
        "number": lambda: v.check(
            bool(CASE_NUMBER.match(c.number)),
            f"{p}number",
            "required, at most 32 characters, no spaces",
        ),
        "title": lambda: v.check(
            0 < len(c.title) <= MAX_TEXT, f"{p}title", "required, at most 256 characters"
        ),
        "kind": lambda: v.check(c.kind in CaseKind.__members__.values(), f"{p}kind", "required"),
        "lead_department": lambda: v.check(
            c.lead_department in ref.departments, f"{p}lead_department", "unknown department"
        ),
        "lead_region": lambda: v.check(
            not c.lead_region or is_region(c.lead_region),
            f"{p}lead_region",
            "must be a 6-digit division code",
        ),
        "assisting_departments": lambda: v.check(
            all(d in ref.departments and d != c.lead_department for d in c.assisting),
            f"{p}assisting_departments",
            "known departments other than the lead",
        ),
        "provinces": lambda: v.check(
            all(is_region(x) and x.endswith("0000") for x in c.provinces),
            f"{p}provinces",
            "6-digit province codes (e.g. 330000)",
        ),
        "campaign_id": lambda: v.check(
            not c.campaign_id or is_slug(c.campaign_id), f"{p}campaign_id", "must be a slug"
        ),
        "special_action": lambda: v.check(
            not c.special_action or (is_slug(c.special_action) and bool(c.campaign_id)),
            f"{p}special_action",
            "must be a slug, with a campaign_id",
        ),
        "categories": lambda: v.check(
            0 < len(c.categories) <= 10 and all(x in ref.categories for x in c.categories),
            f"{p}categories",
            "1 to 10 known categories",
        ),
        "facts": lambda: _validate_facts(c.facts, v, f"{p}facts."),
        "linked_resources": lambda: v.check(
            len(c.linked) <= 1000 and all(LINK.match(x) for x in c.linked),
            f"{p}linked_resources",
            "sites/{site} or accounts/{account} names",
        ),
    }
    for name in fields:
        checks[name]()


def _validate_facts(f: Facts, v: Violations, p: str) -> None:
    for name in ("illegal_gains_fen", "customers", "victim_count", "data_volume_bytes"):
        v.check(getattr(f, name) >= 0, f"{p}{name}", "must not be negative")
    v.check(
        all(0 < len(t) <= 64 and n >= 0 for t, n in f.items),
        f"{p}items",
        "each item needs a type and a count of at least 0",
    )


def validate_party(party: Party, v: Violations, p: str) -> None:
    v.check(party.kind in PartyKind.__members__.values(), f"{p}kind", "required")
    v.check(
        0 < len(party.real_name.strip()) <= 128, f"{p}real_name", "required, at most 128 characters"
    )
    v.check(len(party.role) <= 128, f"{p}role", "at most 128 characters")


# --- statistics --------------------------------------------------------------------------

# A counter's key (department, value, category, campaign, special action), as the rollups
# keep it: the domain names the shape, not the module that stores it.
Key = tuple[str, str, str, str, str]
Contribution = tuple[str, int | None, Key, str, int]


def contributions(case: Case, parties: list[Party]) -> list[Contribution]:
    """Every counter a case adds to, as it stands: restated by difference on each change."""

    def key(action: str) -> Key:
        return (
            case.lead_department,
            action,
            case.primary_category(),
            case.campaign_id,
            case.special_action,
        )

    day = day_of(case.register_us or case.create_us)
    out: list[Contribution] = [
        (CASES, None, key(CaseKind(case.kind).name.lower()), day, 1),
        (CASE_STATES, None, key(CaseState(case.state).name.lower()), day, 1),
    ]
    if case.facts.illegal_gains_fen:
        out.append((GAINS, None, key(ILLEGAL_GAINS_FEN), day, case.facts.illegal_gains_fen))
    for party in parties:
        for m in party.measures:
            out.append(
                (MEASURES, party.id, key(Measure(m.measure).name.lower()), day_of(m.time_us), 1)
            )
        if party.sentence_months is not None and party.sentence_us is not None:
            out.append((SENTENCES, party.id, key(SENTENCED), day_of(party.sentence_us), 1))
            if party.sentence_months:
                out.append(
                    (
                        SENTENCE_MONTHS,
                        None,
                        key(TERM_MONTHS),
                        day_of(party.sentence_us),
                        party.sentence_months,
                    )
                )
    return out


def difference(
    before: list[Contribution], after: list[Contribution]
) -> dict[str, list[tuple[int | None, Key, str, int]]]:
    """Per rollup, the deltas that take the counters from before to after."""
    out: dict[str, list[tuple[int | None, Key, str, int]]] = {}
    for sign, items in ((-1, before), (1, after)):
        for rollup, subject, k, day, n in items:
            out.setdefault(rollup, []).append((subject, k, day, sign * n))
    return out
