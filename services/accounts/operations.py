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
    ACTION_NAMES,
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
    nothing_to_restore,
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
from services.common.hashing import hash64
from services.common.idempotency import Answered, Once
from services.common.recording import (
    WRITERS,
    BatchResult,
    Outcome,
    Records,
    log_import,
    unary_calls,
)
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.staged import LATE_ID, Repeats, Requests
from services.common.storage.writer import run_through

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


@dataclass
class Batch:
    """A batch's validated actions as the write takes them: each input by its index, and
    the rows to stage (store.STAGE), an action whose request id an earlier one of the batch
    holds left out (repeats)."""

    inputs: dict[int, ActionInput]
    rows: list[tuple[object, ...]]
    repeats: Repeats
    first_request_id: str

    def request_id(self, idx: int) -> str:
        return self.inputs[idx].request_id


def batch(items: list[tuple[int, ActionInput]], now_us: int) -> Batch:
    """Per action only its row: read from the input, its request key computed. An import
    makes it before the write (on the event loop, while the batch before is written)."""
    repeats = Repeats()
    rows = []
    for index, a in items:
        key, body = hash64(a.request_id), a.body_hash()
        if not repeats.seen(index, key, a.request_id, body):
            rows.append(stage_row(index, key, body, a, now_us))
    return Batch(dict(items), rows, repeats, items[0][1].request_id if items else "")


def record(
    conn: Conn, principal: Principal, items: Batch, now_us: int
) -> Generator[None, None, BatchResult]:
    """Record an import batch in steps (Database.write_in_steps) of one transaction: a
    refused record is reported as rejected and the rest of the batch goes on; the batch is
    audited once, with its counts."""
    return (yield from _record(conn, principal, items, now_us))


def _record_calls(
    conn: Conn, principal: Principal, items: list[tuple[int, ActionInput]], now_us: int
) -> BatchResult:
    return run_through(_record(conn, principal, batch(items, now_us), now_us, calls=True))


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
    staged: Batch,
    now_us: int,
    calls: bool = False,
) -> Generator[None, None, BatchResult]:
    """The batch's actions, set-based: per record only its row (read and checked before),
    then each step one statement over the whole batch (see store: STAGE and after). calls:
    the items are unary calls: each is audited, and its outcome keeps its action and its
    account as the batch left it. Pauses between steps (a stepped job)."""
    inputs = staged.inputs
    store.STAGE.load(conn, staged.rows)
    yield
    requests = Requests(conn, store.STAGE, "account_actions", staged.repeats)
    made_after = store.create_accounts(conn)
    yield
    mismatched = {
        idx: _kind_differs(kind) if same else _COLLISION
        for idx, kind, same in store.identity_mismatches(conn)
    }
    mismatched.update((idx, _NOTHING_TO_RESTORE) for idx in store.without_account(conn))
    requests.refuse(conn, store.STAGE, mismatched)
    late = store.mark_late(conn, calls)
    states: dict[int, Account] = {}  # idx -> its account right after it (calls)
    if late:
        requests.refuse(conn, store.STAGE, _fold_late(conn, late, inputs, now_us, states))
    store.fold_accounts(conn)
    if calls:
        left = store.actions_left(conn)
        accounts = store.get_accounts(conn, list(set(left.values())))
        states.update((idx, accounts[account_id]) for idx, account_id in left.items())
    store.drop_unused_accounts(conn, made_after)
    yield
    inserted_after = store.insert_staged_actions(conn, principal.operator, now_us)
    yield
    rollups.add_staged(conn, ROLLUP, store.STAGE, "account_id")
    rollups.add_staged(conn, GROUP_ROLLUP, store.STAGE, "account_id", f"s.kind = {int(Kind.GROUP)}")
    yield
    accepted = store.STAGE.accepted(conn)
    requests.settle({idx: inserted_after + n for n, idx in enumerate(accepted, 1)})
    result = BatchResult(first_request_id=staged.first_request_id)
    result.note(staged.request_id, requests.prior, requests.refused)
    if calls:
        _answer_calls(conn, principal, result, accepted, states, inserted_after, made_after, now_us)
    else:
        result.accepted = len(accepted)
        ids = range(inserted_after + 1, inserted_after + len(accepted) + 1)
        log_import(
            conn,
            principal,
            "ImportActions",
            "accounts",
            result,
            store.AUDITED_ACTIONS.rows(ids),
            store.STAGE.campaign(conn),
            now_us,
        )
    result.outcomes.sort(key=lambda o: o.index)
    return result


def stage_row(index: int, key: int, body: int, a: ActionInput, now_us: int) -> tuple[object, ...]:
    """An action's row in the batch's stage (store.STAGE's columns)."""
    effective = now_us if a.effective_us is None else a.effective_us
    return (
        index,
        key,
        body,
        a.request_id,
        a.ident_key(),
        a.platform,
        a.platform_uid,
        a.kind,
        a.handle,
        a.action,
        ACTION_NAMES[a.action],
        a.category,
        a.legal_basis,
        a.department,
        a.region,
        a.campaign_id,
        a.special_action,
        a.case,
        effective,
        a.suspend_until_us,
        day_of(effective),
    )


_COLLISION = Reject(FailedPrecondition("account identity hash collision"), "account")
_NOTHING_TO_RESTORE = Reject(nothing_to_restore(), "action")


def _kind_differs(kind: int) -> Reject:
    return Reject(
        InvalidArgument(
            [FieldViolation("account.kind", f"the account is a {Kind(kind).name.lower()}")]
        ),
        "account.kind",
    )


def _fold_late(
    conn: Conn,
    late: list[int],
    inputs: dict[int, ActionInput],
    now_us: int,
    states: dict[int, Account],
) -> dict[int, Reject]:
    """Accounts an action of the batch reaches back before the last of: the part that is not
    set-based. Their actions of the batch, in its order, each folded into the account's
    history again (a restore that would leave nothing to lift is refused). Returns the
    refused, and notes each action's account right after it in states; the accounts are
    saved."""
    accounts = store.get_accounts(conn, late)
    history = store.histories(conn, late)
    earlier: dict[int, list[ActionRecord]] = defaultdict(list)
    refused: dict[int, Reject] = {}
    for idx, account_id in store.STAGE.late(conn, "account_id"):
        a, account = inputs[idx], accounts[account_id]
        effective = now_us if a.effective_us is None else a.effective_us
        rec = ActionRecord(
            LATE_ID + idx,
            account_id,
            a.request_id,
            a.action,
            a.category,
            a.legal_basis,
            a.department,
            a.region,
            a.campaign_id,
            a.special_action,
            a.case,
            "",
            effective,
            a.suspend_until_us,
            now_us,
        )
        try:
            _apply(account, rec, [*history[account_id], *earlier[account_id]])
        except FailedPrecondition as e:
            refused[idx] = Reject(e, "action")
            continue
        if a.handle:
            account.handle = a.handle
        account.revision += 1
        earlier[account_id].append(rec)
        states[idx] = replace(account)
    store.save_accounts(conn, [accounts[i] for i in earlier])
    return refused


def _apply(account: Account, rec: ActionRecord, before: list[ActionRecord]) -> None:
    """Advance the account's status by one action (refolding it with the actions before it
    when it arrives out of order)."""
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
    fold(account, [*before, rec])


def _answer_calls(
    conn: Conn,
    principal: Principal,
    result: BatchResult,
    accepted: list[int],
    states: dict[int, Account],
    inserted_after: int,
    made_after: int,
    now_us: int,
) -> None:
    """Each accepted call's outcome (its action, its account as the batch left it, whether
    the batch made it), a change and an audit entry each, committing to its own row."""
    rows = store.action_rows_after(conn, inserted_after)
    records = [ActionRecord(*row) for row in rows]
    covered = store.AUDITED_ACTIONS.each([r.id for r in records], (store.ACTION_COLS, rows))
    for index, rec, entry in zip(accepted, records, covered, strict=True):
        outcome = Outcome(index, rec.request_id, rec.id)
        outcome.record, outcome.after = rec, states[index]
        outcome.created = rec.account_id > made_after
        result.outcomes.append(outcome)
        name = action_name(rec.account_id, rec.id)
        changes.append(conn, changes.CREATED, name, rec.department, rec.campaign_id, now_us)
        audit.append(
            conn, principal, "RecordAction", name, rec.request_id, "recorded", now_us, [entry]
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
            stage=batch,
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
