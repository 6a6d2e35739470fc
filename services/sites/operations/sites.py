"""Sites and their actions: the use cases the servicer calls (record, retract, reads, the
overdue list and sweep), and the writer jobs they run."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import structlog

from services.common import audit, changes, names, paging, rollups
from services.common.auth import require_role
from services.common.catalogue import Catalogue
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Reject,
    Violations,
)
from services.common.hashing import hash64
from services.common.idempotency import Answered, Once
from services.common.recording import WRITERS, BatchResult, Outcome, Records, unary_calls
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.staged import LATE_ID, Repeats, Requests
from services.sites import store
from services.sites.domain import (
    APP_ROLLUP,
    BAN_CLOSE_ACTIONS,
    BAN_CLOSE_NAMES,
    BAN_CLOSE_ROLLUP,
    SITE_ROLLUP,
    Action,
    ActionInput,
    Batch,
    Kind,
    Site,
    SiteActionRow,
    canonical_identifier,
    fold,
    next_refusal,
    next_state,
    set_state,
    state_of,
    validate_action,
)

SYSTEM = Principal(operator="system", department="office", region="", roles=frozenset())
SWEEP_LIMIT = 1000
log = structlog.get_logger()
WithDepartments = tuple[Site, list[str]]


@dataclass(frozen=True)
class ActionAnswer:
    """A site action as answered: the action, its site as it stood right after it (a
    duplicate: as it stands now), the departments on that site, and whether its request id
    had been used before."""

    action: SiteActionRow
    site: Site
    departments: list[str]
    duplicate: bool = False


@dataclass(frozen=True)
class Overdue:
    """A site past its notice's due time, with the notice."""

    site: Site
    departments: list[str]
    notice: SiteActionRow


def action_name(site_id: int, action_id: int) -> str:
    return f"sites/{site_id}/actions/{action_id}"


def record_actions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, ActionInput]],
    now_us: int,
    strict: bool,
    batch: Batch | None = None,
    calls: bool = False,
) -> BatchResult:
    """Record validated site actions, set-based (each step one statement over the batch; see
    store: ACTION_STAGE and after). strict: a refused one raises (and, in a transaction job,
    undoes the whole job); otherwise it is reported and the others go on. calls: the items
    are unary calls (recording.unary_calls), each audited as one."""
    stage, inputs = store.ACTION_STAGE, dict(items)
    repeats = Repeats()
    rows: list[tuple[object, ...]] = []
    for index, a in items:
        key, body = hash64(a.request_id), a.body_hash()
        if not repeats.seen(index, key, a.request_id, body):
            rows.append(_stage_row(index, key, body, a, batch.id if batch else 0, now_us))
    stage.load(conn, rows)
    requests = Requests(conn, stage, "site_actions", repeats)
    made_after = store.create_staged_sites(conn, stage)
    late = store.mark_late_sites(conn)
    sites, states, late_refused = _fold_late(conn, late, inputs, now_us) if late else ({}, {}, {})
    requests.refuse(conn, stage, late_refused)
    moves = {
        idx: Reject(next_refusal(status, due_us, inputs[idx].action), "action")
        for idx, status, due_us in store.moves_refused(conn, now_us)
    }
    requests.refuse(conn, stage, moves)
    if strict and requests.refused:
        raise requests.refused[min(requests.refused)].error
    store.drop_unused_sites(conn, stage, made_after)
    store.count_new_sites(conn, made_after)
    numbered_after = store.number_actions(conn)
    accepted = stage.accepted(conn)
    ids = {idx: numbered_after + n for n, idx in enumerate(accepted, 1)}
    for site in sites.values():  # a late notice's provisional id, now its own
        if site.notice_action_id is not None and site.notice_action_id >= LATE_ID:
            site.notice_action_id = ids[site.notice_action_id - LATE_ID]
    store.update_sites(conn, sites.values())
    store.move_sites(conn, now_us)
    store.insert_staged_site_actions(conn, principal.operator, now_us)
    rollups.add_staged(conn, SITE_ROLLUP, stage, "site_id")
    rollups.add_staged(conn, APP_ROLLUP, stage, "site_id", f"s.site_kind = {int(Kind.APP)}")
    shut = ", ".join(str(int(a)) for a in BAN_CLOSE_ACTIONS)
    rollups.add_staged(conn, BAN_CLOSE_ROLLUP, stage, "site_id", f"s.action IN ({shut})")
    store.count_status_moves(conn, store.status_moves(conn))
    requests.settle(ids)
    result = BatchResult(first_request_id=items[0][1].request_id if items else "")
    result.note(lambda idx: inputs[idx].request_id, requests.prior, requests.refused)
    written = store.site_action_rows_after(conn, numbered_after)
    after = store.get_sites(conn, list({int(r[1]) for r in written}))
    audited = (strict and batch is None) or calls
    covered = store.AUDITED_ACTIONS.each([r[0] for r in written], (store.ACTION_COLS, written))
    for idx, raw, entry in zip(accepted, written, covered, strict=True):
        row = store.action_row(raw)
        outcome = Outcome(idx, row.request_id, row.id)
        if calls:
            outcome.record, outcome.after = row, states.get(idx) or after[row.site_id]
        result.outcomes.append(outcome)
        if audited:
            name = action_name(row.site_id, row.id)
            changes.append(conn, changes.CREATED, name, row.department, row.campaign_id, now_us)
            audit.append(
                conn,
                principal,
                "RecordSiteAction",
                name,
                row.request_id,
                "recorded",
                now_us,
                [entry],
            )
    result.outcomes.sort(key=lambda o: o.index)
    return result


def _stage_row(
    index: int, key: int, body: int, a: ActionInput, batch_id: int, now_us: int
) -> tuple[object, ...]:
    """A site action's row in the batch's stage (store.ACTION_STAGE's columns)."""
    effective = now_us if a.effective_us is None else a.effective_us
    return (
        index,
        key,
        body,
        a.request_id,
        *store.site_row(a.site),
        a.action,
        Action(a.action).name.lower(),
        a.category,
        a.department,
        a.region,
        a.campaign_id,
        a.special_action,
        a.case,
        effective,
        a.due_us,
        json.dumps(list(a.problems), ensure_ascii=False),
        batch_id,
        day_of(effective),
    )


def _fold_late(
    conn: Conn, late: list[int], inputs: dict[int, ActionInput], now_us: int
) -> tuple[dict[int, Site], dict[int, Site], dict[int, Reject]]:
    """Sites with several actions in the batch, or one reaching back before their last: the
    part that is not set-based (each action is judged against the state the one before
    left). Their actions of the batch, in its order, each moved on or folded into the
    history again. Returns the sites as left (to save once their notices' ids are known),
    each action's site right after it, and the refused."""
    sites = store.get_sites(conn, late)
    history = store.site_histories(conn, late)
    earlier: dict[int, list[SiteActionRow]] = defaultdict(list)
    states: dict[int, Site] = {}
    refused: dict[int, Reject] = {}
    for idx, site_id in store.ACTION_STAGE.late(conn, "site_id"):
        a, site = inputs[idx], sites[site_id]
        row = SiteActionRow(
            LATE_ID + idx,
            site_id,
            a.request_id,
            a.action,
            a.category,
            a.department,
            a.region,
            a.campaign_id,
            a.special_action,
            a.case,
            "",
            now_us if a.effective_us is None else a.effective_us,
            a.due_us,
            a.problems,
            0,
            now_us,
        )
        try:
            _advance(site, row, [*history[site_id], *earlier[site_id]], now_us)
        except FailedPrecondition as e:
            refused[idx] = Reject(e, "action")
            continue
        for attr in ("display_name", "operator_entity", "icp_filing", "region"):
            if getattr(a.site, attr):
                setattr(site, attr, getattr(a.site, attr))
        site.revision += 1
        earlier[site_id].append(row)
        states[idx] = replace(site)
    return {i: sites[i] for i in earlier}, states, refused


def _count(
    conn: Conn,
    book: store.SiteBook,
    deltas: list[tuple[int | None, rollups.Key, str, int]],
    new: set[int],
) -> None:
    """Site-action counters, and the same for apps alone and for bans and closures alone."""
    rollups.apply(conn, SITE_ROLLUP, deltas, new)
    apps = [d for d in deltas if d[0] is not None and book.by_id[d[0]].kind == Kind.APP]
    if apps:
        rollups.apply(conn, APP_ROLLUP, apps, new)
    shut = [d for d in deltas if d[1][1] in BAN_CLOSE_NAMES]
    if shut:
        rollups.apply(conn, BAN_CLOSE_ROLLUP, shut, new)


def ban_close_deltas(conn: Conn) -> Iterator[rollups.Delta]:
    """The bans-and-closures rollup's deltas, from the live ban and close actions."""
    for row in store.live_actions(conn, [int(a) for a in BAN_CLOSE_ACTIONS]):
        yield (row.site_id, row.rollup_key(), day_of(row.effective_us), 1)


def _advance(site: Site, row: SiteActionRow, before: list[SiteActionRow], now_us: int) -> None:
    """Move a site on by one action (refolding it with the actions before it when it
    arrives out of order)."""
    if site.last_action_us is None or row.effective_us >= site.last_action_us:
        set_state(site, next_state(state_of(site, now_us), row.action, row.id, row.due_us))
        site.action_count += 1
        site.first_action_us = site.first_action_us or row.effective_us
        site.last_action_us = row.effective_us
        return
    fold(site, [*before, row], now_us)


def retract_action(
    conn: Conn,
    principal: Principal,
    site_id: int,
    action_id: int,
    reason: str,
    request_id: str,
    now_us: int,
) -> tuple[SiteActionRow, Site]:
    row = store.get_action(conn, action_id)
    if row is None or row.site_id != site_id:
        raise NotFound(f"{action_name(site_id, action_id)} not found")
    if row.department != principal.department:
        raise PermissionDenied(
            f"the action was recorded by {row.department!r}", reason="WRONG_DEPARTMENT"
        )
    if row.retracted_us is not None:
        raise FailedPrecondition("the action is already retracted", reason="ALREADY_RETRACTED")
    book = store.SiteBook(conn, ids=[site_id])
    site = book.by_id[site_id]
    history = store.actions_of(conn, site_id)
    for h in history:
        if h.id == row.id:
            h.retracted_us = now_us
    try:
        fold(site, history, now_us)
    except FailedPrecondition as e:
        raise FailedPrecondition(
            f"retracting it would leave a later action invalid ({e}): retract that one first",
            reason="LATER_ACTION_DEPENDS",
        ) from None
    book.touch(site)
    row.retracted_us, row.retract_reason, row.retracted_by = now_us, reason, principal.operator
    store.retract_action(conn, row.id, now_us, reason, principal.operator)
    book.save()
    _count(conn, book, [(site.id, row.rollup_key(), day_of(row.effective_us), -1)], set())
    name = action_name(site_id, action_id)
    changes.append(conn, changes.RETRACTED, name, row.department, row.campaign_id, now_us)
    audit.append(
        conn,
        principal,
        "RetractSiteAction",
        name,
        request_id,
        "retracted",
        now_us,
        [store.AUDITED_RETRACTIONS.rows([row.id])],
    )
    return row, site


def sweep_overdue(conn: Conn, now_us: int) -> int:
    """Mark notified sites whose notice is past due as overdue; returns how many."""
    due = store.due_notices(conn, now_us, SWEEP_LIMIT)
    if not due:
        return 0
    book = store.SiteBook(conn, ids=[s.id for s in due])
    for site in book.by_id.values():
        set_state(site, state_of(site, now_us))
        book.touch(site)
        notice = store.get_action(conn, site.notice_action_id or 0)
        changes.append(
            conn,
            changes.UPDATED,
            f"sites/{site.id}",
            notice.department if notice else "",
            notice.campaign_id if notice else "",
            now_us,
        )
    book.save()
    audit.append(conn, SYSTEM, "OverdueSweep", "sites", "", f"overdue={len(due)}", now_us)
    return len(due)


def _action_answers(c: Conn, outcomes: list[Outcome]) -> list[ActionAnswer]:
    """Each action with its site as it stood right after it (a duplicate: as it stands now);
    three look-ups for the whole batch. The calls of a batch are in one department: a site's
    departments after the batch are those after any of its records."""
    rows = store.get_actions(c, [o.record_id for o in outcomes])
    sites = store.get_sites(c, [rows[o.record_id].site_id for o in outcomes if o.after is None])
    departments = rollups.departments_of(c, SITE_ROLLUP, [r.site_id for r in rows.values()])
    answers: list[ActionAnswer] = []
    for o in outcomes:
        row = rows[o.record_id]
        site = o.after or sites[row.site_id]
        answers.append(
            ActionAnswer(row, site, departments.get(row.site_id, []), duplicate=o.duplicate)
        )
    return answers


def _record_calls(
    conn: Conn, principal: Principal, items: list[tuple[int, ActionInput]], now_us: int
) -> BatchResult:
    return record_actions(conn, principal, items, now_us, strict=False, calls=True)


# RecordSiteAction calls of one principal waiting at the same moment are written as one
# batch (Database.write_batched).
ACTION_CALLS = unary_calls(_record_calls, _action_answers)


def _with_departments(c: Conn, sites: list[Site]) -> list[WithDepartments]:
    deps = rollups.departments_of(c, SITE_ROLLUP, [s.id for s in sites])
    return [(s, deps.get(s.id, [])) for s in sites]


class Sites(Records[ActionInput]):
    """The use cases of sites and their actions, as the servicer calls them: each authorizes
    its caller, checks its input and reads or writes in one transaction, taking and returning
    domain objects. record (one action, as an ActionAnswer) is that of every record a
    department writes (Records)."""

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        super().__init__(
            runtime.db,
            runtime.clock,
            runtime.settings.reference,
            catalogue,
            validate_action,
            ACTION_CALLS,
        )
        self.rt = runtime

    async def retract(self, name: str, reason: str, once: Once) -> Answered:
        """The answer (see Once) of retracting an action: the action and its site."""
        principal = require_role(*WRITERS)
        v = Violations()
        check_request_id(once.request_id, v)
        v.check(0 < len(reason) <= 512, "reason", "required, at most 512 characters")
        v.raise_if_any()
        site_id, action_id = names.parse(name, "name", "sites", "actions")
        now = self.rt.clock.now_us()

        def work(c: Conn) -> ActionAnswer:
            row, site = retract_action(
                c, principal, site_id, action_id, reason, once.request_id, now
            )
            deps = rollups.departments_of(c, SITE_ROLLUP, [site.id]).get(site.id, [])
            return ActionAnswer(row, site, deps)

        return await self.db.write(once.job(work, now))

    async def get(self, name: str) -> WithDepartments:
        (site_id,) = names.parse(name, "name", "sites")
        found = await self.db.read(
            lambda c: _with_departments(c, [s for s in [store.get_site(c, site_id)] if s])
        )
        if not found:
            raise NotFound(f"{name} not found")
        return found[0]

    async def batch_get(self, requested: Sequence[str]) -> tuple[list[WithDepartments], list[str]]:
        """The sites found, in the order asked, and the names not found."""
        ids = paging.batch_ids(requested, "sites")
        found = await self.db.read(
            lambda c: _with_departments(c, list(store.get_sites(c, ids).values()))
        )
        return paging.found_and_missing(requested, ids, {s.id: (s, d) for s, d in found})

    async def list_sites(
        self,
        page_size: int,
        page_token: str,
        kind: int,
        status: int,
        identifier: str,
        marks: dict[str, str],
    ) -> tuple[list[WithDepartments], str]:
        """A page of sites; marks: department, campaign_id, category (those set)."""
        size = paging.page_size(page_size)
        if identifier:
            identifier = canonical_identifier(kind, identifier) or ""
            if not identifier:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "identifier", "must be a host or package id (and kind must be set)"
                        )
                    ]
                )
        marks = {k: val for k, val in marks.items() if val}
        bound = [kind, status, identifier, marks]
        after = paging.decode(page_token, bound) or 0
        rows = await self.db.read(
            lambda c: _with_departments(
                c, store.list_sites(c, after, size + 1, kind, status, identifier, marks)
            )
        )
        return paging.cut(rows, size, bound, key=lambda r: r[0].id)

    async def list_actions(
        self, parent: str, page_size: int, page_token: str, newest_first: bool
    ) -> tuple[list[SiteActionRow], str]:
        return await paging.child_page(
            self.db,
            parent,
            page_size,
            page_token,
            newest_first,
            "sites",
            lambda c, i: store.get_site(c, i) is not None,
            store.actions_of,
        )

    async def list_overdue(
        self, page_size: int, page_token: str, department: str, notice_batch: str
    ) -> tuple[list[Overdue], str]:
        """Sites past their notice's due time now (live: the sweep need not have run)."""
        size = paging.page_size(page_size)
        batch_id = (
            names.parse(notice_batch, "notice_batch", "noticeBatches")[0] if notice_batch else 0
        )
        bound = [department, batch_id]
        after = paging.decode(page_token, bound) or 0
        now = self.rt.clock.now_us()

        def read(c: Conn) -> list[Overdue]:
            rows = store.overdue(c, now, after, size + 1, department, batch_id)
            deps = rollups.departments_of(c, SITE_ROLLUP, [s.id for s, _ in rows])
            return [Overdue(s, deps.get(s.id, []), a) for s, a in rows]

        return paging.cut(await self.db.read(read), size, bound, key=lambda r: r.site.id)


def check_request_id(request_id: str, v: Violations) -> None:
    v.check(0 < len(request_id) <= 128, "request_id", "required, at most 128 characters")


async def overdue_sweep(runtime: Runtime) -> None:
    """Background loop: mark past-due notices overdue (and emit their change events)."""
    while True:
        marked = await runtime.db.write(lambda c: sweep_overdue(c, runtime.clock.now_us()))
        if marked:
            log.info("overdue sweep", marked=marked)
        if marked < SWEEP_LIMIT:
            await asyncio.sleep(runtime.settings.overdue_sweep_seconds)
