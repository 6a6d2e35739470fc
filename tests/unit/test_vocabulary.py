"""The vocabulary of statistics: counted names from the contracts, unchanged from those already
stored; the services count under them; every figure maps to values that exist, and every
value that a figure reads by name is placed in a figure or left out on purpose."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import pytest

from gateway import bulletin, status
from netnet import vocabulary as v
from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.cli import render
from netnet.gateway.v1 import gateway_pb2 as gpb
from netnet.sites.v1 import sites_pb2 as spb
from services.accounts import domain as accounts
from services.cases import domain as cases
from services.sites import domain as sites
from services.sites import store as sites_store

# The names in users' databases (rollup_keys.action), as the services wrote them before the
# names were read off the contracts. They never change.
STORED: dict[str, tuple[Mapping[Any, str], Mapping[Any, str]]] = {
    "account actions": (
        v.ACCOUNT_ACTIONS,
        {1: "warn", 2: "restrict", 3: "suspend", 4: "ban", 5: "close_group", 6: "restore"},
    ),
    "site actions": (
        v.SITE_ACTIONS,
        {
            1: "notify_rectification",
            2: "confirm_rectified",
            3: "ban",
            4: "close",
            5: "remove_from_stores",
            6: "restore",
        },
    ),
    "site statuses": (
        v.SITE_STATUSES,
        {
            1: "active",
            2: "notified",
            3: "rectified",
            4: "overdue",
            5: "banned",
            6: "closed",
            7: "removed",
            8: "restored",
        },
    ),
    "content": (
        v.CONTENT_ACTIONS,
        {
            (h, m): f"{hn}:{mn}"
            for h, hn in ((1, "direct"), (2, "platform"))
            for m, mn in ((1, "delete"), (2, "block"), (3, "down_rank"), (4, "label"))
        },
    ),
    "case kinds": (v.CASE_KINDS, {1: "administrative", 2: "criminal"}),
    "case states": (
        v.CASE_STATES,
        {
            1: "registered",
            2: "investigating",
            3: "prosecution",
            4: "trial",
            5: "closed",
            6: "dropped",
        },
    ),
    "measures": (
        v.CASE_MEASURES,
        {1: "summoned", 2: "criminal_detention", 3: "arrest", 4: "bail", 5: "release"},
    ),
    "hand-over steps": (
        v.HANDOVER_STEPS,
        {1: "sent", 2: "acknowledged", 3: "accepted", 4: "returned"},
    ),
    "single names": (
        {
            "batch": v.BATCH_PUBLISHED,
            "typical": v.TYPICAL_PUBLISHED,
            "sentenced": v.SENTENCED,
            "term": v.TERM_MONTHS,
            "gains": v.ILLEGAL_GAINS_FEN,
        },
        {
            "batch": "published",
            "typical": "published",
            "sentenced": "sentenced",
            "term": "term_months",
            "gains": "illegal_gains_fen",
        },
    ),
}


@pytest.mark.parametrize("table", list(STORED))
def test_derived_names_are_the_stored_names_for_every_value(table: str) -> None:
    derived: Mapping[Any, str]
    stored: Mapping[Any, str]
    derived, stored = STORED[table]
    for value, name in stored.items():
        assert derived[value] == name, (table, value)
    if table != "single names":  # each of those is a subject's only name
        # A value added to a contract gets a name of its own, never one already counted.
        assert len(set(derived.values())) == len(derived)


def test_a_counted_name_is_the_value_without_its_enum_prefix() -> None:
    assert v.counted_name(apb.ActionType, apb.ACTION_TYPE_CLOSE_GROUP) == "close_group"
    assert v.counted_name(cpb.Measure, cpb.MEASURE_CRIMINAL_DETENTION) == "criminal_detention"
    assert v.counted_name(spb.SiteActionType, spb.SITE_ACTION_TYPE_BAN) == "ban"
    assert set(v.ACCOUNT_ACTIONS) == {n for n in apb.ActionType.values() if n}


def test_a_mapping_that_names_a_value_that_does_not_exist_fails_where_it_is_made() -> None:
    with pytest.raises(KeyError):
        v.counted_name(apb.ActionType, 99)
    with pytest.raises(KeyError):
        v.counted_name(apb.ActionType, apb.ACTION_TYPE_UNSPECIFIED)
    with pytest.raises(KeyError):
        v.field_name(cpb.Sentence.DESCRIPTOR, "term_weeks")
    with pytest.raises(KeyError):  # a figure the gateway's Figures does not have
        v._figure("sites_painted", v.SITES, spb.STATS_SUBJECT_SITE_ACTIONS)


# --- the services count under these names ---------------------------------------------------

DOMAIN_ENUMS: list[tuple[type[IntEnum], v.Enum]] = [
    (accounts.Kind, apb.AccountKind),
    (accounts.Status, apb.AccountStatus),
    (accounts.Action, apb.ActionType),
    (sites.Kind, spb.SiteKind),
    (sites.Status, spb.SiteStatus),
    (sites.Action, spb.SiteActionType),
    (sites.Measure, spb.Measure),
    (sites.Handler, spb.Handler),
    (sites.BatchState, spb.NoticeBatchState),
    (cases.CaseKind, cpb.CaseKind),
    (cases.CaseState, cpb.CaseState),
    (cases.ClueSource, cpb.ClueSource),
    (cases.ClueState, cpb.ClueState),
    (cases.HandoverState, cpb.HandoverState),
    (cases.PartyKind, cpb.PartyKind),
    (cases.Measure, cpb.Measure),
    (cases.EventKind, cpb.CaseEventKind),
    (cases.TypicalState, cpb.TypicalCaseState),
]


@pytest.mark.parametrize(
    ("domain", "contract"), DOMAIN_ENUMS, ids=[c.DESCRIPTOR.full_name for _, c in DOMAIN_ENUMS]
)
def test_domain_enums_are_the_contracts_value_for_value(
    domain: type[IntEnum], contract: v.Enum
) -> None:
    assert {e.name.lower(): e.value for e in domain} == {
        name: number for number, name in v.counted_names(contract).items()
    }


def test_accounts_count_actions_under_the_contract_names() -> None:
    assert accounts.ACTION_NAMES == v.ACCOUNT_ACTIONS
    for number, name in v.ACCOUNT_ACTIONS.items():
        rec = accounts.ActionRecord(
            1, 1, "r", number, "obscene", "", "cac", "", "c", "s", "", "op", 0, None, 0
        )
        assert rec.rollup_key() == ("cac", name, "obscene", "c", "s")


def test_sites_count_actions_statuses_content_and_batches_under_the_contract_names() -> None:
    for number, name in v.SITE_ACTIONS.items():
        row = sites.SiteActionRow(
            1, 1, "r", number, "obscene", "cac", "", "c", "s", "", "op", 0, None, (), 0, 0
        )
        assert row.rollup_key() == ("cac", name, "obscene", "c", "s")
    for number, name in v.SITE_STATUSES.items():
        assert sites_store._status_key(number) == ("", name, "", "", "")
    assert sites.ROLLUP_ACTIONS == v.CONTENT_ACTIONS
    assert v.COUNTED[(v.SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES)] == sites.BAN_CLOSE_NAMES
    assert sites.BATCH_PUBLISHED == v.BATCH_PUBLISHED


def test_cases_count_kinds_states_measures_sentences_and_gains_under_the_contract_names() -> None:
    seen: dict[str, set[str]] = {}
    for kind in v.CASE_KINDS:
        for state in v.CASE_STATES:
            case = cases.Case(
                *(1, "N", "t", kind, "mps", "", [], [], "c", "s", ["obscene"], state),
                cases.Facts(illegal_gains_fen=5),
                *([], 1, 1, 1),
            )
            party = cases.Party(1, 1, cpb.PARTY_KIND_SUSPECT, "x", "x", "")
            party.measures = [cases.MeasureRecord(m, 1, "mps") for m in v.CASE_MEASURES]
            party.sentence_months, party.sentence_us = 12, 1
            for rollup, _, key, _, _ in cases.contributions(case, [party]):
                seen.setdefault(rollup, set()).add(key[1])
    assert seen == {
        cases.CASES: set(v.CASE_KINDS.values()),
        cases.CASE_STATES: set(v.CASE_STATES.values()),
        cases.MEASURES: set(v.CASE_MEASURES.values()),
        cases.SENTENCES: {v.SENTENCED},
        cases.SENTENCE_MONTHS: {v.TERM_MONTHS},
        cases.GAINS: {v.ILLEGAL_GAINS_FEN},
    }
    assert cases.TYPICAL_PUBLISHED == v.TYPICAL_PUBLISHED
    # A hand-over step is counted under its state's name.
    assert {s.name.lower() for s in cases.HandoverState} == set(v.HANDOVER_STEPS.values())


# --- the figure table ----------------------------------------------------------------------

STATS_SUBJECTS = {
    v.ACCOUNTS: apb.StatsSubject,
    v.SITES: spb.StatsSubject,
    v.CASES: cpb.StatsSubject,
}


def test_every_stats_subject_has_its_counted_names_and_no_other_is_named() -> None:
    subjects = {
        (source, number)
        for source, enum in STATS_SUBJECTS.items()
        for number in enum.values()
        if number or source == v.ACCOUNTS  # accounts count without a subject as before
    }
    assert set(v.COUNTED) == subjects


def test_every_figure_is_a_field_of_figures_and_every_field_a_figure() -> None:
    names = [f.name for f in v.FIGURES]
    assert len(names) == len(set(names))
    assert set(names) == set(gpb.Figures.DESCRIPTOR.fields_by_name)
    assert v.BY_NAME == {f.name: f for f in v.FIGURES}


def test_every_figure_names_counted_values_of_its_subject() -> None:
    for f in v.FIGURES:
        assert (f.source, f.subject) in v.COUNTED, f.name
        assert f.counts is None or f.counts <= v.COUNTED[(f.source, f.subject)], f.name
        assert f.counts != frozenset(), f.name
    for subject, names in v.UNREPORTED.items():
        assert names <= v.COUNTED[subject], subject


def unplaced(
    figures: tuple[v.Figure, ...],
    counted: dict[v.Subject, frozenset[str]],
    unreported: dict[v.Subject, frozenset[str]],
) -> dict[v.Subject, set[str]]:
    """The counted names of each subject read by name that no figure sums and that are not
    left out on purpose; and names both summed and left out."""
    out: dict[v.Subject, set[str]] = {}
    read = {(f.source, f.subject) for f in figures if f.by_action}
    for subject in read:
        of_subject = [f for f in figures if (f.source, f.subject) == subject]
        if any(f.counts is None for f in of_subject):
            continue  # a figure of every row places every value
        summed: set[str] = set().union(*(f.counts or () for f in of_subject))
        left = unreported.get(subject, frozenset())
        wrong = (set(counted[subject]) - summed - left) | (summed & left)
        if wrong:
            out[subject] = wrong
    for subject in unreported:
        if subject not in read:
            out[subject] = set(unreported[subject])
    return out


def test_every_value_a_figure_reads_by_name_is_in_a_figure_or_left_out_on_purpose() -> None:
    assert unplaced(v.FIGURES, v.COUNTED, v.UNREPORTED) == {}


def test_a_value_added_to_a_contract_and_not_placed_fails() -> None:
    measures = (v.CASES, cpb.STATS_SUBJECT_MEASURES)
    counted = dict(v.COUNTED)
    counted[measures] = counted[measures] | {"house_arrest"}
    assert unplaced(v.FIGURES, counted, v.UNREPORTED) == {measures: {"house_arrest"}}


# --- the readers of the table --------------------------------------------------------------


def test_the_gateway_asks_for_every_figure_once() -> None:
    asked = [f for m in status.METRICS for f in m.figures]
    assert sorted(asked, key=v.FIGURES.index) == list(v.FIGURES)
    for m in status.METRICS:
        assert {(f.source, f.subject, f.by_action, f.distinct) for f in m.figures} == {
            (m.source, m.subject, m.by_action, m.distinct)
        }


def test_the_cli_shows_every_figure_but_the_illegal_gains() -> None:
    shown = [f for _, figures in render.COLUMNS for f in figures]
    assert len(shown) == len(set(shown))
    assert set(shown) == set(v.FIGURES) - {v.ILLEGAL_GAINS}


def test_the_bulletin_words_figures_of_the_table() -> None:
    worded = {f for f, _, _ in bulletin.CLAUSES} | set(bulletin.ACTION_CLAUSES)
    assert worded <= set(v.FIGURES)
