"""A site's status from its live actions and the time: every action from every status, and the
overdue rule (a notice past due without a confirmed rectification)."""

from __future__ import annotations

import pytest

from services.common.errors import FailedPrecondition
from services.sites.domain import (
    Action,
    Site,
    SiteActionRow,
    SiteState,
    Status,
    fold,
    next_state,
    state_of,
    with_time,
)

DAY_US = 86_400_000_000
T0 = 1_625_097_600_000_000
SHUT = (Status.BANNED, Status.CLOSED, Status.REMOVED)
OPEN = (Status.ACTIVE, Status.NOTIFIED, Status.RECTIFIED, Status.OVERDUE, Status.RESTORED)
SHUTTING = {
    Action.BAN: Status.BANNED,
    Action.CLOSE: Status.CLOSED,
    Action.REMOVE_FROM_STORES: Status.REMOVED,
}


def _state(status: Status) -> SiteState:
    due = T0 if status in (Status.NOTIFIED, Status.OVERDUE) else None
    return SiteState(status, due, 7 if due else None)


def _refused(state: SiteState, action: Action) -> str:
    with pytest.raises(FailedPrecondition) as e:
        next_state(state, action, 9, None)
    return e.value.reason


@pytest.mark.parametrize("status", list(Status))
def test_notify(status: Status) -> None:
    if status in SHUT:
        assert _refused(_state(status), Action.NOTIFY_RECTIFICATION) == "SITE_SHUT"
    else:
        after = next_state(_state(status), Action.NOTIFY_RECTIFICATION, 9, T0 + DAY_US)
        assert after == SiteState(Status.NOTIFIED, T0 + DAY_US, 9)


@pytest.mark.parametrize("status", list(Status))
def test_confirm_rectified(status: Status) -> None:
    if status in (Status.NOTIFIED, Status.OVERDUE):
        after = next_state(_state(status), Action.CONFIRM_RECTIFIED, 9, None)
        assert after == SiteState(Status.RECTIFIED, None, None)
    else:
        assert _refused(_state(status), Action.CONFIRM_RECTIFIED) == "NO_OPEN_NOTICE"


@pytest.mark.parametrize("status", list(Status))
def test_restore(status: Status) -> None:
    if status in SHUT:
        after = next_state(_state(status), Action.RESTORE, 9, None)
        assert after == SiteState(Status.RESTORED, None, None)
    else:
        assert _refused(_state(status), Action.RESTORE) == "NOTHING_TO_RESTORE"


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(SHUTTING))
def test_ban_close_remove(status: Status, action: Action) -> None:
    target = SHUTTING[action]
    if status == target:
        assert _refused(_state(status), action) == "ALREADY_DONE"
    else:
        # From any other status, shut ones included (a closed site can still be banned);
        # the open notice is dropped.
        assert next_state(_state(status), action, 9, None) == SiteState(target, None, None)


def test_overdue_once_the_due_time_has_come() -> None:
    notified = SiteState(Status.NOTIFIED, T0, 7)
    assert with_time(notified, T0 - 1) == notified
    assert with_time(notified, T0) == SiteState(Status.OVERDUE, T0, 7)
    assert with_time(notified, T0 + DAY_US).status == Status.OVERDUE


@pytest.mark.parametrize("status", [s for s in Status if s != Status.NOTIFIED])
def test_only_a_notified_site_falls_overdue(status: Status) -> None:
    state = SiteState(status, T0, 7)
    assert with_time(state, T0 + DAY_US) == state


def _site() -> Site:
    return Site(
        1, 2, "com.example.app", "", "", "", "", Status.ACTIVE, None, None, None, None, 0, 1
    )


def _row(
    id: int, action: Action, day: int, *, due_day: int | None = None, retracted: bool = False
) -> SiteActionRow:
    return SiteActionRow(
        id=id,
        site_id=1,
        request_id=f"r{id}",
        action=action,
        category="user_rights",
        department="miit",
        region="",
        campaign_id="",
        special_action="",
        case="",
        actor="tester",
        effective_us=T0 + day * DAY_US,
        due_us=None if due_day is None else T0 + due_day * DAY_US,
        problems=("p",),
        notice_batch_id=0,
        record_us=T0 + day * DAY_US,
        retracted_us=T0 + 99 * DAY_US if retracted else None,
    )


def test_fold_notice_then_time() -> None:
    site = _site()
    actions = [_row(1, Action.NOTIFY_RECTIFICATION, 0, due_day=7)]
    fold(site, actions, T0 + 6 * DAY_US)
    assert (site.status, site.due_us, site.notice_action_id) == (
        Status.NOTIFIED,
        T0 + 7 * DAY_US,
        1,
    )
    fold(site, actions, T0 + 7 * DAY_US)
    assert (site.status, site.due_us, site.notice_action_id) == (Status.OVERDUE, T0 + 7 * DAY_US, 1)
    assert state_of(site, T0 + 8 * DAY_US).status == Status.OVERDUE


def test_fold_a_rectification_in_time_or_late_ends_the_notice() -> None:
    site = _site()
    actions = [
        _row(1, Action.NOTIFY_RECTIFICATION, 0, due_day=7),
        _row(2, Action.CONFIRM_RECTIFIED, 9),
    ]
    fold(site, actions, T0 + 30 * DAY_US)
    assert (site.status, site.due_us, site.notice_action_id) == (Status.RECTIFIED, None, None)
    assert (site.action_count, site.first_action_us, site.last_action_us) == (
        2,
        T0,
        T0 + 9 * DAY_US,
    )


def test_fold_a_retracted_rectification_leaves_the_site_overdue() -> None:
    site = _site()
    actions = [
        _row(1, Action.NOTIFY_RECTIFICATION, 0, due_day=7),
        _row(2, Action.CONFIRM_RECTIFIED, 3, retracted=True),
    ]
    fold(site, actions, T0 + 30 * DAY_US)
    assert (site.status, site.action_count) == (Status.OVERDUE, 1)


def test_fold_a_newer_notice_replaces_the_old_one() -> None:
    site = _site()
    actions = [
        _row(1, Action.NOTIFY_RECTIFICATION, 0, due_day=7),
        _row(2, Action.NOTIFY_RECTIFICATION, 8, due_day=20),
    ]
    fold(site, actions, T0 + 10 * DAY_US)
    assert (site.status, site.due_us, site.notice_action_id) == (
        Status.NOTIFIED,
        T0 + 20 * DAY_US,
        2,
    )


def test_fold_goes_by_effective_time() -> None:
    site = _site()
    # The removal was recorded before the notice but happened after it.
    actions = [
        _row(2, Action.REMOVE_FROM_STORES, 5),
        _row(1, Action.NOTIFY_RECTIFICATION, 1, due_day=3),
    ]
    fold(site, actions, T0 + 30 * DAY_US)
    assert (site.status, site.due_us) == (Status.REMOVED, None)


def test_every_status_is_open_or_shut() -> None:
    assert set(OPEN) | set(SHUT) == set(Status) and not set(OPEN) & set(SHUT)
