"""Every transition of a case, legal and illegal, for both kinds of case."""

from __future__ import annotations

import itertools

import pytest

from services.cases.domain import Case, CaseKind, CaseState, Facts, check_transition
from services.common.errors import FailedPrecondition

R, INV, P, T, C, D = (
    CaseState.REGISTERED,
    CaseState.INVESTIGATING,
    CaseState.PROSECUTION,
    CaseState.TRIAL,
    CaseState.CLOSED,
    CaseState.DROPPED,
)
# Criminal cases: registered -> investigating -> prosecution -> trial -> closed, dropped
# before trial. Administrative ones are decided after investigation and closed.
LEGAL = {
    CaseKind.CRIMINAL: {(R, INV), (R, D), (INV, P), (INV, D), (P, T), (P, D), (T, C)},
    CaseKind.ADMINISTRATIVE: {(R, INV), (R, D), (INV, C), (INV, D)},
}
ALL = [(kind, a, b) for kind in CaseKind for a, b in itertools.product(CaseState, CaseState)]


def _case(kind: CaseKind, state: CaseState) -> Case:
    return Case(
        1, "5·11", "t", kind, "mps", "341124", [], [], "", "", ["obscene"], state,
        Facts(), [], 0, 0, 1,
    )  # fmt: skip


@pytest.mark.parametrize(("kind", "start", "to"), ALL)
def test_transition(kind: CaseKind, start: CaseState, to: CaseState) -> None:
    case = _case(kind, start)
    if (start, to) in LEGAL[kind]:
        check_transition(case, to)
        return
    with pytest.raises(FailedPrecondition) as e:
        check_transition(case, to)
    assert e.value.reason == "ILLEGAL_TRANSITION"
    assert kind.name.lower() in e.value.message
    allowed = sorted(b.name.lower() for a, b in LEGAL[kind] if a == start)
    assert e.value.message.endswith(", ".join(allowed) or "none (final state)")


@pytest.mark.parametrize("kind", list(CaseKind))
def test_closed_and_dropped_are_final(kind: CaseKind) -> None:
    assert not [b for a, b in LEGAL[kind] if a in (C, D)]
    for end, to in itertools.product((C, D), CaseState):
        with pytest.raises(FailedPrecondition):
            check_transition(_case(kind, end), to)


def test_administrative_cases_never_reach_prosecution_or_trial() -> None:
    reachable, frontier = {R}, [R]
    while frontier:
        state = frontier.pop()
        for to in CaseState:
            try:
                check_transition(_case(CaseKind.ADMINISTRATIVE, state), to)
            except FailedPrecondition:
                continue
            if to not in reachable:
                reachable.add(to)
                frontier.append(to)
    assert reachable == {R, INV, C, D}
