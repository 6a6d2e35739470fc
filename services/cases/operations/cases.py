"""Cases: registered, changed and moved through their states by the lead office, read by
those the need-to-know rule lets see them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from services.cases import store
from services.cases.domain import (
    UPDATABLE,
    Case,
    CaseState,
    Event,
    EventKind,
    can_view,
    check_transition,
    require_area,
    require_lead,
    validate_case,
)
from services.cases.operations.base import (
    WRITERS,
    A,
    Call,
    case_name,
    check_etag,
    dated,
    event,
    get_case,
    log,
    mask_fields,
    once,
    refuse_real_names,
    restate,
    text,
)
from services.cases.operations.visibility import visible_case, visible_cases
from services.common import changes, names, paging
from services.common.auth import require_role, require_writer_for
from services.common.context import Principal, current_principal
from services.common.errors import FieldViolation, InvalidArgument, Violations
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime

MAX_BATCH = paging.MAX_PAGE_SIZE


async def create(rt: Runtime, call: Call[Case, A], case: Case) -> A:
    principal = require_writer_for(case.lead_department)
    v = Violations()
    validate_case(
        case, v, "case.", ("number", "kind", "lead_department", *UPDATABLE), rt.settings.reference
    )
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(rt, call, lambda c: create_case(c, principal, case, call.request_id, now))


def create_case(conn: Conn, principal: Principal, c: Case, request_id: str, now_us: int) -> Case:
    require_area(principal, c.lead_region, "lead region")
    register_us = c.register_us or now_us
    dated(conn, c.campaign_id, c.special_action, register_us, "register_time", now_us, "case.")
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
    created = event(conn, principal, c, EventKind.CREATED, f"registered case {c.number}", now_us)
    restate(conn, None, (c, []))
    log(
        conn,
        principal,
        "CreateCase",
        case_name(c.id),
        request_id,
        "created",
        now_us,
        c.campaign_id,
        changes.CREATED,
        rows=[store.AUDITED_EVENTS.rows([created])],
    )
    return c


async def update(
    rt: Runtime, call: Call[Case, A], name: str, case: Case, mask: list[str], etag: str
) -> A:
    principal = require_role(*WRITERS)
    (case_id,) = names.parse(name, "case.name", "cases")
    v = Violations()
    fields = mask_fields(mask, UPDATABLE, v)
    # Checked against the stored case: assisting departments against its lead, a special
    # action against its campaign (unless the mask changes the campaign too).
    deferred = tuple(
        f
        for f in ("assisting_departments", "special_action")
        if f in fields and (f != "special_action" or "campaign_id" not in fields)
    )
    ref = rt.settings.reference
    validate_case(case, v, "case.", tuple(f for f in fields if f not in deferred), ref)
    v.raise_if_any()
    now = rt.clock.now_us()

    def work(c: Conn) -> Case:
        current = store.get_case(c, case_id) if deferred else None
        if current is not None:
            case.lead_department = current.lead_department
            if "campaign_id" not in fields:
                case.campaign_id = current.campaign_id
            check = Violations()
            validate_case(case, check, "case.", deferred, ref)
            check.raise_if_any()
        return _update(c, principal, case_id, case, fields, etag, call.request_id, now)

    return await once(rt, call, work)


def _update(
    conn: Conn,
    principal: Principal,
    case_id: int,
    new: Case,
    fields: tuple[str, ...],
    etag: str,
    request_id: str,
    now_us: int,
) -> Case:
    case = get_case(conn, case_id)
    require_lead(principal, case)
    if "lead_region" in fields:
        require_area(principal, new.lead_region, "lead region")
    check_etag(etag, case.revision)
    if "title" in fields:  # assisting departments and the office read it
        refuse_real_names(conn, case, {"case.title": new.title})
    before = replace(case)
    attrs = {"assisting_departments": "assisting", "linked_resources": "linked"}
    for f in fields:
        setattr(case, attrs.get(f, f), getattr(new, attrs.get(f, f)))
    if "campaign_id" in fields or "special_action" in fields:
        dated(
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
    restate(conn, (before, parties), (case, parties))
    updated = event(
        conn,
        principal,
        case,
        EventKind.UPDATED,
        "changed " + ", ".join(fields),
        now_us,
        list(fields),
    )
    log(
        conn,
        principal,
        "UpdateCase",
        case_name(case.id),
        request_id,
        "updated " + ",".join(fields),
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([updated])],
    )
    return case


async def transition(
    rt: Runtime, call: Call[Case, A], name: str, to_state: int, note: str, etag: str
) -> A:
    principal = require_role(*WRITERS)
    (case_id,) = names.parse(name, "name", "cases")
    v = Violations()
    v.check(to_state in CaseState.__members__.values(), "state", "required")
    text(v, note, "note", 1000, required=False)
    v.raise_if_any()
    now = rt.clock.now_us()
    return await once(
        rt,
        call,
        lambda c: _transition(c, principal, case_id, to_state, note, etag, call.request_id, now),
    )


def _transition(
    conn: Conn,
    principal: Principal,
    case_id: int,
    to_state: int,
    note: str,
    etag: str,
    request_id: str,
    now_us: int,
) -> Case:
    case = get_case(conn, case_id)
    require_lead(principal, case)
    check_etag(etag, case.revision)
    check_transition(case, to_state)
    # The note goes into the timeline, which assisting departments and the office read.
    refuse_real_names(conn, case, {"note": note})
    before = replace(case)
    case.state, case.update_us, case.revision = to_state, now_us, case.revision + 1
    store.save_case(conn, case)
    parties = store.parties_of(conn, case.id)
    restate(conn, (before, parties), (case, parties))
    detail = f"{CaseState(before.state).name.lower()} → {CaseState(to_state).name.lower()}"
    changed = event(
        conn,
        principal,
        case,
        EventKind.STATE_CHANGED,
        f"{detail}. {note}".strip(". "),
        now_us,
        from_state=before.state,
        to_state=to_state,
    )
    log(
        conn,
        principal,
        "TransitionCase",
        case_name(case.id),
        request_id,
        detail,
        now_us,
        case.campaign_id,
        rows=[store.AUDITED_EVENTS.rows([changed])],
    )
    return case


# --- reads -------------------------------------------------------------------------------


async def get(rt: Runtime, name: str) -> Case:
    return (await visible_case(rt, name))[1]


async def batch_get(rt: Runtime, requested: list[str]) -> tuple[list[Case], list[str]]:
    """The cases asked for that the caller may see, in the order asked, and the names of
    the others (missing or not visible alike)."""
    if len(requested) > MAX_BATCH:
        raise InvalidArgument([FieldViolation("names", f"at most {MAX_BATCH}")])
    ids = [names.parse(n, f"names[{i}]", "cases")[0] for i, n in enumerate(requested)]
    principal = current_principal()
    found = await rt.db.read(lambda c: store.get_cases(c, ids))
    visible = {i: case for i, case in found.items() if can_view(principal, case)}
    return (
        [visible[i] for i in ids if i in visible],
        [n for n, i in zip(requested, ids, strict=True) if i not in visible],
    )


async def page(
    rt: Runtime, page_size: int, token: str, filters: dict[str, object]
) -> tuple[list[Case], str]:
    """A page of the cases the caller may see, the token bound to the caller's department
    and region and to the filters."""
    principal = current_principal()
    size = paging.page_size(page_size)
    bound = [principal.department, principal.region, filters]
    after = paging.decode(token, bound) or 0
    rows = await rt.db.read(lambda c: visible_cases(c, principal, after, size + 1, filters))
    return paging.cut(rows, size, bound)


@dataclass(frozen=True)
class Holder:
    """Who holds a case number: departments to contact; the case only for those who see it."""

    case: str
    lead_department: str
    assisting: list[str]


async def holders(rt: Runtime, number: str) -> list[Holder]:
    if not number or len(number) > 32:
        raise InvalidArgument([FieldViolation("number", "required, at most 32 characters")])
    principal = current_principal()
    found = await rt.db.read(lambda c: store.cases_by_number(c, number))
    return [
        Holder(case_name(c.id) if can_view(principal, c) else "", c.lead_department, c.assisting)
        for c in found
    ]


async def events(rt: Runtime, parent: str, page_size: int, token: str) -> tuple[list[Event], str]:
    _, case = await visible_case(rt, parent, "parent")
    size = paging.page_size(page_size)
    after = paging.decode(token, parent) or 0
    rows = await rt.db.read(lambda c: store.events_of(c, case.id, after, size + 1))
    return paging.cut(rows, size, parent)
