"""Accounts domain: what an action is, which inputs are valid, how status follows actions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from services.common import campaigns as campaign_rules
from services.common.campaigns import Campaign
from services.common.errors import FailedPrecondition, Violations
from services.common.hashing import hash64
from services.common.reference import Reference, is_region, is_slug

MAX_TEXT = 256
MAX_REQUEST_ID = 128
CLOCK_SKEW_US = 5 * 60 * 1_000_000
EARLIEST_US = 946_684_800_000_000  # 2000-01-01
CASE_NAME = re.compile(r"^cases/[A-Za-z0-9_.·-]{1,64}$")
# Actions on accounts and groups together; and on groups alone, so that accounts are
# counted apart from groups (the first less the second: a subject is one or the other).
ROLLUP = "actions"
GROUP_ROLLUP = "group_actions"


# The contracts' enums, value for value, as plain values (the domain needs no generated
# code); tests/unit/test_vocabulary.py fails when one differs from its contract. A value's
# name in lower case is the name statistics count it under (netnet.vocabulary).
class Kind(IntEnum):  # netnet.accounts.v1.AccountKind
    USER = 1
    GROUP = 2
    LIVE_STREAMER = 3
    PUBLIC_CHANNEL = 4


class Status(IntEnum):  # netnet.accounts.v1.AccountStatus
    ACTIVE = 1
    WARNED = 2
    RESTRICTED = 3
    SUSPENDED = 4
    BANNED = 5
    CLOSED = 6
    RESTORED = 7


class Action(IntEnum):  # netnet.accounts.v1.ActionType
    WARN = 1
    RESTRICT = 2
    SUSPEND = 3
    BAN = 4
    CLOSE_GROUP = 5
    RESTORE = 6


# A lighter measure never lifts a heavier one; only a restore does.
SEVERITY = {
    Status.ACTIVE: 0,
    Status.RESTORED: 0,
    Status.WARNED: 1,
    Status.RESTRICTED: 2,
    Status.SUSPENDED: 3,
    Status.BANNED: 4,
    Status.CLOSED: 5,
}
RESULT = {
    Action.WARN: Status.WARNED,
    Action.RESTRICT: Status.RESTRICTED,
    Action.SUSPEND: Status.SUSPENDED,
    Action.BAN: Status.BANNED,
    Action.CLOSE_GROUP: Status.CLOSED,
}
RESTRICTIVE = {Status.RESTRICTED, Status.SUSPENDED, Status.BANNED, Status.CLOSED}
# The same rule as data, for the statement that applies a batch's actions at once (the
# store's fold; a restore is folded one at a time): (action, its severity, the status it
# results in), and (status, its severity).
ACTION_RULES = [(int(a), SEVERITY[s], int(s)) for a, s in RESULT.items()]
STATUS_RULES = [(int(s), n) for s, n in SEVERITY.items()]
# By plain number, for the per-record hot path (a dict lookup, not an enum call).
ACTION_NAMES = {int(a): a.name.lower() for a in Action}
_RESULT_OF: dict[int, Status] = {int(a): s for a, s in RESULT.items()}
_SEVERITY_OF: dict[int, int] = {int(s): n for s, n in SEVERITY.items()}
_KINDS = frozenset(int(k) for k in Kind)
_ACTIONS = frozenset(int(a) for a in Action)


class ActionInput(NamedTuple):
    """One action as asked for (a plain tuple: an import reads one per record)."""

    request_id: str
    platform: str
    platform_uid: str
    kind: int
    handle: str
    action: int
    category: str
    legal_basis: str
    department: str
    region: str
    campaign_id: str
    special_action: str
    case: str
    effective_us: int | None
    suspend_until_us: int | None
    # Hash of the request as sent (a repeat must send the same); 0 when it came otherwise.
    body: int = 0

    def ident_key(self) -> int:
        return ident_key(self.platform, self.platform_uid)

    def body_hash(self) -> int:
        return self.body or hash64(repr(self))


@dataclass
class Account:
    id: int
    platform: str
    platform_uid: str
    kind: int
    handle: str
    status: int
    suspended_until_us: int | None
    first_action_us: int | None
    last_action_us: int | None
    action_count: int
    revision: int


@dataclass
class ActionRecord:
    id: int
    account_id: int
    request_id: str
    action: int
    category: str
    legal_basis: str
    department: str
    region: str
    campaign_id: str
    special_action: str
    case: str
    actor: str
    effective_us: int
    suspend_until_us: int | None
    record_us: int
    retracted_us: int | None = None
    retract_reason: str = ""
    retracted_by: str = ""

    def rollup_key(self) -> tuple[str, str, str, str, str]:
        return (
            self.department,
            ACTION_NAMES.get(self.action) or Action(self.action).name.lower(),
            self.category,
            self.campaign_id,
            self.special_action,
        )


def ident_key(platform: str, platform_uid: str) -> int:
    """The integer key an account is found by."""
    return hash64(f"{platform}\x1f{platform_uid}")


def validate(
    a: ActionInput,
    now_us: int,
    v: Violations,
    campaigns: Mapping[str, Campaign | None],
    ref: Reference,
    prefix: str = "",
) -> ActionInput:
    """Every bad field of one input, named by its path (prefix + field); campaigns: the
    campaign it names, as its owner states it; ref: the deployment's reference data. Returns
    the input, as the other services' validators return theirs."""
    p = prefix
    v.check(
        0 < len(a.request_id) <= MAX_REQUEST_ID,
        f"{p}request_id",
        f"required, at most {MAX_REQUEST_ID} characters",
    )
    v.check(
        is_slug(a.platform),
        f"{p}account.platform",
        "required: lower-case letters, digits, '-' or '_'",
    )
    v.check(
        0 < len(a.platform_uid) <= MAX_TEXT,
        f"{p}account.platform_uid",
        f"required, at most {MAX_TEXT} characters",
    )
    v.check(a.kind in _KINDS, f"{p}account.kind", "required")
    v.check(len(a.handle) <= MAX_TEXT, f"{p}account.handle", f"at most {MAX_TEXT} characters")
    if v.check(a.action in _ACTIONS, f"{p}action", "required"):
        v.check(
            a.action != Action.CLOSE_GROUP or a.kind == Kind.GROUP,
            f"{p}action",
            "close_group applies to groups only",
        )
    v.check(a.category in ref.categories, f"{p}category", "unknown category")
    v.check(len(a.legal_basis) <= 512, f"{p}legal_basis", "at most 512 characters")
    v.check(a.department in ref.departments, f"{p}department", "unknown department")
    v.check(not a.region or is_region(a.region), f"{p}region", "must be a 6-digit division code")
    v.check(not a.campaign_id or is_slug(a.campaign_id), f"{p}campaign_id", "must be a slug")
    v.check(
        not a.special_action or is_slug(a.special_action), f"{p}special_action", "must be a slug"
    )
    v.check(
        not a.special_action or bool(a.campaign_id), f"{p}special_action", "needs a campaign_id"
    )
    v.check(not a.case or bool(CASE_NAME.match(a.case)), f"{p}case", "must be cases/{case}")
    effective = now_us if a.effective_us is None else a.effective_us
    in_time = v.check(
        EARLIEST_US <= effective <= now_us + CLOCK_SKEW_US,
        f"{p}effective_time",
        "must not lie in the future",
    )
    campaign_rules.check(
        v,
        campaigns,
        a.campaign_id,
        a.special_action,
        effective if in_time else None,
        "effective_time",
        p,
    )
    if a.action == Action.SUSPEND:
        v.check(
            a.suspend_until_us is not None and a.suspend_until_us > effective,
            f"{p}suspend_until",
            "required for suspend, after the effective time",
        )
    else:
        v.check(a.suspend_until_us is None, f"{p}suspend_until", "only for suspend")
    return a


def nothing_to_restore() -> FailedPrecondition:
    return FailedPrecondition(
        "a restore needs a prior restriction, suspension, ban or closure",
        reason="NOTHING_TO_RESTORE",
    )


def next_status(status: int, action: int) -> int:
    """The status after one more action; a restore needs a prior restriction."""
    if action == Action.RESTORE:
        if status not in RESTRICTIVE:
            raise nothing_to_restore()
        return Status.RESTORED
    result = _RESULT_OF.get(action) or RESULT[Action(action)]
    severity = _SEVERITY_OF.get(status)
    if severity is None:
        severity = SEVERITY[Status(status)]
    return result if SEVERITY[result] >= severity else status


def fold(account: Account, actions: list[ActionRecord]) -> None:
    """Restate an account from its live actions (in effective order)."""
    live = sorted(
        (a for a in actions if a.retracted_us is None), key=lambda a: (a.effective_us, a.id)
    )
    status, until = Status.ACTIVE.value, None
    for a in live:
        status = next_status(status, a.action)
        if a.action == Action.SUSPEND and status == Status.SUSPENDED:
            until = a.suspend_until_us
    account.status = status
    account.suspended_until_us = until if status == Status.SUSPENDED else None
    account.action_count = len(live)
    account.first_action_us = live[0].effective_us if live else None
    account.last_action_us = live[-1].effective_us if live else None
