"""Accounts use cases: the calls the servicer makes (authorize the caller, check the input,
learn the campaigns, read or write one transaction), and the writer jobs they run: record
(one or a batch), retract."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

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
    ident_key,
    next_status,
    validate,
)
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
from services.common.idempotency import Answered, Once
from services.common.recording import (
    WRITERS,
    BatchResult,
    Outcome,
    Records,
    unary_calls,
)
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.keys import Book, RequestKeys, ids_taken, take_ids
from services.common.storage.writer import STEP, run_through

Listed = tuple[list[tuple[Account, list[str]]], str]  # accounts with their departments, token


def action_name(account_id: int, action_id: int) -> str:
    return f"accounts/{account_id}/actions/{action_id}"


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
    return (yield from _record(conn, principal, items, now_us))


def _record_calls(
    conn: Conn, principal: Principal, items: list[tuple[int, ActionInput]], now_us: int
) -> BatchResult:
    return run_through(_record(conn, principal, items, now_us, calls=True))


def _answers(conn: Conn, outcomes: list[Outcome]) -> list[Answer]:
    """Each accepted call's answer; a new action from what was written, not re-read. Every
    input is in the caller's department: an account's departments after the batch are those
    after any of its records."""
    old = list(dict.fromkeys(o.after.id for o in outcomes if not o.duplicate and not o.created))
    departments = rollups.departments_of(conn, ROLLUP, old) if old else {}
    answers: list[Answer] = []
    for o in outcomes:
        if o.duplicate:
            rec = store.get_action(conn, o.record_id)
            assert rec is not None
            account = store.get_account(conn, rec.account_id)
            assert account is not None
            deps = rollups.departments_of(conn, ROLLUP, [account.id]).get(account.id, [])
            answers.append(Answer(rec, account, deps, True))
        else:
            rec = o.record
            deps = [rec.department] if o.created else departments.get(rec.account_id, [])
            answers.append(Answer(rec, o.after, deps, False))
    return answers


# Unary records of one principal waiting at the same moment, written as one batch
# (Database.write_batched): each answered and audited as its own call; a refused one writes
# nothing and gets its error.
RECORD_CALLS = unary_calls(_record_calls, _answers)


def _record(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, ActionInput]],
    now_us: int,
    calls: bool = False,
) -> Generator[None, None, BatchResult]:
    """calls: the items are unary calls (see record_calls): each is audited, and its outcome
    keeps its account as it stood after it. Pauses every STEP records (a stepped job)."""
    result = BatchResult()
    keys = RequestKeys(conn, "account_actions", [a.request_id for _, a in items])
    idents = [a.ident_key() for _, a in items]
    book = Book(conn, "accounts", store.accounts_by_ident(conn, list(set(idents))))
    next_action = take_ids(conn, "account_actions")
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
            account = book.get(ident)
            if account is None:
                account = book.make(ident, partial(_new_account, a))
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
                _apply(conn, account, rec, in_batch[account.id], is_new=book.is_new(ident))
            except FailedPrecondition as e:
                raise Reject(e, "action") from None
        except Reject as r:
            outcome.refuse(r)
            continue
        if a.handle:
            account.handle = a.handle
        book.touch(account)
        next_action += 1
        in_batch[account.id].append(rec)
        keys.add(a.request_id, body, rec.id)
        rows.append((keys.key(a.request_id), body, rec))
        deltas.append((account.id, rec.rollup_key(), day_of(effective), 1))
        if account.kind == Kind.GROUP:
            group_deltas.append(deltas[-1])
        outcome.record_id = rec.id
        if calls:
            outcome.record, outcome.after = rec, replace(account)
            outcome.created = book.is_new(ident)

    new, changed = book.settle()
    new_ids = {a.id for _, a in new}
    ids_taken(conn, "account_actions", next_action)
    store.insert_accounts(conn, new)
    store.update_accounts(conn, changed)
    written = store.insert_actions(conn, rows)
    yield
    rollups.apply(conn, ROLLUP, deltas, new_ids)
    if group_deltas:
        rollups.apply(conn, GROUP_ROLLUP, group_deltas, new_ids)
    actions = [rec for _, _, rec in rows]
    _log(conn, principal, actions, result, now_us, each=calls, written=written)
    return result


def _new_account(a: ActionInput, account_id: int) -> Account:
    return Account(
        account_id,
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
    written: audit.Written,
) -> None:
    if each:
        inserted = store.AUDITED_ACTIONS.each([rec.id for rec in actions], written)
        for rec, rows in zip(actions, inserted, strict=True):
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
                [rows],
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


class Accounts(Records[ActionInput]):
    """The accounts use cases, as the servicer calls them: each authorizes its caller, checks
    its input and reads or writes in one transaction, taking and returning domain objects.
    record (one action, as an Answer) and intake (an import) are those of every record a
    department writes (Records)."""

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        super().__init__(
            runtime.db,
            runtime.clock,
            runtime.settings.reference,
            catalogue,
            validate,
            RECORD_CALLS,
            record,
            prefix_write_errors=True,
        )
        self.rt = runtime

    async def retract(self, name: str, reason: str, once: Once) -> Answered:
        """The answer (see Once) of retracting an action: the action and its account."""
        principal = require_role(*WRITERS)
        v = Violations()
        v.check(0 < len(once.request_id) <= 128, "request_id", "required")
        v.check(0 < len(reason) <= 512, "reason", "required, at most 512 characters")
        v.raise_if_any()
        account_id, action_id = names.parse(name, "name", "accounts", "actions")
        now = self.rt.clock.now_us()

        def work(c: Conn) -> Answer:
            rec, account = retract(
                c, principal, account_id, action_id, reason, once.request_id, now
            )
            deps = rollups.departments_of(c, ROLLUP, [account.id]).get(account.id, [])
            return Answer(rec, account, deps, False)

        # The guard runs before any replay: a stored answer is no way around the department
        # check.
        guard = partial(
            owned_action, principal=principal, account_id=account_id, action_id=action_id
        )
        return await self.db.write(once.job(work, now, guard=guard))

    async def get(self, name: str) -> tuple[Account, list[str]]:
        (account_id,) = names.parse(name, "name", "accounts")
        found = await self.db.read(
            lambda c: _with_departments(c, [a for a in [store.get_account(c, account_id)] if a])
        )
        if not found:
            raise NotFound(f"{name} not found")
        return found[0]

    async def batch_get(self, requested: Sequence[str]) -> Listed:
        """The accounts found, in the order asked, and the names not found (in place of a
        page token)."""
        ids = paging.batch_ids(requested, "accounts")
        found = await self.db.read(
            lambda c: _with_departments(c, list(store.get_accounts(c, ids).values()))
        )
        by_id = {a.id: (a, deps) for a, deps in found}
        accounts, missing = paging.found_and_missing(requested, ids, by_id)
        return accounts, missing  # type: ignore[return-value]

    async def list_accounts(
        self,
        page_size: int,
        page_token: str,
        platform: str,
        platform_uid: str,
        kind: int,
        status: int,
        marks: dict[str, str],
    ) -> Listed:
        """A page of accounts; marks: department, campaign_id, category (those set)."""
        size = paging.page_size(page_size)
        marks = {k: val for k, val in marks.items() if val}
        if platform_uid and not platform:
            raise InvalidArgument([FieldViolation("platform", "required with platform_uid")])
        ident = ident_key(platform, platform_uid) if platform_uid else 0
        bound = [platform, kind, status, marks, platform_uid]
        after = paging.decode(page_token, bound) or 0
        rows = await self.db.read(
            lambda c: _with_departments(
                c, store.list_accounts(c, after, size + 1, platform, kind, status, marks, ident)
            )
        )
        return paging.cut(rows, size, bound, key=lambda r: r[0].id)

    async def list_actions(
        self, parent: str, page_size: int, page_token: str, newest_first: bool
    ) -> tuple[list[ActionRecord], str]:
        return await paging.child_page(
            self.db,
            parent,
            page_size,
            page_token,
            newest_first,
            "accounts",
            lambda c, i: store.get_account(c, i) is not None,
            store.actions_of,
        )


def _with_departments(c: Conn, accounts: list[Account]) -> list[tuple[Account, list[str]]]:
    deps = rollups.departments_of(c, ROLLUP, [a.id for a in accounts])
    return [(a, deps.get(a.id, [])) for a in accounts]
