"""What a caller may see of cases, drafts and clues: one case, pages of cases, the change feed.
Every read goes through the one rule of the domain (`can_view`, `clue_visible`)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.domain import Case, Handover, TypicalState, can_view, clue_visible
from services.common import changes, names
from services.common.context import Principal, current_principal
from services.common.errors import NotFound, PermissionDenied
from services.common.reference import COORDINATING_OFFICE
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime

SCAN = 200  # cases read at a time while filling a page of visible ones


def require_visible(principal: Principal, case: Case) -> None:
    if not can_view(principal, case):
        raise PermissionDenied(
            "case details are for the lead office and the assisting and coordinating "
            "offices of the areas the case involves",
            reason="CASE_NOT_VISIBLE",
        )


async def visible_case(rt: Runtime, name: str, field: str = "name") -> tuple[Principal, Case]:
    """The case a name gives, if the caller may see it: NOT_FOUND, else PERMISSION_DENIED."""
    (case_id,) = names.parse(name, field, "cases")
    principal = current_principal()
    case = await rt.db.read(lambda c: store.get_case(c, case_id))
    if case is None:
        raise NotFound(f"{name} not found")
    require_visible(principal, case)
    return principal, case


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


def feed_view(principal: Principal) -> changes.View:
    """The caller's view of the change feed, applied in the snapshot of each batch it reads."""
    return partial(readable_changes, principal)
