"""The case state machine: every transition, legal and illegal, for both kinds of case."""

from __future__ import annotations

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.clock import ManualClock
from tests.service.cases.helpers import all_events, case_msg, create_case, stats, transition
from tests.support.rpc import bad_fields, error_reason, expect_error
from tests.support.servers import START_US, Tokens

REG, INV, PROS, TRIAL, CLOSED, DROPPED = (
    pb.CASE_STATE_REGISTERED,
    pb.CASE_STATE_INVESTIGATING,
    pb.CASE_STATE_PROSECUTION,
    pb.CASE_STATE_TRIAL,
    pb.CASE_STATE_CLOSED,
    pb.CASE_STATE_DROPPED,
)
ALL_STATES = (REG, INV, PROS, TRIAL, CLOSED, DROPPED)
CRIMINAL, ADMIN = pb.CASE_KIND_CRIMINAL, pb.CASE_KIND_ADMINISTRATIVE

# The specification, written out: (kind, from) -> the states it may go to.
LEGAL = {
    (CRIMINAL, REG): {INV, DROPPED},
    (CRIMINAL, INV): {PROS, DROPPED},
    (CRIMINAL, PROS): {TRIAL, DROPPED},
    (CRIMINAL, TRIAL): {CLOSED},
    (CRIMINAL, CLOSED): set(),
    (CRIMINAL, DROPPED): set(),
    (ADMIN, REG): {INV, DROPPED},
    (ADMIN, INV): {CLOSED, DROPPED},
    (ADMIN, CLOSED): set(),
    (ADMIN, DROPPED): set(),
}
# How to reach each state the kind can be in.
PATHS = {
    (CRIMINAL, REG): [],
    (CRIMINAL, INV): [INV],
    (CRIMINAL, PROS): [INV, PROS],
    (CRIMINAL, TRIAL): [INV, PROS, TRIAL],
    (CRIMINAL, CLOSED): [INV, PROS, TRIAL, CLOSED],
    (CRIMINAL, DROPPED): [DROPPED],
    (ADMIN, REG): [],
    (ADMIN, INV): [INV],
    (ADMIN, CLOSED): [INV, CLOSED],
    (ADMIN, DROPPED): [DROPPED],
}


def _name(state: int) -> str:
    return pb.CaseState.Name(state).removeprefix("CASE_STATE_").lower()  # type: ignore[arg-type]


class _Counter:
    n = 0

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"


async def _case_in(
    client: CasesClient, tokens: Tokens, ids: _Counter, kind: pb.CaseKind.ValueType, state: int
) -> pb.Case:
    mps = tokens("mps")
    case = await create_case(
        client, mps, ids.next("c"), case_msg(ids.next("N-"), kind=kind, assisting=["cac"])
    )
    for step in PATHS[(kind, state)]:
        case = await transition(client, mps, ids.next("s"), case.name, step)  # type: ignore[arg-type]
    assert case.state == state
    return case


@pytest.mark.parametrize(("kind", "start"), list(LEGAL), ids=lambda v: str(v))
async def test_every_transition_from_every_state(
    client: CasesClient, tokens: Tokens, clock: ManualClock, kind: pb.CaseKind.ValueType, start: int
) -> None:
    mps, ids = tokens("mps", operator="detective"), _Counter()
    for target in ALL_STATES:
        case = await _case_in(client, tokens, ids, kind, start)
        events = await all_events(client, mps, case.name)
        clock.advance(60)
        if target in LEGAL[(kind, start)]:
            moved = await transition(
                client, mps, ids.next("s"), case.name, target, "decided at the case meeting"
            )
            assert moved.state == target
            assert moved.etag != case.etag
            assert moved.update_time.ToMicroseconds() == clock.now_us()
            after = await all_events(client, mps, case.name)
            assert after[: len(events)] == events  # the timeline only grows
            (event,) = after[len(events) :]
            assert event.kind == pb.CASE_EVENT_KIND_STATE_CHANGED
            assert (event.from_state, event.to_state) == (start, target)
            assert event.detail == (
                f"{_name(start)} → {_name(target)}. decided at the case meeting"
            )
            assert (event.actor, event.department) == ("detective", "mps")
            assert event.time.ToMicroseconds() == clock.now_us()
            got = (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case
            assert got == moved
        else:
            err = await expect_error(
                transition(client, mps, ids.next("s"), case.name, target),
                grpc.StatusCode.FAILED_PRECONDITION,
            )
            assert error_reason(err) == "ILLEGAL_TRANSITION"
            got = (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case
            assert got == case
            assert await all_events(client, mps, case.name) == events


async def test_administrative_cases_never_reach_prosecution_or_trial(
    client: CasesClient, tokens: Tokens
) -> None:
    mps, ids = tokens("mps"), _Counter()
    for start in (REG, INV, CLOSED, DROPPED):
        case = await _case_in(client, tokens, ids, ADMIN, start)
        for target in (PROS, TRIAL):
            await expect_error(
                transition(client, mps, ids.next("s"), case.name, target),
                grpc.StatusCode.FAILED_PRECONDITION,
            )


async def test_case_states_are_counted_by_current_state(
    client: CasesClient, tokens: Tokens
) -> None:
    ids = _Counter()
    made: dict[tuple[int, int], int] = {}
    for kind, start in LEGAL:
        await _case_in(client, tokens, ids, kind, start)
        made[(kind, start)] = made.get((kind, start), 0) + 1
    expected: dict[str, int] = {}
    for (_, state), n in made.items():
        expected[_name(state)] = expected.get(_name(state), 0) + n
    got = await stats(
        client, tokens("office"), pb.STATS_SUBJECT_CASE_STATES, [common_pb2.DIMENSION_ACTION]
    )
    assert {r.action: r.count for r in got.rows} == expected
    assert got.total.count == len(LEGAL)
    kinds = await stats(
        client, tokens("office"), pb.STATS_SUBJECT_CASES, [common_pb2.DIMENSION_ACTION]
    )
    assert {r.action: r.count for r in kinds.rows} == {"criminal": 6, "administrative": 4}


async def test_only_the_lead_department_moves_a_case(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    for md in (tokens("cac"), tokens("office"), tokens("mct"), tokens("mps", "analyst")):
        await expect_error(
            transition(client, md, "s1", case.name, INV), grpc.StatusCode.PERMISSION_DENIED
        )
    got = (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case
    assert got == case
    assert len(await all_events(client, mps, case.name)) == 1


async def test_a_transition_with_a_stale_etag_is_aborted(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    moved = (
        await client.transition_case(
            pb.TransitionCaseRequest(request_id="s1", name=case.name, state=INV, etag=case.etag),
            metadata=mps,
        )
    ).case
    assert moved.state == INV
    await expect_error(
        client.transition_case(
            pb.TransitionCaseRequest(request_id="s2", name=case.name, state=PROS, etag=case.etag),
            metadata=mps,
        ),
        grpc.StatusCode.ABORTED,
    )
    got = (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case
    assert got == moved


async def test_bad_transition_requests(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    e = await expect_error(
        client.transition_case(
            pb.TransitionCaseRequest(request_id="s1", name=case.name), metadata=mps
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["state"]
    e = await expect_error(
        client.transition_case(
            pb.TransitionCaseRequest(request_id="s1", name=case.name, state=INV, note="x" * 1001),
            metadata=mps,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["note"]
    e = await expect_error(
        client.transition_case(
            pb.TransitionCaseRequest(request_id="s1", name="case/1", state=INV), metadata=mps
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["name"]
    await expect_error(transition(client, mps, "s1", "cases/999", INV), grpc.StatusCode.NOT_FOUND)
    assert (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case == case
    assert case.create_time.ToMicroseconds() == START_US
