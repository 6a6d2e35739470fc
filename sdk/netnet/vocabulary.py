"""The vocabulary of statistics, read off the contracts: the names each service counts under
(a stats row's action), and the campaign figures the gateway reports and which of those
names each one sums.

A counted name is an enum value's name without its enum's prefix, in lower case
(``ACTION_TYPE_CLOSE_GROUP`` -> ``close_group``), or a field's name where a sum is counted.
These names are stored in every service's rollup counters, so they never change: a value
renamed in a contract would be a new name (tests/unit/test_vocabulary.py holds the names
already stored). The figure table is what the gateway asks the sources for, what the
bulletin words and what the CLI shows; it names enum values, never strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.descriptor import Descriptor, EnumDescriptor

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as gpb
from netnet.sites.v1 import sites_pb2 as spb

ACCOUNTS, SITES, CASES = "accounts", "sites", "cases"
SOURCES = (ACCOUNTS, SITES, CASES)


class Enum(Protocol):
    """A generated enum (its values are read off its descriptor)."""

    DESCRIPTOR: EnumDescriptor


def counted_name(enum: Enum, number: int) -> str:
    """The name statistics count an enum value under; a number the enum does not have is a
    KeyError (a mapping that names a value that does not exist fails where it is made)."""
    values = enum.DESCRIPTOR.values_by_number
    prefix = values[0].name.removesuffix("UNSPECIFIED")  # every enum starts at *_UNSPECIFIED
    if number == 0:
        raise KeyError(f"{values[0].name} is never counted")
    return values[number].name.removeprefix(prefix).lower()


def counted_names(enum: Enum) -> dict[int, str]:
    """Every value of an enum but UNSPECIFIED, by number, as statistics count it."""
    return {v.number: counted_name(enum, v.number) for v in enum.DESCRIPTOR.values if v.number}


def field_name(message: Descriptor, name: str) -> str:
    """A field of a message, by name: a KeyError when the contract has no such field."""
    return str(message.fields_by_name[name].name)


# --- what each service counts ---------------------------------------------------------------

ACCOUNT_ACTIONS = counted_names(apb.ActionType)
SITE_ACTIONS = counted_names(spb.SiteActionType)
SITE_STATUSES = counted_names(spb.SiteStatus)
CONTENT_MEASURES = counted_names(spb.Measure)
CONTENT_HANDLERS = counted_names(spb.Handler)
# Content is counted by who dealt with it and how: "direct:delete", "platform:label", ...
CONTENT_ACTIONS = {
    (h, m): f"{handler}:{measure}"
    for h, handler in CONTENT_HANDLERS.items()
    for m, measure in CONTENT_MEASURES.items()
}
BATCH_PUBLISHED = counted_name(spb.NoticeBatchState, spb.NOTICE_BATCH_STATE_PUBLISHED)
CASE_KINDS = counted_names(cpb.CaseKind)
CASE_STATES = counted_names(cpb.CaseState)
CASE_MEASURES = counted_names(cpb.Measure)
HANDOVER_STEPS = counted_names(cpb.HandoverState)
TYPICAL_PUBLISHED = counted_name(cpb.TypicalCaseState, cpb.TYPICAL_CASE_STATE_PUBLISHED)
SENTENCED = counted_name(cpb.CaseEventKind, cpb.CASE_EVENT_KIND_SENTENCED)
TERM_MONTHS = field_name(cpb.Sentence.DESCRIPTOR, "term_months")
ILLEGAL_GAINS_FEN = field_name(cpb.CaseFacts.DESCRIPTOR, "illegal_gains_fen")

# Per source and stats subject, every name its rows can carry.
Subject = tuple[str, int]
COUNTED: dict[Subject, frozenset[str]] = {
    (ACCOUNTS, apb.STATS_SUBJECT_UNSPECIFIED): frozenset(ACCOUNT_ACTIONS.values()),
    (ACCOUNTS, apb.STATS_SUBJECT_ACCOUNTS): frozenset(ACCOUNT_ACTIONS.values()),
    (ACCOUNTS, apb.STATS_SUBJECT_GROUPS): frozenset(ACCOUNT_ACTIONS.values()),
    (SITES, spb.STATS_SUBJECT_SITE_ACTIONS): frozenset(SITE_ACTIONS.values()),
    (SITES, spb.STATS_SUBJECT_CONTENT): frozenset(CONTENT_ACTIONS.values()),
    (SITES, spb.STATS_SUBJECT_NOTICE_BATCHES): frozenset({BATCH_PUBLISHED}),
    (SITES, spb.STATS_SUBJECT_SITE_STATUS): frozenset(SITE_STATUSES.values()),
    (SITES, spb.STATS_SUBJECT_APP_ACTIONS): frozenset(SITE_ACTIONS.values()),
    (SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES): frozenset(
        SITE_ACTIONS[a] for a in (spb.SITE_ACTION_TYPE_BAN, spb.SITE_ACTION_TYPE_CLOSE)
    ),
    (CASES, cpb.STATS_SUBJECT_CASES): frozenset(CASE_KINDS.values()),
    (CASES, cpb.STATS_SUBJECT_CASE_STATES): frozenset(CASE_STATES.values()),
    (CASES, cpb.STATS_SUBJECT_MEASURES): frozenset(CASE_MEASURES.values()),
    (CASES, cpb.STATS_SUBJECT_SENTENCES): frozenset({SENTENCED}),
    (CASES, cpb.STATS_SUBJECT_SENTENCE_MONTHS): frozenset({TERM_MONTHS}),
    (CASES, cpb.STATS_SUBJECT_ILLEGAL_GAINS): frozenset({ILLEGAL_GAINS_FEN}),
    (CASES, cpb.STATS_SUBJECT_TYPICAL_CASES): frozenset({TYPICAL_PUBLISHED}),
    (CASES, cpb.STATS_SUBJECT_HANDOVERS): frozenset(HANDOVER_STEPS.values()),
}


# --- the campaign figures -------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One field of netnet.gateway.v1.Figures: the source and stats subject it is read
    from, the counted names it sums (None: every row), and, where it counts distinct
    subjects (where the source can count them exactly), what they are."""

    name: str
    source: str
    subject: int  # the source's StatsSubject
    counts: frozenset[str] | None
    distinct_of: str = ""  # accounts, websites, ...; empty: it counts records

    @property
    def by_action(self) -> bool:
        """Read off rows grouped by action (it sums some names, not every row)."""
        return self.counts is not None

    @property
    def distinct(self) -> bool:
        return bool(self.distinct_of)

    def sums(self, action: str) -> bool:
        """Whether a stats row of this action adds to the figure."""
        return self.counts is None or action in self.counts


def _figure(
    name: str,
    source: str,
    subject: int,
    counts: Iterable[str] | None = None,
    distinct_of: str = "",
) -> Figure:
    return Figure(
        field_name(gpb.Figures.DESCRIPTOR, name),
        source,
        subject,
        None if counts is None else frozenset(counts),
        distinct_of,
    )


def _actions(*values: int) -> list[str]:
    return [SITE_ACTIONS[v] for v in values]


def _content(handler: int) -> list[str]:
    return [name for (h, _), name in CONTENT_ACTIONS.items() if h == handler]


# Accounts and groups apart: a group is never an account handled.
ACCOUNTS_HANDLED = _figure(
    "accounts_handled", ACCOUNTS, apb.STATS_SUBJECT_ACCOUNTS, distinct_of="accounts"
)
GROUPS_HANDLED = _figure(
    "groups_handled", ACCOUNTS, apb.STATS_SUBJECT_GROUPS, distinct_of="subjects"
)
GROUPS_CLOSED = _figure(
    "groups_closed",
    ACCOUNTS,
    apb.STATS_SUBJECT_GROUPS,
    [ACCOUNT_ACTIONS[apb.ACTION_TYPE_CLOSE_GROUP]],
    distinct_of="subjects",
)
SITES_BANNED_OR_CLOSED = _figure(
    "sites_banned_or_closed", SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES, distinct_of="websites"
)
SITES_CLOSED = _figure(
    "sites_closed",
    SITES,
    spb.STATS_SUBJECT_SITE_ACTIONS,
    _actions(spb.SITE_ACTION_TYPE_CLOSE),
    distinct_of="websites",
)
SITES_BANNED = _figure(
    "sites_banned",
    SITES,
    spb.STATS_SUBJECT_SITE_ACTIONS,
    _actions(spb.SITE_ACTION_TYPE_BAN),
    distinct_of="websites",
)
APPS_NOTIFIED = _figure(
    "apps_notified",
    SITES,
    spb.STATS_SUBJECT_APP_ACTIONS,
    _actions(spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION),
    distinct_of="apps",
)
APPS_REMOVED = _figure(
    "apps_removed",
    SITES,
    spb.STATS_SUBJECT_APP_ACTIONS,
    _actions(spb.SITE_ACTION_TYPE_REMOVE_FROM_STORES),
    distinct_of="apps",
)
NOTICE_BATCHES = _figure("notice_batches", SITES, spb.STATS_SUBJECT_NOTICE_BATCHES)
CONTENT_DIRECT = _figure(
    "content_direct", SITES, spb.STATS_SUBJECT_CONTENT, _content(spb.HANDLER_DIRECT)
)
CONTENT_PLATFORM = _figure(
    "content_platform", SITES, spb.STATS_SUBJECT_CONTENT, _content(spb.HANDLER_PLATFORM)
)
CASES_ADMINISTRATIVE = _figure(
    "cases_administrative",
    CASES,
    cpb.STATS_SUBJECT_CASES,
    [CASE_KINDS[cpb.CASE_KIND_ADMINISTRATIVE]],
)
CASES_CRIMINAL = _figure(
    "cases_criminal", CASES, cpb.STATS_SUBJECT_CASES, [CASE_KINDS[cpb.CASE_KIND_CRIMINAL]]
)
SUSPECTS_DETAINED = _figure(
    "suspects_detained",
    CASES,
    cpb.STATS_SUBJECT_MEASURES,
    [CASE_MEASURES[cpb.MEASURE_CRIMINAL_DETENTION]],
    distinct_of="suspects",
)
SUSPECTS_ARRESTED = _figure(
    "suspects_arrested",
    CASES,
    cpb.STATS_SUBJECT_MEASURES,
    [CASE_MEASURES[cpb.MEASURE_ARREST]],
    distinct_of="suspects",
)
TYPICAL_CASES = _figure("typical_cases", CASES, cpb.STATS_SUBJECT_TYPICAL_CASES)
ILLEGAL_GAINS = _figure("illegal_gains_fen", CASES, cpb.STATS_SUBJECT_ILLEGAL_GAINS)

# Every figure, by source (the order the gateway asks for them in).
FIGURES = (
    ACCOUNTS_HANDLED,
    GROUPS_HANDLED,
    GROUPS_CLOSED,
    SITES_BANNED_OR_CLOSED,
    SITES_CLOSED,
    SITES_BANNED,
    APPS_NOTIFIED,
    APPS_REMOVED,
    NOTICE_BATCHES,
    CONTENT_DIRECT,
    CONTENT_PLATFORM,
    CASES_ADMINISTRATIVE,
    CASES_CRIMINAL,
    SUSPECTS_DETAINED,
    SUSPECTS_ARRESTED,
    TYPICAL_CASES,
    ILLEGAL_GAINS,
)
BY_NAME = {f.name: f for f in FIGURES}

# The names of a subject that figures read by action and that no figure reports (so that a
# value added to a contract is placed in a figure, or here, on purpose).
UNREPORTED: dict[Subject, frozenset[str]] = {
    (SITES, spb.STATS_SUBJECT_SITE_ACTIONS): frozenset(
        _actions(
            spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
            spb.SITE_ACTION_TYPE_CONFIRM_RECTIFIED,
            spb.SITE_ACTION_TYPE_REMOVE_FROM_STORES,
            spb.SITE_ACTION_TYPE_RESTORE,
        )
    ),
    (SITES, spb.STATS_SUBJECT_APP_ACTIONS): frozenset(
        _actions(
            spb.SITE_ACTION_TYPE_CONFIRM_RECTIFIED,
            spb.SITE_ACTION_TYPE_BAN,
            spb.SITE_ACTION_TYPE_CLOSE,
            spb.SITE_ACTION_TYPE_RESTORE,
        )
    ),
    (CASES, cpb.STATS_SUBJECT_MEASURES): frozenset(
        CASE_MEASURES[m] for m in (cpb.MEASURE_SUMMONED, cpb.MEASURE_BAIL, cpb.MEASURE_RELEASE)
    ),
}
