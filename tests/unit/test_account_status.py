"""An account's status folded from its live actions: severity, restores, suspensions."""

from __future__ import annotations

import pytest

from services.accounts.domain import Account, Action, ActionRecord, Status, fold, next_status
from services.common.errors import FailedPrecondition

DAY_US = 86_400_000_000
T0 = 1_625_097_600_000_000
ACTIVE, WARNED, RESTRICTED, SUSPENDED, BANNED, CLOSED, RESTORED = (
    Status.ACTIVE,
    Status.WARNED,
    Status.RESTRICTED,
    Status.SUSPENDED,
    Status.BANNED,
    Status.CLOSED,
    Status.RESTORED,
)
# How heavy each status is: a lighter measure never lifts a heavier one.
WEIGHT = {ACTIVE: 0, RESTORED: 0, WARNED: 1, RESTRICTED: 2, SUSPENDED: 3, BANNED: 4, CLOSED: 5}
RESULT = {
    Action.WARN: WARNED,
    Action.RESTRICT: RESTRICTED,
    Action.SUSPEND: SUSPENDED,
    Action.BAN: BANNED,
    Action.CLOSE_GROUP: CLOSED,
}


def _account() -> Account:
    return Account(1, "weibo", "u1", 1, "", ACTIVE, None, None, None, 0, 1)


def _action(
    id: int,
    action: Action,
    day: int,
    *,
    until_day: int | None = None,
    retracted: bool = False,
) -> ActionRecord:
    return ActionRecord(
        id=id,
        account_id=1,
        request_id=f"r{id}",
        action=action,
        category="obscene",
        legal_basis="",
        department="cac",
        region="",
        campaign_id="",
        special_action="",
        case="",
        actor="tester",
        effective_us=T0 + day * DAY_US,
        suspend_until_us=None if until_day is None else T0 + until_day * DAY_US,
        record_us=T0 + day * DAY_US,
        retracted_us=T0 + 99 * DAY_US if retracted else None,
    )


@pytest.mark.parametrize("status", list(WEIGHT))
@pytest.mark.parametrize("action", list(RESULT))
def test_a_measure_never_lifts_a_heavier_one(status: Status, action: Action) -> None:
    result = RESULT[action]
    expected = result if WEIGHT[result] >= WEIGHT[status] else status
    assert next_status(status, action) == expected


@pytest.mark.parametrize("status", [RESTRICTED, SUSPENDED, BANNED, CLOSED])
def test_a_restore_lifts_a_restriction(status: Status) -> None:
    assert next_status(status, Action.RESTORE) == RESTORED


@pytest.mark.parametrize("status", [ACTIVE, WARNED, RESTORED])
def test_a_restore_needs_a_restriction(status: Status) -> None:
    with pytest.raises(FailedPrecondition) as e:
        next_status(status, Action.RESTORE)
    assert e.value.reason == "NOTHING_TO_RESTORE"


def test_fold_of_no_actions_is_active() -> None:
    account = _account()
    fold(account, [])
    assert (account.status, account.action_count) == (ACTIVE, 0)
    assert account.first_action_us is None and account.last_action_us is None
    assert account.suspended_until_us is None


def test_fold_goes_by_effective_time_not_by_arrival() -> None:
    # Recorded ban first, but the warning happened earlier and a restore later.
    actions = [
        _action(1, Action.BAN, 2),
        _action(2, Action.WARN, 1),
        _action(3, Action.RESTORE, 3),
        _action(4, Action.WARN, 4),
    ]
    account = _account()
    fold(account, actions)
    assert account.status == WARNED
    assert account.action_count == 4
    assert (account.first_action_us, account.last_action_us) == (T0 + DAY_US, T0 + 4 * DAY_US)


def test_fold_breaks_ties_of_time_by_id() -> None:
    account = _account()
    fold(account, [_action(2, Action.RESTORE, 1), _action(1, Action.RESTRICT, 1)])
    assert account.status == RESTORED


def test_retracted_actions_do_not_count() -> None:
    actions = [_action(1, Action.WARN, 1), _action(2, Action.BAN, 2, retracted=True)]
    account = _account()
    fold(account, actions)
    assert (account.status, account.action_count) == (WARNED, 1)
    assert account.last_action_us == T0 + DAY_US


def test_a_suspension_keeps_its_end_while_suspended() -> None:
    account = _account()
    fold(account, [_action(1, Action.SUSPEND, 1, until_day=30)])
    assert (account.status, account.suspended_until_us) == (SUSPENDED, T0 + 30 * DAY_US)
    # A second suspension restates the end; a warning leaves the suspension as it is.
    fold(
        account,
        [
            _action(1, Action.SUSPEND, 1, until_day=30),
            _action(2, Action.SUSPEND, 2, until_day=10),
            _action(3, Action.WARN, 3),
        ],
    )
    assert (account.status, account.suspended_until_us) == (SUSPENDED, T0 + 10 * DAY_US)


def test_a_heavier_measure_or_a_restore_ends_the_suspension() -> None:
    account = _account()
    fold(account, [_action(1, Action.SUSPEND, 1, until_day=30), _action(2, Action.BAN, 2)])
    assert (account.status, account.suspended_until_us) == (BANNED, None)
    fold(account, [_action(1, Action.BAN, 1), _action(2, Action.SUSPEND, 2, until_day=30)])
    assert (account.status, account.suspended_until_us) == (BANNED, None)
    fold(account, [_action(1, Action.SUSPEND, 1, until_day=30), _action(2, Action.RESTORE, 2)])
    assert (account.status, account.suspended_until_us) == (RESTORED, None)


def test_a_history_leaving_a_restore_without_its_restriction_is_refused() -> None:
    actions = [_action(1, Action.RESTRICT, 1, retracted=True), _action(2, Action.RESTORE, 2)]
    with pytest.raises(FailedPrecondition):
        fold(_account(), actions)
