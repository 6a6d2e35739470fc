"""Accounts use cases, each one transaction on the writer: record (one or a batch), retract."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace

from services.accounts import store
from services.accounts.domain import (
    GROUP_ROLLUP,
    ROLLUP,
    Account,
    Action,
    ActionInput,
    ActionRecord,
    Kind,
    Status,
    fold,
    next_status,
)
from services.common import audit, changes, rollups
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Reject,
)
from services.common.recording import BatchResult, Outcome
from services.common.storage import Conn
from services.common.storage.keys import RequestKeys, ids_taken, take_ids
from services.common.storage.writer import STEP, run_through


def action_name(account_id: int, action_id: int) -> str:
    return f"accounts/{account_id}/actions/{action_id}"


@dataclass
class Recorded:
    """What a record call wrote: its outcomes, and the new actions with their accounts."""

    result: BatchResult
    actions: list[ActionRecord]
    accounts: dict[int, Account]  # id -> account as written
    new_accounts: set[int]


@dataclass(frozen=True)
class Answer:
    """One unary record as answered: the action (or the one its request id recorded before),
    its account as it stood right after it, the departments on that account, and whether
    the request id had been used before."""

    action: ActionRecord
    account: Account
    departments: list[str]
    duplicate: bool


def record(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, ActionInput]],
    now_us: int,
) -> Generator[None, None, BatchResult]:
    """Record validated inputs (an import batch) in steps (Database.write_in_steps) of one
    transaction: a refused record is reported as rejected and the rest of the batch goes on;
    the batch is audited once, with its counts."""
    done = yield from _record(conn, principal, items, now_us)
    return done.result


def record_calls(
    conn: Conn, principal: Principal, inputs: list[ActionInput], now_us: int
) -> list[tuple[bool, Answer | DomainError]]:
    """Unary records of one principal waiting at the same moment, written as one batch: each
    answered and audited as its own call; a refused one writes nothing and gets its error.
    A new action is answered from what was written, not re-read."""
    done = run_through(_record(conn, principal, list(enumerate(inputs)), now_us, calls=True))
    # Every input is in the caller's department: an account's departments after the batch
    # are those after any of its records.
    old = [i for i in done.accounts if i not in done.new_accounts]
    departments = rollups.departments_of(conn, ROLLUP, old) if old else {}
    new = {rec.id: rec for rec in done.actions}
    answers: list[tuple[bool, Answer | DomainError]] = []
    for o in done.result.outcomes:
        if o.error is not None:
            answers.append((False, o.error))
        elif o.duplicate:
            rec = store.get_action(conn, o.record_id)
            assert rec is not None
            account = store.get_account(conn, rec.account_id)
            assert account is not None
            deps = rollups.departments_of(conn, ROLLUP, [account.id]).get(account.id, [])
            answers.append((True, Answer(rec, account, deps, True)))
        else:
            rec = new[o.record_id]
            deps = (
                [rec.department]
                if rec.account_id in done.new_accounts
                else departments.get(rec.account_id, [])
            )
            answers.append((True, Answer(rec, o.after, deps, False)))
    return answers


def _record(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, ActionInput]],
    now_us: int,
    calls: bool = False,
) -> Generator[None, None, Recorded]:
    """calls: the items are unary calls (see record_calls): each is audited, and its outcome
    keeps its account as it stood after it. Pauses every STEP records (a stepped job)."""
    result = BatchResult()
    keys = RequestKeys(conn, "account_actions", [a.request_id for _, a in items])
    idents = [a.ident_key() for _, a in items]
    accounts = store.accounts_by_ident(conn, list(set(idents)))
    first_account = next_account = take_ids(conn, "accounts")
    next_action = take_ids(conn, "account_actions")
    created: dict[int, Account] = {}  # ident key -> account new in this batch
    touched: dict[int, Account] = {}
    in_batch: dict[int, list[ActionRecord]] = defaultdict(list)
    rows: list[tuple[int, int, ActionRecord]] = []
    deltas: list[rollups.Delta] = []
    group_deltas: list[rollups.Delta] = []

    for n, ((index, a), ident) in enumerate(zip(items, idents, strict=True), 1):
        if n % STEP == 0:
            yield  # a pause: the event loop may serve other calls (see STEP)
        outcome = Outcome(index, a.request_id)
        result.outcomes.append(outcome)
        body = a.body_hash()
        try:
            prior = keys.prior(a.request_id, body)
            if prior is not None:
                outcome.record_id, outcome.duplicate = prior, True
                continue
            account = accounts.get(ident) or created.get(ident)
            if account is None:
                account = Account(
                    next_account,
                    a.platform,
                    a.platform_uid,
                    a.kind,
                    a.handle,
                    Status.ACTIVE,
                    None,
                    None,
                    None,
                    0,
                    0,
                )
                created[ident] = account
                next_account += 1
            elif (account.platform, account.platform_uid) != (a.platform, a.platform_uid):
                raise Reject(FailedPrecondition("account identity hash collision"), "account")
            elif account.kind != a.kind:
                raise Reject(
                    InvalidArgument(
                        [
                            FieldViolation(
                                "account.kind",
                                f"the account is a {Kind(account.kind).name.lower()}",
                            )
                        ]
                    ),
                    "account.kind",
                )
            effective = now_us if a.effective_us is None else a.effective_us
            rec = ActionRecord(
                next_action,
                account.id,
                a.request_id,
                a.action,
                a.category,
                a.legal_basis,
                a.department,
                a.region,
                a.campaign_id,
                a.special_action,
                a.case,
                principal.operator,
                effective,
                a.suspend_until_us,
                now_us,
            )
            try:
                _apply(conn, account, rec, in_batch[account.id], is_new=ident in created)
            except FailedPrecondition as e:
                raise Reject(e, "action") from None
        except Reject as r:
            outcome.refuse(r)
            continue
        if a.handle:
            account.handle = a.handle
        account.revision += 1
        next_action += 1
        touched[account.id] = account
        in_batch[account.id].append(rec)
        keys.add(a.request_id, body, rec.id)
        rows.append((keys.key(a.request_id), body, rec))
        deltas.append((account.id, rec.rollup_key(), day_of(effective), 1))
        if account.kind == Kind.GROUP:
            group_deltas.append(deltas[-1])
        outcome.record_id = rec.id
        if calls:
            outcome.after = replace(account)

    new_ids = {a.id for a in created.values() if a.id in touched}
    # As MAX(id) + 1 would be: an account made for a refused record is not stored.
    ids_taken(conn, "accounts", max(new_ids) + 1 if new_ids else first_account)
    ids_taken(conn, "account_actions", next_action)
    store.insert_accounts(conn, [(k, a) for k, a in created.items() if a.id in new_ids])
    store.update_accounts(conn, [a for a in touched.values() if a.id not in new_ids])
    written = store.insert_actions(conn, rows)
    yield
    rollups.apply(conn, ROLLUP, deltas, new_ids)
    if group_deltas:
        rollups.apply(conn, GROUP_ROLLUP, group_deltas, new_ids)
    actions = [rec for _, _, rec in rows]
    _log(conn, principal, actions, result, now_us, each=calls, written=written)
    return Recorded(result, actions, touched, new_ids)


def _apply(
    conn: Conn,
    account: Account,
    rec: ActionRecord,
    earlier_in_batch: list[ActionRecord],
    is_new: bool,
) -> None:
    """Advance the account's status by one action (refolding when it arrives out of order)."""
    if account.last_action_us is None or rec.effective_us >= account.last_action_us:
        status = next_status(account.status, rec.action)
        if rec.action == Action.SUSPEND and status == Status.SUSPENDED:
            account.suspended_until_us = rec.suspend_until_us
        elif status != Status.SUSPENDED:
            account.suspended_until_us = None
        account.status = status
        account.action_count += 1
        account.first_action_us = account.first_action_us or rec.effective_us
        account.last_action_us = rec.effective_us
        return
    history = [] if is_new else store.actions_of(conn, account.id)
    fold(account, [*history, *earlier_in_batch, rec])


def _log(
    conn: Conn,
    principal: Principal,
    actions: list[ActionRecord],
    result: BatchResult,
    now_us: int,
    each: bool,
    written: audit.Written | None = None,
) -> None:
    if each:
        for rec in actions:
            name = action_name(rec.account_id, rec.id)
            changes.append(conn, changes.CREATED, name, rec.department, rec.campaign_id, now_us)
            audit.append(
                conn,
                principal,
                "RecordAction",
                name,
                rec.request_id,
                "recorded",
                now_us,
                [store.AUDITED_ACTIONS.rows([rec.id])],
            )
        return
    if actions:
        campaigns = {rec.campaign_id for rec in actions}
        changes.append(
            conn,
            changes.BULK_IMPORTED,
            "accounts",
            principal.department,
            campaigns.pop() if len(campaigns) == 1 else "",
            now_us,
            len(actions),
        )
    if result.outcomes:
        audit.append(
            conn,
            principal,
            "ImportActions",
            "accounts",
            result.outcomes[0].request_id,
            result.audit_outcome(),
            now_us,
            [store.AUDITED_ACTIONS.rows((rec.id for rec in actions), written)],
        )


def group_deltas(conn: Conn) -> Iterator[rollups.Delta]:
    """The group rollup's deltas, from the live actions on groups (rebuilding it)."""
    for rec in store.live_actions_of_kind(conn, Kind.GROUP):
        yield (rec.account_id, rec.rollup_key(), day_of(rec.effective_us), 1)


def owned_action(conn: Conn, principal: Principal, account_id: int, action_id: int) -> ActionRecord:
    """The action, if it exists and the caller's department recorded it."""
    rec = store.get_action(conn, action_id)
    if rec is None or rec.account_id != account_id:
        raise NotFound(f"{action_name(account_id, action_id)} not found")
    if rec.department != principal.department:
        raise PermissionDenied(
            f"the action was recorded by {rec.department!r}", reason="WRONG_DEPARTMENT"
        )
    return rec


def retract(
    conn: Conn,
    principal: Principal,
    account_id: int,
    action_id: int,
    reason: str,
    request_id: str,
    now_us: int,
) -> tuple[ActionRecord, Account]:
    rec = owned_action(conn, principal, account_id, action_id)
    if rec.retracted_us is not None:
        raise FailedPrecondition("the action is already retracted", reason="ALREADY_RETRACTED")
    account = store.get_account(conn, account_id)
    assert account is not None
    history = store.actions_of(conn, account_id)
    for h in history:
        if h.id == rec.id:
            h.retracted_us = now_us
    try:
        fold(account, history)
    except FailedPrecondition:
        raise FailedPrecondition(
            "retracting it would leave a later restore without a prior "
            "restriction: retract that restore first",
            reason="RESTORE_DEPENDS_ON_IT",
        ) from None
    account.revision += 1
    rec.retracted_us, rec.retract_reason, rec.retracted_by = now_us, reason, principal.operator
    store.retract(conn, rec.id, now_us, reason, principal.operator)
    store.update_accounts(conn, [account])
    delta = (account.id, rec.rollup_key(), day_of(rec.effective_us), -1)
    rollups.apply(conn, ROLLUP, [delta])
    if account.kind == Kind.GROUP:
        rollups.apply(conn, GROUP_ROLLUP, [delta])
    name = action_name(account_id, action_id)
    changes.append(conn, changes.RETRACTED, name, rec.department, rec.campaign_id, now_us)
    audit.append(
        conn,
        principal,
        "RetractAction",
        name,
        request_id,
        "retracted",
        now_us,
        [store.AUDITED_RETRACTIONS.rows([rec.id])],
    )
    return rec, account
