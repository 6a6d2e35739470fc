"""Clues and their hand-overs: recorded by a holder, sent to another office, acknowledged,
accepted into a case or returned, each step timed; a hand-over not acknowledged in time is
overdue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.domain import (
    HANDOVERS,
    UPDATABLE,
    Case,
    Clue,
    ClueSource,
    ClueState,
    EventKind,
    Handover,
    HandoverState,
    assists,
    check_handover_step,
    clue_visible,
    covers,
    require_area,
    validate_case,
)
from services.cases.operations.base import (
    WRITERS,
    A,
    Call,
    case_name,
    count,
    dated,
    event,
    get_case,
    log,
    once,
    text,
)
from services.cases.operations.cases import create_case
from services.common import changes, names, paging
from services.common.auth import require_role, require_writer_for
from services.common.clock import day_of
from services.common.context import Principal, current_principal
from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.reference import is_region, is_slug
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime


@dataclass(frozen=True)
class Timed:
    """A hand-over as of a moment: overdue when still unacknowledged past the timeout."""

    handover: Handover
    overdue: bool
    ack_deadline_us: int | None = None  # while sent: when it must be acknowledged by


def _timed(rt: Runtime, handovers: list[Handover]) -> list[Timed]:
    now = rt.clock.now_us()
    timeout = _ack_timeout_us(rt)
    return [
        Timed(
            h,
            h.overdue(now, timeout),
            h.sent_us + timeout if h.state == HandoverState.SENT else None,
        )
        for h in handovers
    ]


async def _step(rt: Runtime, call: Call[Timed, A], work: Callable[[Conn], Handover]) -> A:
    """A hand-over's step, run once per request id, answered with the hand-over as of now."""
    return await once(rt, call, lambda c: _timed(rt, [work(c)])[0])


def _ack_timeout_us(rt: Runtime) -> int:
    return int(rt.settings.handover_ack_seconds * 1_000_000)


async def record(rt: Runtime, call: Call[Clue, A], clue: Clue) -> A:
    principal = require_writer_for(clue.holder_department)
    ref = rt.settings.reference
    v = Violations()
    v.check(clue.source in ClueSource.__members__.values(), "clue.source", "required")
    text(v, clue.summary, "clue.summary")
    v.check(
        clue.holder_department in ref.departments, "clue.holder_department", "unknown department"
    )
    v.check(
        not clue.holder_region or is_region(clue.holder_region),
        "clue.holder_region",
        "must be a 6-digit division code",
    )
    v.check(clue.category in ref.categories, "clue.category", "unknown category")
    v.check(not clue.campaign_id or is_slug(clue.campaign_id), "clue.campaign_id", "must be a slug")
    v.check(
        not clue.special_action or (is_slug(clue.special_action) and bool(clue.campaign_id)),
        "clue.special_action",
        "must be a slug, with a campaign_id",
    )
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(rt, call, lambda c: _record(c, principal, clue, call.request_id, now))


def _record(conn: Conn, principal: Principal, c: Clue, request_id: str, now_us: int) -> Clue:
    require_area(principal, c.holder_region, "holder region")
    dated(conn, c.campaign_id, c.special_action, None, "", now_us, "clue.")
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
    log(
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


async def get(rt: Runtime, name: str) -> tuple[Clue, list[Timed]]:
    """A clue and its hand-overs, for the offices it passed through."""
    (clue_id,) = names.parse(name, "name", "clues")

    def read(c: Conn) -> tuple[Clue | None, list[Handover]]:
        return store.get_clue(c, clue_id), store.handovers_of(c, clue_id)

    clue, handovers = await rt.db.read(read)
    if clue is None:
        raise NotFound(f"{name} not found")
    if not clue_visible(current_principal(), clue, handovers):
        raise PermissionDenied(
            "the clue is for the offices it passed through", reason="CLUE_NOT_VISIBLE"
        )
    return clue, _timed(rt, handovers)


def _clue(conn: Conn, clue_id: int) -> Clue:
    clue = store.get_clue(conn, clue_id)
    if clue is None:
        raise NotFound(f"clues/{clue_id} not found")
    return clue


def _count_step(conn: Conn, clue: Clue, department: str, step: HandoverState, now: int) -> None:
    key = (department, step.name.lower(), clue.category, clue.campaign_id, clue.special_action)
    count(conn, HANDOVERS, key, day_of(now))


async def transfer(
    rt: Runtime,
    call: Call[Timed, A],
    name: str,
    to_department: str,
    to_region: str,
    note: str,
) -> A:
    principal = require_role(*WRITERS)
    v = Violations()
    v.check(
        to_department in rt.settings.reference.departments, "to_department", "unknown department"
    )
    v.check(not to_region or is_region(to_region), "to_region", "must be a 6-digit division code")
    text(v, note, "note", required=False)
    v.raise_if_any()
    (clue_id,) = names.parse(name, "clue", "clues")
    now = rt.clock.now_us()

    return await _step(
        rt,
        call,
        lambda c: _transfer(
            c, principal, clue_id, to_department, to_region, note, call.request_id, now
        ),
    )


def _transfer(
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
    _count_step(conn, clue, principal.department, HandoverState.SENT, now_us)
    log(
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


async def acknowledge(rt: Runtime, call: Call[Timed, A], name: str) -> A:
    principal = require_role(*WRITERS)
    clue_id, handover_id = names.parse(name, "name", "clues", "handovers")
    now = rt.clock.now_us()

    return await _step(
        rt, call, lambda c: _acknowledge(c, principal, clue_id, handover_id, call.request_id, now)
    )


def _acknowledge(
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
    _count_step(conn, clue, principal.department, HandoverState.ACKNOWLEDGED, now_us)
    log(
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


async def accept(
    rt: Runtime,
    call: Call[tuple[Timed, Case], A],
    name: str,
    case: str,
    new_case: Case | None,
) -> A:
    """Accept a hand-over into a case the receiving office holds (case) or opens (new_case)."""
    principal = require_role(*WRITERS)
    clue_id, handover_id = names.parse(name, "name", "clues", "handovers")
    v = Violations()
    joining = bool(case)
    v.check(
        joining != (new_case is not None),
        "case",
        "give either case (to join) or new_case (to open)",
    )
    if new_case is not None:
        new_case = replace(new_case, lead_department=principal.department)
        validate_case(
            new_case, v, "new_case.", ("number", "kind", *UPDATABLE), rt.settings.reference
        )
    v.raise_if_any()
    case_id = names.parse(case, "case", "cases")[0] if joining else None
    now = rt.clock.now_us()

    def work(c: Conn) -> tuple[Timed, Case]:
        h, joined = _accept(
            c, principal, clue_id, handover_id, case_id, new_case, call.request_id, now
        )
        return _timed(rt, [h])[0], joined

    return await once(rt, call, work)


def _accept(
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
        case = get_case(conn, case_id)
        if not assists(principal, case):
            raise PermissionDenied(
                "a clue joins a case the receiving office leads or assists",
                reason="CASE_NOT_OURS",
            )
        joined = event(
            conn, principal, case, EventKind.CLUE_JOINED, f"clue clues/{clue.id} joined", now_us
        )
    else:
        assert new_case is not None
        case = create_case(conn, principal, new_case, request_id, now_us)
        joined = event(
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
    _count_step(conn, clue, principal.department, HandoverState.ACCEPTED, now_us)
    log(
        conn,
        principal,
        "AcceptHandover",
        f"clues/{clue.id}/handovers/{h.id}",
        request_id,
        f"accepted into {case_name(case.id)}",
        now_us,
        clue.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([joined])],
    )
    return h, case


async def give_back(rt: Runtime, call: Call[Timed, A], name: str, reasons: list[str]) -> A:
    """Return a hand-over to the office that sent it, with reasons."""
    principal = require_role(*WRITERS)
    clue_id, handover_id = names.parse(name, "name", "clues", "handovers")
    v = Violations()
    v.check(
        0 < len(reasons) <= 20 and all(0 < len(r) <= 512 for r in reasons),
        "reasons",
        "1 to 20 reasons of at most 512 characters",
    )
    v.raise_if_any()
    now = rt.clock.now_us()

    return await _step(
        rt,
        call,
        lambda c: _give_back(c, principal, clue_id, handover_id, reasons, call.request_id, now),
    )


def _give_back(
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
    _count_step(conn, clue, principal.department, HandoverState.RETURNED, now_us)
    log(
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


async def page(
    rt: Runtime, page_size: int, token: str, incoming: bool, state: int, overdue_only: bool
) -> tuple[list[Timed], str]:
    """The hand-overs of the caller's department within its area, sent or received; overdue
    ones only: sent and unacknowledged past the timeout."""
    principal = current_principal()
    size = paging.page_size(page_size)
    bound = [principal.department, principal.region, incoming, state, overdue_only]
    after = paging.decode(token, bound) or 0
    now = rt.clock.now_us()
    if overdue_only and state not in (0, HandoverState.SENT):
        raise InvalidArgument([FieldViolation("state", "overdue hand-overs are 'sent'")])
    wanted = HandoverState.SENT if overdue_only else state
    before = now - _ack_timeout_us(rt) if overdue_only else None
    rows = await rt.db.read(
        lambda c: store.list_handovers(
            c,
            principal.department,
            principal.region,
            incoming,
            wanted,
            before,
            after,
            size + 1,
        )
    )
    found, next_token = paging.cut(rows, size, bound)
    return _timed(rt, found), next_token
