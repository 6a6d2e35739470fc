"""Sites domain: canonical identities, valid inputs, and how status follows actions and time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from services.common import campaigns as campaign_rules
from services.common.campaigns import Campaign
from services.common.errors import FailedPrecondition, Violations
from services.common.hashing import hash64
from services.common.reference import Reference, is_region, is_slug

MAX_TEXT = 256
MAX_LOCATOR = 2048
MAX_PROBLEMS = 50
CLOCK_SKEW_US = 5 * 60 * 1_000_000
EARLIEST_US = 946_684_800_000_000  # 2000-01-01
CASE_NAME = re.compile(r"^cases/[A-Za-z0-9_.·-]{1,64}$")
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
PHASH = re.compile(r"^[0-9a-f]{16}$")
ICP = re.compile(r"^[\w\u4e00-\u9fff-]{1,64}$")
SITE_ROLLUP, CONTENT_ROLLUP, BATCH_ROLLUP = "site_actions", "content", "notice_batches"
# Sites by current status: one count per site, under action = the status name.
STATUS_ROLLUP = "site_status"
# Actions on apps alone (apps notified, apps removed), beside all site actions.
APP_ROLLUP = "app_actions"
# Ban and close actions alone: its distinct subjects are the sites banned or closed, a site
# both banned and closed counted once.
BAN_CLOSE_ROLLUP = "bans_closures"


# The contracts' enums, value for value, as plain values (the domain needs no generated
# code); tests/unit/test_vocabulary.py fails when one differs from its contract. A value's
# name in lower case is the name statistics count it under (netnet.vocabulary).
class Kind(IntEnum):  # netnet.sites.v1.SiteKind
    WEBSITE = 1
    APP = 2


class Status(IntEnum):  # netnet.sites.v1.SiteStatus
    ACTIVE = 1
    NOTIFIED = 2
    RECTIFIED = 3
    OVERDUE = 4
    BANNED = 5
    CLOSED = 6
    REMOVED = 7
    RESTORED = 8


class Action(IntEnum):  # netnet.sites.v1.SiteActionType
    NOTIFY_RECTIFICATION = 1
    CONFIRM_RECTIFIED = 2
    BAN = 3
    CLOSE = 4
    REMOVE_FROM_STORES = 5
    RESTORE = 6


BAN_CLOSE_ACTIONS = (Action.BAN, Action.CLOSE)
BAN_CLOSE_NAMES = frozenset(a.name.lower() for a in BAN_CLOSE_ACTIONS)


class Measure(IntEnum):  # netnet.sites.v1.Measure
    DELETE = 1
    BLOCK = 2
    DOWN_RANK = 3
    LABEL = 4


class Handler(IntEnum):  # netnet.sites.v1.Handler
    DIRECT = 1
    PLATFORM = 2


class BatchState(IntEnum):  # netnet.sites.v1.NoticeBatchState
    DRAFT = 1
    PUBLISHED = 2


# Published notice batches are counted under this name.
BATCH_PUBLISHED = BatchState.PUBLISHED.name.lower()


KINDS = set(Kind)
SHUT = {Status.BANNED, Status.CLOSED, Status.REMOVED}
SHUTTING = {
    Action.BAN: Status.BANNED,
    Action.CLOSE: Status.CLOSED,
    Action.REMOVE_FROM_STORES: Status.REMOVED,
}


@lru_cache(maxsize=65536)
def canonical_identifier(kind: int, raw: str) -> str | None:
    """Host for websites (lower-case; no scheme, port or path), package id for apps.
    (Cached: a bulk import names the same few platforms over and over.)"""
    text = raw.strip()
    if kind == Kind.APP:
        return text if len(text) <= MAX_TEXT and PACKAGE.match(text) else None
    if kind != Kind.WEBSITE or not text:
        return None
    try:
        parts = urlsplit(text if "//" in text else f"//{text}")
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return None
    host = host.rstrip(".").lower()
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not labels[-1].isalpha():
        return None
    return host if all(HOST_LABEL.match(label) for label in labels) else None


class SiteRef(NamedTuple):
    """A site as a record names it (a plain tuple: an import reads one per record)."""

    kind: int
    identifier: str  # canonical once validated
    display_name: str
    operator_entity: str
    icp_filing: str
    region: str

    def ident_key(self) -> int:
        return site_key(self.kind, self.identifier)


@lru_cache(maxsize=65536)
def site_key(kind: int, identifier: str) -> int:
    """The integer key a site is found by."""
    return hash64(f"{kind}\x1f{identifier}")


def validate_ref(ref: SiteRef, v: Violations, p: str) -> SiteRef:
    """Checks a site reference; returns it with the canonical identifier."""
    if not v.check(ref.kind in KINDS, f"{p}kind", "required"):
        return ref
    ident = canonical_identifier(ref.kind, ref.identifier)
    what = "a host name" if ref.kind == Kind.WEBSITE else "a package id like com.example.app"
    v.check(ident is not None, f"{p}identifier", f"must be {what}")
    v.check(len(ref.display_name) <= MAX_TEXT, f"{p}display_name", f"at most {MAX_TEXT}")
    v.check(len(ref.operator_entity) <= MAX_TEXT, f"{p}operator_entity", f"at most {MAX_TEXT}")
    v.check(
        not ref.icp_filing or bool(ICP.match(ref.icp_filing)),
        f"{p}icp_filing",
        "at most 64 letters, digits or '-'",
    )
    v.check(
        not ref.region or is_region(ref.region), f"{p}region", "must be a 6-digit division code"
    )
    if ident is None or ident == ref.identifier:
        return ref
    return ref._replace(identifier=ident)


def validate_common(
    v: Violations,
    p: str,
    *,
    request_id: str,
    category: str,
    department: str,
    campaign_id: str,
    special_action: str,
    effective_us: int | None,
    now_us: int,
    campaigns: Mapping[str, Campaign | None],
    ref: Reference,
) -> None:
    """The fields every recorded item has; campaigns: the campaign it names, as its owner
    states it; ref: the deployment's reference data."""
    v.check(0 < len(request_id) <= 128, f"{p}request_id", "required, at most 128 characters")
    v.check(category in ref.categories, f"{p}category", "unknown category")
    v.check(department in ref.departments, f"{p}department", "unknown department")
    v.check(not campaign_id or is_slug(campaign_id), f"{p}campaign_id", "must be a slug")
    v.check(not special_action or is_slug(special_action), f"{p}special_action", "must be a slug")
    v.check(not special_action or bool(campaign_id), f"{p}special_action", "needs a campaign_id")
    effective = now_us if effective_us is None else effective_us
    in_time = v.check(
        EARLIEST_US <= effective <= now_us + CLOCK_SKEW_US,
        f"{p}effective_time",
        "must not lie in the future",
    )
    campaign_rules.check(
        v,
        campaigns,
        campaign_id,
        special_action,
        effective if in_time else None,
        "effective_time",
        p,
    )


def validate_problems(problems: tuple[str, ...], v: Violations, field: str) -> None:
    v.check(0 < len(problems) <= MAX_PROBLEMS, field, f"1 to {MAX_PROBLEMS} problems required")
    v.check(all(0 < len(x) <= 512 for x in problems), field, "each problem is 1 to 512 characters")


@dataclass(frozen=True)
class ActionInput:
    request_id: str
    site: SiteRef
    action: int
    category: str
    department: str
    region: str
    campaign_id: str
    special_action: str
    case: str
    effective_us: int | None
    due_us: int | None
    problems: tuple[str, ...]
    notice_batch_id: int = 0

    def body_hash(self) -> int:
        return hash64(repr(self))


def validate_action(
    a: ActionInput,
    now_us: int,
    v: Violations,
    campaigns: Mapping[str, Campaign | None],
    ref: Reference,
    p: str = "",
) -> ActionInput:
    site = validate_ref(a.site, v, f"{p}site.")
    validate_common(
        v,
        p,
        request_id=a.request_id,
        category=a.category,
        department=a.department,
        campaign_id=a.campaign_id,
        special_action=a.special_action,
        effective_us=a.effective_us,
        now_us=now_us,
        campaigns=campaigns,
        ref=ref,
    )
    if v.check(a.action in Action.__members__.values(), f"{p}action", "required"):
        v.check(
            a.action != Action.REMOVE_FROM_STORES or a.site.kind == Kind.APP,
            f"{p}action",
            "remove_from_stores applies to apps only",
        )
    v.check(not a.region or is_region(a.region), f"{p}region", "must be a 6-digit division code")
    v.check(not a.case or bool(CASE_NAME.match(a.case)), f"{p}case", "must be cases/{case}")
    if a.action == Action.NOTIFY_RECTIFICATION:
        # After the notice itself: a notice dated in the past may be overdue already.
        v.check(
            a.due_us is not None
            and a.due_us > (now_us if a.effective_us is None else a.effective_us),
            f"{p}due_time",
            "required for a notice, after its effective time",
        )
        validate_problems(a.problems, v, f"{p}problems")
    else:
        v.check(a.due_us is None, f"{p}due_time", "only for a rectification notice")
        v.check(not a.problems, f"{p}problems", "only for a rectification notice")
    return ActionInput(
        a.request_id,
        site,
        a.action,
        a.category,
        a.department,
        a.region,
        a.campaign_id,
        a.special_action,
        a.case,
        a.effective_us,
        a.due_us,
        a.problems,
        a.notice_batch_id,
    )


@dataclass
class SiteState:
    status: int
    due_us: int | None  # the open notice's due time
    notice_action_id: int | None


def next_state(state: SiteState, action: int, action_id: int, due_us: int | None) -> SiteState:
    """The state after one more action; nonsense transitions are FAILED_PRECONDITION."""
    status = Status(state.status)
    if action == Action.NOTIFY_RECTIFICATION:
        if status in SHUT:
            raise FailedPrecondition(
                f"the site is {status.name.lower()}; restore it first", reason="SITE_SHUT"
            )
        return SiteState(Status.NOTIFIED, due_us, action_id)
    if action == Action.CONFIRM_RECTIFIED:
        if status not in (Status.NOTIFIED, Status.OVERDUE):
            raise FailedPrecondition("no rectification was asked for", reason="NO_OPEN_NOTICE")
        return SiteState(Status.RECTIFIED, None, None)
    if action == Action.RESTORE:
        if status not in SHUT:
            raise FailedPrecondition(
                f"the site is {status.name.lower()}: nothing to restore",
                reason="NOTHING_TO_RESTORE",
            )
        return SiteState(Status.RESTORED, None, None)
    target = SHUTTING[Action(action)]
    if status == target:
        raise FailedPrecondition(
            f"the site is already {status.name.lower()}", reason="ALREADY_DONE"
        )
    return SiteState(target, None, None)


def next_refusal(status: int, due_us: int | None, action: int) -> FailedPrecondition:
    """Why next_state refuses an action on a site in this status."""
    try:
        next_state(SiteState(status, due_us, None), action, 0, due_us)
    except FailedPrecondition as e:
        return e
    raise ValueError(f"{Action(action).name} is allowed on a {Status(status).name} site")


def _transitions() -> list[tuple[int, int, int]]:
    """next_state as data: (status, action, the status after) for every move it allows."""
    allowed = []
    for status in Status:
        for action in Action:
            try:
                after = next_state(SiteState(status, None, None), action, 0, 1)
            except FailedPrecondition:
                continue
            allowed.append((int(status), int(action), int(after.status)))
    return allowed


# For the statement that moves many sites on by one action each (the store's fold).
TRANSITIONS = _transitions()


def with_time(state: SiteState, now_us: int) -> SiteState:
    """A notice past due without a confirmed rectification makes the site overdue."""
    if state.status == Status.NOTIFIED and state.due_us is not None and state.due_us <= now_us:
        return SiteState(Status.OVERDUE, state.due_us, state.notice_action_id)
    return state


class DispositionInput(NamedTuple):
    """One disposition as asked for (a plain tuple: an import reads one per record)."""

    request_id: str
    site: SiteRef
    locator: str
    content_sha256: str
    perceptual_hash: str
    category: str
    measure: int
    handler: int
    department: str
    campaign_id: str
    special_action: str
    effective_us: int | None
    body: int = 0  # hash of the request as sent: a repeat must send the same

    def body_hash(self) -> int:
        return self.body or hash64(repr(self))

    def rollup_action(self) -> str:
        return ROLLUP_ACTIONS[(self.handler, self.measure)]


MEASURES, HANDLERS = set(Measure), set(Handler)
ROLLUP_ACTIONS: dict[tuple[int, int], str] = {
    (h, m): f"{h.name.lower()}:{m.name.lower()}" for h in Handler for m in Measure
}


def validate_disposition(
    d: DispositionInput,
    now_us: int,
    v: Violations,
    campaigns: Mapping[str, Campaign | None],
    ref: Reference,
    p: str = "",
) -> DispositionInput:
    site = validate_ref(d.site, v, f"{p}site.")
    validate_common(
        v,
        p,
        request_id=d.request_id,
        category=d.category,
        department=d.department,
        campaign_id=d.campaign_id,
        special_action=d.special_action,
        effective_us=d.effective_us,
        now_us=now_us,
        campaigns=campaigns,
        ref=ref,
    )
    v.check(
        0 < len(d.locator) <= MAX_LOCATOR,
        f"{p}locator",
        f"required, at most {MAX_LOCATOR} characters",
    )
    v.check(
        bool(SHA256.match(d.content_sha256)),
        f"{p}content_sha256",
        "must be 64 lower-case hex digits",
    )
    v.check(
        not d.perceptual_hash or bool(PHASH.match(d.perceptual_hash)),
        f"{p}perceptual_hash",
        "must be 16 lower-case hex digits",
    )
    v.check(d.measure in MEASURES, f"{p}measure", "required")
    v.check(d.handler in HANDLERS, f"{p}handler", "required")
    return d._replace(site=site)


@dataclass
class Site:
    id: int
    kind: int
    identifier: str
    display_name: str
    operator_entity: str
    icp_filing: str
    region: str
    status: int
    due_us: int | None
    notice_action_id: int | None
    first_action_us: int | None
    last_action_us: int | None
    action_count: int
    revision: int


@dataclass
class SiteActionRow:
    id: int
    site_id: int
    request_id: str
    action: int
    category: str
    department: str
    region: str
    campaign_id: str
    special_action: str
    case: str
    actor: str
    effective_us: int
    due_us: int | None
    problems: tuple[str, ...]
    notice_batch_id: int
    record_us: int
    retracted_us: int | None = None
    retract_reason: str = ""
    retracted_by: str = ""

    def rollup_key(self) -> tuple[str, str, str, str, str]:
        return (
            self.department,
            Action(self.action).name.lower(),
            self.category,
            self.campaign_id,
            self.special_action,
        )


@dataclass
class Batch:
    id: int
    title: str
    department: str
    category: str
    campaign_id: str
    special_action: str
    due_us: int
    state: int
    entry_count: int
    create_us: int
    publish_us: int | None
    revision: int


@dataclass
class DispositionRow:
    id: int
    site_id: int
    request_id: str
    locator: str
    content_sha256: str
    perceptual_hash: str
    category: str
    measure: int
    handler: int
    department: str
    campaign_id: str
    special_action: str
    actor: str
    effective_us: int
    record_us: int


def fold(site: Site, actions: list[SiteActionRow], now_us: int) -> None:
    """Restate a site from its live actions (in effective order) and the time."""
    live = sorted(
        (a for a in actions if a.retracted_us is None), key=lambda a: (a.effective_us, a.id)
    )
    state = SiteState(Status.ACTIVE, None, None)
    for a in live:
        state = next_state(state, a.action, a.id, a.due_us)
    set_state(site, with_time(state, now_us))
    site.action_count = len(live)
    site.first_action_us = live[0].effective_us if live else None
    site.last_action_us = live[-1].effective_us if live else None


def state_of(site: Site, now_us: int) -> SiteState:
    return with_time(SiteState(site.status, site.due_us, site.notice_action_id), now_us)


def set_state(site: Site, state: SiteState) -> None:
    site.status, site.due_us, site.notice_action_id = (
        state.status,
        state.due_us,
        state.notice_action_id,
    )
