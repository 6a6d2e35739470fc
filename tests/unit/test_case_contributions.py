"""What a case adds to the rollup counters, as it stands, and the deltas between two states."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from services.cases.domain import (
    CASE_STATES,
    CASES,
    GAINS,
    MEASURES,
    SENTENCE_MONTHS,
    SENTENCES,
    Case,
    CaseKind,
    CaseState,
    Contribution,
    Facts,
    Measure,
    MeasureRecord,
    Party,
    PartyKind,
    contributions,
    difference,
)

DAY_US = 86_400_000_000
T0 = 1_625_097_600_000_000  # 2021-07-01


def _case(
    kind: CaseKind = CaseKind.CRIMINAL,
    state: CaseState = CaseState.INVESTIGATING,
    *,
    categories: list[str] | None = None,
    gains: int = 0,
    register_us: int = T0,
) -> Case:
    return Case(
        7, "5·11", "t", kind, "mps", "341124", ["cac"], ["340000"], "netnet-2021", "minors",
        ["obscene", "fraud"] if categories is None else categories, state,
        Facts(illegal_gains_fen=gains), [], T0 + 5 * DAY_US, T0 + 5 * DAY_US, 1, register_us,
    )  # fmt: skip


def _party(
    id: int, measures: Sequence[tuple[Measure, int]] = (), sentence: tuple[int, int] | None = None
) -> Party:
    p = Party(id, 7, PartyKind.SUSPECT, "江伟", "江某某", "")
    p.measures = [MeasureRecord(m, T0 + d * DAY_US, "mps") for m, d in measures]
    if sentence is not None:
        p.sentence_months, day = sentence
        p.sentence_us = T0 + day * DAY_US
    return p


def key(action: str, category: str = "obscene") -> tuple[str, str, str, str, str]:
    return ("mps", action, category, "netnet-2021", "minors")


def test_a_bare_case_counts_once_by_kind_and_once_by_state() -> None:
    assert contributions(_case(), []) == [
        (CASES, None, key("criminal"), "2021-07-01", 1),
        (CASE_STATES, None, key("investigating"), "2021-07-01", 1),
    ]
    administrative = contributions(_case(CaseKind.ADMINISTRATIVE, CaseState.CLOSED), [])
    assert [c[2][1] for c in administrative] == ["administrative", "closed"]


def test_counted_under_its_first_category_or_other() -> None:
    assert {c[2][2] for c in contributions(_case(categories=["fraud", "obscene"]), [])} == {"fraud"}
    assert {c[2][2] for c in contributions(_case(categories=[]), [])} == {"other"}


def test_dated_by_registration_else_by_creation() -> None:
    assert {c[3] for c in contributions(_case(register_us=T0 + 2 * DAY_US), [])} == {"2021-07-03"}
    assert {c[3] for c in contributions(_case(register_us=0), [])} == {"2021-07-06"}


def test_illegal_gains_count_in_fen_when_there_are_any() -> None:
    assert (GAINS, None, key("illegal_gains_fen"), "2021-07-01", 12_345) in contributions(
        _case(gains=12_345), []
    )
    assert GAINS not in {c[0] for c in contributions(_case(gains=0), [])}


def test_measures_and_sentences_by_party_dated_when_they_happened() -> None:
    parties = [
        _party(1, [(Measure.CRIMINAL_DETENTION, 1), (Measure.ARREST, 3)], sentence=(18, 40)),
        _party(2, [(Measure.SUMMONED, 2)], sentence=(0, 41)),  # sentenced to no term
        _party(3),
    ]
    out = contributions(_case(), parties)
    assert out[2:] == [
        (MEASURES, 1, key("criminal_detention"), "2021-07-02", 1),
        (MEASURES, 1, key("arrest"), "2021-07-04", 1),
        (SENTENCES, 1, key("sentenced"), "2021-08-10", 1),
        (SENTENCE_MONTHS, None, key("term_months"), "2021-08-10", 18),
        (MEASURES, 2, key("summoned"), "2021-07-03", 1),
        (SENTENCES, 2, key("sentenced"), "2021-08-11", 1),
    ]


def _net(deltas: Mapping[str, Sequence[tuple[Any, ...]]]) -> Counter[tuple[Any, ...]]:
    net: Counter[tuple[Any, ...]] = Counter()
    for rollup, items in deltas.items():
        for subject, k, day, n in items:
            net[(rollup, subject, k, day)] += n
    return Counter({k: n for k, n in net.items() if n})  # the zeros dropped


def test_the_difference_takes_the_counters_from_before_to_after() -> None:
    before = contributions(_case(state=CaseState.INVESTIGATING), [_party(1)])
    after = contributions(
        _case(state=CaseState.PROSECUTION, gains=500),
        [_party(1, [(Measure.ARREST, 3)])],
    )
    deltas = difference(before, after)
    counted: Counter[tuple[Any, ...]] = Counter()
    for rollup, subject, k, day, n in before:
        counted[(rollup, subject, k, day)] += n
    for (rollup, subject, k, day), n in _net(deltas).items():
        counted[(rollup, subject, k, day)] += n
    want: Counter[tuple[Any, ...]] = Counter()
    for rollup, subject, k, day, n in after:
        want[(rollup, subject, k, day)] += n
    assert +counted == want
    assert _net(deltas) == Counter(
        {
            (CASE_STATES, None, key("investigating"), "2021-07-01"): -1,
            (CASE_STATES, None, key("prosecution"), "2021-07-01"): 1,
            (GAINS, None, key("illegal_gains_fen"), "2021-07-01"): 500,
            (MEASURES, 1, key("arrest"), "2021-07-04"): 1,
        }
    )


def test_no_change_no_net_delta() -> None:
    same: list[Contribution] = contributions(_case(gains=5), [_party(1, [(Measure.ARREST, 1)])])
    assert _net(difference(same, same)) == Counter()
