"""A source that is down: the status comes back within the caller's deadline, says which
source is missing, leaves that source's figures unset (never a silent zero) and keeps the
others'; once the source is back on its port, the next status is whole again."""

from __future__ import annotations

import time

import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.accounts.__main__ import SPEC as ACCOUNTS
from services.cases.__main__ import SPEC as CASES
from services.common.clock import ManualClock
from services.common.server import ServiceSpec
from services.sites.__main__ import SPEC as SITES
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder, state_of, status_of
from tests.support.oracles import SOURCE_OF, figures_of, intact, unset
from tests.support.servers import START_US, Tokens, restart

C = "netnet-2021"
DOWN = (pb.SOURCE_STATE_UNAVAILABLE, pb.SOURCE_STATE_DEADLINE_EXCEEDED)


async def seed(rec: Recorder) -> None:
    """cac and mps have records in all three sources."""
    await rec.campaign(C, "Net Net 2021", [("minors", "Minors")])
    for dept in ("cac", "mps"):
        await rec.account(dept, f"{dept}-u1", apb.ACTION_TYPE_BAN, C, "minors")
        await rec.account(dept, f"{dept}-u2", apb.ACTION_TYPE_WARN, C)
        await rec.site(dept, f"{dept}.example.com", spb.SITE_ACTION_TYPE_CLOSE, C, "minors")
        await rec.case(dept, f"{dept}-1", cpb.CASE_KIND_ADMINISTRATIVE, C, "minors", gains_fen=5)


def rows(status: pb.CampaignStatus) -> dict[str, pb.Figures]:
    out = {"total": status.total}
    out.update({f"department {d.department}": d.figures for d in status.departments})
    out.update({f"special {s.special_action}": s.figures for s in status.special_actions})
    return out


@pytest.mark.parametrize(
    ("source", "spec"), [("sites", SITES), ("accounts", ACCOUNTS), ("cases", CASES)]
)
async def test_a_stopped_source_is_marked_and_comes_back(
    stack: Stack, tokens: Tokens, clock: ManualClock, source: str, spec: ServiceSpec
) -> None:
    api = stack
    rec = Recorder(api, tokens, clock)
    await seed(rec)
    office = tokens("office")
    whole = await status_of(api, office, C)
    assert whole.complete and set(rows(whole)) == {
        "total",
        "department cac",
        "department mps",
        "special minors",
    }
    assert whole.total.accounts_handled == 4 and whole.total.sites_closed == 2
    assert whole.total.cases_administrative == 2 and whole.total.illegal_gains_fen == 10

    old = stack.servers[source]
    await old.stop(0)
    started = time.perf_counter()
    partial = await status_of(api, office, C, deadline=3)
    assert time.perf_counter() - started < 3
    assert not partial.complete
    assert state_of(partial, source) in DOWN, partial.sources
    assert next(s for s in partial.sources if s.source == source).error
    for other in set(SOURCE_OF) - {source}:
        assert state_of(partial, other) == pb.SOURCE_STATE_OK
    if source == "cases":  # the campaign's titles and period come from the cases service
        assert partial.campaign_title == "" and not partial.HasField("start_time")
        assert {s.title for s in partial.special_actions} == {"minors"}
    else:
        assert partial.campaign_title == "Net Net 2021"
    before, after = rows(whole), rows(partial)
    assert set(after) == set(before)
    for name, figures in after.items():
        assert unset(figures, source), (name, figures)  # unknown, not zero
        for other in set(SOURCE_OF) - {source}:
            assert intact(figures, other), (name, other)
        expected = {
            k: (None if k in SOURCE_OF[source] else v) for k, v in figures_of(before[name]).items()
        }
        assert figures_of(figures) == expected, name

    again = await restart(old, spec, clock)
    try:
        back = await status_of(api, office, C, deadline=3)
        assert back.complete, back.sources
        assert [d.figures for d in back.departments] == [d.figures for d in whole.departments]
        assert back.total == whole.total
        assert back.special_actions == whole.special_actions
    finally:
        await again.stop(0)


async def test_a_short_caller_deadline_bounds_every_source(stack: Stack, tokens: Tokens) -> None:
    """The per-source budget is cut to what is left of the caller's deadline."""
    api = stack
    await Recorder(api, tokens, ManualClock(START_US)).campaign(C, "Net Net 2021")
    await stack.servers["accounts"].stop(0)
    started = time.perf_counter()
    status = await status_of(api, tokens("office"), C, deadline=0.5)
    assert time.perf_counter() - started < 0.5
    assert state_of(status, "accounts") in DOWN and not status.complete
    assert unset(status.total, "accounts") and intact(status.total, "sites")
