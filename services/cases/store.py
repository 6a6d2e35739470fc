"""SQL for campaigns, clues, hand-overs, cases, events, parties and typical cases."""

from __future__ import annotations

import json
from dataclasses import astuple
from functools import cache

from services.cases.domain import (
    Campaign,
    Case,
    Clue,
    Event,
    Facts,
    Handover,
    MeasureIssued,
    MeasureRecord,
    Party,
    TypicalCase,
    TypicalState,
    area_prefix,
)
from services.common import audit
from services.common.storage import Conn
from services.common.storage.keys import next_id
from services.common.storage.sql import NO_LIMIT, rows_in

CAMPAIGN_COLS = (
    "id, slug, title, start_us, end_us, lead_department, participating, "
    "special_actions, create_us, update_us, revision"
)
CASE_COLS = (
    "id, number, title, kind, lead_department, lead_region, assisting, provinces, "
    "campaign_id, special_action, categories, state, facts, linked, create_us, "
    "update_us, revision, register_us"
)
CLUE_COLS = (
    "id, source, summary, holder_department, holder_region, category, campaign_id, "
    "special_action, state, case_id, create_us, revision"
)
HANDOVER_COLS = (
    "id, clue_id, from_department, from_region, to_department, to_region, note, "
    "state, sent_us, sent_by, ack_us, ack_by, resolve_us, resolved_by, case_id, "
    "return_reasons"
)
EVENT_COLS = "id, case_id, kind, time_us, actor, department, detail, fields, from_state, to_state"
PARTY_COLS = (
    "id, case_id, kind, real_name, masked_name, role, sentence_months, "
    "sentence_fine_fen, sentence_us"
)
# A typical case's columns that its publication's audit entry commits to; the region code
# beside them is its case's lead region when it was written (cases change in place: the
# audit entries and the timeline keep their changes).
TYPICAL_AUDITED_COLS = (
    "id, case_id, campaign_id, title, region, summary, outcome, publish_us, "
    "published_by, department, state, vetted_party_id"
)
TYPICAL_COLS = f"{TYPICAL_AUDITED_COLS}, region_code"
# What audit entries commit to: the append-only records (a case's timeline, coercive
# measures, published typical cases). Cases, parties and clues change in place: their
# changes are in the timeline and the audit entries themselves.
AUDITED_EVENTS = audit.covered("case_events", EVENT_COLS)
AUDITED_MEASURES = audit.covered("party_measures", "id, party_id, measure, time_us, department")
# A typical case's text is written once (a draft, or the lead office's own publish); the
# whole row once more when it is published, and never after.
AUDITED_TYPICAL_TEXT = audit.covered(
    "typical_cases", "id, case_id, title, region, summary, outcome", name="typical_case_texts"
)
AUDITED_TYPICAL = audit.covered("typical_cases", TYPICAL_AUDITED_COLS, every_row=False)
MEASURE_ISSUED_COLS = (
    "id, campaign_id, department, kind, title, issue_us, special_action, recorded_by, create_us"
)
AUDITED_MEASURES_ISSUED = audit.covered("measures_issued", MEASURE_ISSUED_COLS)


def _q(n: int) -> str:
    return ",".join("?" * n)


def _j(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


__all__ = ["next_id"]


# --- campaigns ---------------------------------------------------------------------------


def _campaign(row: tuple[object, ...]) -> Campaign:
    v = list(row)
    v[6] = json.loads(str(v[6]))
    v[7] = [tuple(x) for x in json.loads(str(v[7]))]
    return Campaign(*v)  # type: ignore[arg-type]


@cache
def _save(table: str, columns: str) -> str:
    """Insert the row, or replace the stored one with its id."""
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c != "id")
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({_q(len(names))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def save_campaign(conn: Conn, c: Campaign) -> None:
    conn.execute(
        _save("campaigns", CAMPAIGN_COLS),
        (
            c.id,
            c.slug,
            c.title,
            c.start_us,
            c.end_us,
            c.lead_department,
            _j(c.participating),
            _j(c.special_actions),
            c.create_us,
            c.update_us,
            c.revision,
        ),
    )


def campaign_by_slug(conn: Conn, slug: str) -> Campaign | None:
    row = conn.execute(f"SELECT {CAMPAIGN_COLS} FROM campaigns WHERE slug = ?", (slug,)).fetchone()
    return _campaign(row) if row else None


def list_campaigns(conn: Conn, after_id: int, limit: int) -> list[Campaign]:
    rows = conn.execute(
        f"SELECT {CAMPAIGN_COLS} FROM campaigns WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )
    return [_campaign(r) for r in rows]


# --- measures issued ---------------------------------------------------------------------


def add_measure_issued(conn: Conn, m: MeasureIssued) -> None:
    conn.execute(
        f"INSERT INTO measures_issued ({MEASURE_ISSUED_COLS}) VALUES ({_q(9)})", astuple(m)
    )


def list_measures_issued(
    conn: Conn, campaign_id: str, after_id: int, limit: int
) -> list[MeasureIssued]:
    rows = conn.execute(
        f"SELECT {MEASURE_ISSUED_COLS} FROM measures_issued WHERE campaign_id = ? AND id > ? "
        "ORDER BY id LIMIT ?",
        (campaign_id, after_id, limit),
    )
    return [MeasureIssued(*r) for r in rows]


# --- cases -------------------------------------------------------------------------------


def _case(row: tuple[object, ...]) -> Case:
    v = list(row)
    for i in (6, 7, 10, 13):
        v[i] = json.loads(str(v[i]))
    f = json.loads(str(v[12]))
    f["items"] = [tuple(x) for x in f["items"]]
    v[12] = Facts(**f)
    return Case(*v)  # type: ignore[arg-type]


def save_case(conn: Conn, c: Case) -> None:
    facts = c.facts.__dict__
    conn.execute(
        _save("cases", CASE_COLS),
        (
            c.id,
            c.number,
            c.title,
            c.kind,
            c.lead_department,
            c.lead_region,
            _j(c.assisting),
            _j(c.provinces),
            c.campaign_id,
            c.special_action,
            _j(c.categories),
            c.state,
            _j(facts),
            _j(c.linked),
            c.create_us,
            c.update_us,
            c.revision,
            c.register_us,
        ),
    )


def get_case(conn: Conn, case_id: int) -> Case | None:
    row = conn.execute(f"SELECT {CASE_COLS} FROM cases WHERE id = ?", (case_id,)).fetchone()
    return _case(row) if row else None


def get_cases(conn: Conn, ids: list[int]) -> dict[int, Case]:
    sql = f"SELECT {CASE_COLS} FROM cases WHERE id IN ({{ids}})"
    return {row[0]: _case(row) for row in rows_in(conn, sql, ids)}


def list_cases(
    conn: Conn,
    after_id: int,
    limit: int,
    department: str,
    everything: bool,
    filters: dict[str, object],
) -> list[Case]:
    """Cases after an id that match the filters and that the department may see."""
    conds: list[str] = ["id > ?"]
    params: list[object] = [after_id]
    for column, value in filters.items():
        if value:
            conds.append(f"{column} = ?")
            params.append(value)
    if not everything:
        conds.append(
            "(lead_department = ? OR EXISTS (SELECT 1 FROM json_each(assisting) WHERE value = ?))"
        )
        params += [department, department]
    rows = conn.execute(
        f"SELECT {CASE_COLS} FROM cases WHERE {' AND '.join(conds)} ORDER BY id LIMIT ?",
        (*params, limit),
    )
    return [_case(r) for r in rows]


def cases_by_number(conn: Conn, number: str, limit: int = 100) -> list[Case]:
    rows = conn.execute(
        f"SELECT {CASE_COLS} FROM cases WHERE number = ? ORDER BY id LIMIT ?", (number, limit)
    )
    return [_case(r) for r in rows]


# An id given, or else the next (the writers take turns: see storage.writer).
_NEXT_ID = "COALESCE(CAST(? AS BIGINT), (SELECT COALESCE(MAX(id), 0) + 1 FROM {}))"


def add_event(conn: Conn, e: Event) -> int:
    cursor = conn.execute(
        f"INSERT INTO case_events ({EVENT_COLS}) VALUES ({_NEXT_ID.format('case_events')}, "
        f"{_q(9)}) RETURNING id",
        (
            e.id or None,
            e.case_id,
            e.kind,
            e.time_us,
            e.actor,
            e.department,
            e.detail,
            _j(e.fields),
            e.from_state,
            e.to_state,
        ),
    )
    return int(cursor.fetchone()[0])


def events_of(conn: Conn, case_id: int, after_id: int, limit: int) -> list[Event]:
    rows = conn.execute(
        f"SELECT {EVENT_COLS} FROM case_events WHERE case_id = ? AND id > ? ORDER BY id LIMIT ?",
        (case_id, after_id, limit),
    )
    out = []
    for r in rows:
        v = list(r)
        v[7] = json.loads(v[7])
        out.append(Event(*v))
    return out


# --- clues and hand-overs ----------------------------------------------------------------


def save_clue(conn: Conn, c: Clue) -> None:
    conn.execute(_save("clues", CLUE_COLS), astuple(c))


def get_clue(conn: Conn, clue_id: int) -> Clue | None:
    row = conn.execute(f"SELECT {CLUE_COLS} FROM clues WHERE id = ?", (clue_id,)).fetchone()
    return Clue(*row) if row else None


def _handover(row: tuple[object, ...]) -> Handover:
    v = list(row)
    v[15] = json.loads(str(v[15]))
    return Handover(*v)  # type: ignore[arg-type]


def save_handover(conn: Conn, h: Handover) -> None:
    values = list(astuple(h))
    values[15] = _j(h.return_reasons)
    conn.execute(_save("handovers", HANDOVER_COLS), values)


def get_handover(conn: Conn, handover_id: int) -> Handover | None:
    row = conn.execute(
        f"SELECT {HANDOVER_COLS} FROM handovers WHERE id = ?", (handover_id,)
    ).fetchone()
    return _handover(row) if row else None


def handovers_of(conn: Conn, clue_id: int) -> list[Handover]:
    rows = conn.execute(
        f"SELECT {HANDOVER_COLS} FROM handovers WHERE clue_id = ? ORDER BY id", (clue_id,)
    )
    return [_handover(r) for r in rows]


def list_handovers(
    conn: Conn,
    department: str,
    area: str,
    incoming: bool,
    state: int,
    sent_before_us: int | None,
    after_id: int,
    limit: int,
) -> list[Handover]:
    side = "to" if incoming else "from"
    conds: list[str] = [f"{side}_department = ?", "id > ?"]
    params: list[object] = [department, after_id]
    if area:  # a regional office: the hand-overs of its area
        conds.append(f"substr({side}_region, 1, ?) = ?")
        params += [len(area_prefix(area)), area_prefix(area)]
    if state:
        conds.append("state = ?")
        params.append(state)
    if sent_before_us is not None:
        conds.append("sent_us <= ?")
        params.append(sent_before_us)
    rows = conn.execute(
        f"SELECT {HANDOVER_COLS} FROM handovers WHERE {' AND '.join(conds)} ORDER BY id LIMIT ?",
        (*params, limit),
    )
    return [_handover(r) for r in rows]


# --- parties -----------------------------------------------------------------------------


def save_party(conn: Conn, p: Party) -> None:
    conn.execute(
        _save("parties", PARTY_COLS),
        (
            p.id,
            p.case_id,
            p.kind,
            p.real_name,
            p.masked_name,
            p.role,
            p.sentence_months,
            p.sentence_fine_fen,
            p.sentence_us,
        ),
    )


def add_measure(conn: Conn, party_id: int, m: MeasureRecord) -> int:
    cursor = conn.execute(
        "INSERT INTO party_measures (id, party_id, measure, time_us, department) "
        f"VALUES ({_NEXT_ID.format('party_measures')}, ?, ?, ?, ?) RETURNING id",
        (None, party_id, m.measure, m.time_us, m.department),
    )
    return int(cursor.fetchone()[0])


def parties_of(conn: Conn, case_id: int, after_id: int = 0, limit: int = NO_LIMIT) -> list[Party]:
    parties = [
        Party(r[0], r[1], r[2], r[3], r[4], r[5], [], r[6], r[7], r[8])
        for r in conn.execute(
            f"SELECT {PARTY_COLS} FROM parties WHERE case_id = ? AND id > ? ORDER BY id LIMIT ?",
            (case_id, after_id, limit),
        )
    ]
    by_id = {p.id: p for p in parties}
    if by_id:
        ids = list(by_id)
        for party_id, measure, time_us, dept in conn.execute(
            "SELECT party_id, measure, time_us, department FROM party_measures "
            f"WHERE party_id IN ({_q(len(ids))}) ORDER BY id",
            ids,
        ):
            by_id[party_id].measures.append(MeasureRecord(measure, time_us, dept))
    return parties


def last_party_id(conn: Conn, case_id: int) -> int:
    row = conn.execute("SELECT MAX(id) FROM parties WHERE case_id = ?", (case_id,)).fetchone()
    return int(row[0] or 0)


def real_names(conn: Conn, case_id: int) -> list[str]:
    return [
        r[0] for r in conn.execute("SELECT real_name FROM parties WHERE case_id = ?", (case_id,))
    ]


# --- typical cases -----------------------------------------------------------------------


def save_typical(conn: Conn, t: TypicalCase) -> None:
    conn.execute(_save("typical_cases", TYPICAL_COLS), astuple(t))


def get_typical(conn: Conn, typical_id: int) -> TypicalCase | None:
    row = conn.execute(
        f"SELECT {TYPICAL_COLS} FROM typical_cases WHERE id = ?", (typical_id,)
    ).fetchone()
    return TypicalCase(*row) if row else None


def list_typical(conn: Conn, campaign_id: str, after_id: int, limit: int) -> list[TypicalCase]:
    """Published summaries only (drafts are for those who see their case)."""
    published = f"state = {TypicalState.PUBLISHED}"
    if campaign_id:
        rows = conn.execute(
            f"SELECT {TYPICAL_COLS} FROM typical_cases WHERE campaign_id = ? "
            f"AND id > ? AND {published} ORDER BY id LIMIT ?",
            (campaign_id, after_id, limit),
        )
    else:
        rows = conn.execute(
            f"SELECT {TYPICAL_COLS} FROM typical_cases WHERE id > ? AND {published} "
            "ORDER BY id LIMIT ?",
            (after_id, limit),
        )
    return [TypicalCase(*r) for r in rows]


def get_typicals(conn: Conn, ids: list[int]) -> dict[int, TypicalCase]:
    sql = f"SELECT {TYPICAL_COLS} FROM typical_cases WHERE id IN ({{ids}})"
    return {row[0]: TypicalCase(*row) for row in rows_in(conn, sql, ids)}


def get_clues(conn: Conn, ids: list[int]) -> dict[int, Clue]:
    sql = f"SELECT {CLUE_COLS} FROM clues WHERE id IN ({{ids}})"
    return {row[0]: Clue(*row) for row in rows_in(conn, sql, ids)}


def handovers_of_clues(conn: Conn, clue_ids: list[int]) -> list[Handover]:
    sql = f"SELECT {HANDOVER_COLS} FROM handovers WHERE clue_id IN ({{ids}}) ORDER BY id"
    return [_handover(r) for r in rows_in(conn, sql, clue_ids)]
