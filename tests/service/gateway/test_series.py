"""The campaign series against the three real services: each day's figures, per department
and in total, equal the brute-force count of what the test recorded that day (distinct
figures count actions in a day, as the series says), a retraction restates the day of the
record it takes back, and a department filter keeps to its departments."""

from __future__ import annotations

import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NotFound
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder, status_of
from tests.service.gateway.test_status import C1, C2, seed
from tests.support.oracles import figures_of
from tests.support.rpc import sha
from tests.support.servers import Tokens

DAY = 86400


async def series_of(
    stack: Stack, md: list[tuple[str, str]], campaign: str, departments: list[str] | None = None
) -> pb.GetCampaignSeriesResponse:
    return await stack.gateway.get_campaign_series(
        query=pb.GetCampaignStatusRequest(campaign_id=campaign, departments=departments or []),
        metadata=md,
        timeout=5,
    )


def check(reply: pb.GetCampaignSeriesResponse, rec: Recorder, campaign: str) -> None:
    ledger = rec.ledger
    assert reply.complete and [s.source for s in reply.sources] == ["accounts", "sites", "cases"]
    assert [d.day for d in reply.days] == ledger.days(campaign)
    for day in reply.days:
        assert figures_of(day.total) == ledger.figures(campaign, day=day.day), day.day
        for d in day.departments:
            assert figures_of(d.figures) == ledger.figures(campaign, [d.department], day=day.day), (
                day.day,
                d.department,
            )


async def test_series_equals_brute_force_counts_per_day(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> None:
    rec = Recorder(stack, tokens, clock)
    await seed(rec)  # the status test's records, all on the first day
    clock.advance(DAY)
    await rec.account("cac", "u20", apb.ACTION_TYPE_BAN, C1, "minors")
    await rec.account("cac", "u1", apb.ACTION_TYPE_WARN, C1)  # an account of the first day
    await rec.account("mps", "g9", apb.ACTION_TYPE_CLOSE_GROUP, C1, kind=apb.ACCOUNT_KIND_GROUP)
    await rec.site("cac", "second-day.net", spb.SITE_ACTION_TYPE_BAN, C1)
    await rec.content("nrta", "tv.example.com", sha("day2"), spb.HANDLER_PLATFORM, C1)
    await rec.case("mct", "M-2", cpb.CASE_KIND_ADMINISTRATIVE, C1)
    clock.advance(2 * DAY)  # a day with nothing between
    mistaken = await rec.account("nrta", "s9", apb.ACTION_TYPE_WARN, C1, platform="douyin")
    await rec.account("miit", "u30", apb.ACTION_TYPE_RESTRICT, C1)
    await rec.notice_batch("miit", ["com.third.day"], C1)
    first_day = await rec.account("cac", "u40", apb.ACTION_TYPE_BAN, C2)
    await rec.retract_account("nrta", mistaken.action)
    await rec.retract_account("cac", first_day.action)  # its day is this one, now empty in C2

    office = tokens("office", "analyst")
    reply = await series_of(stack, office, C1)
    assert len(reply.days) == 3 and reply.days[0].day < reply.days[1].day < reply.days[2].day
    check(reply, rec, C1)
    assert [d.department for d in reply.days[1].departments] == rec.ledger.departments(C1)
    assert {n.figure for n in reply.figure_notes} >= {"accounts_handled", "sites_banned"}
    assert reply.start_time.seconds and reply.end_time.seconds > reply.start_time.seconds
    check(await series_of(stack, tokens("miit"), C2), rec, C2)  # stats: every caller

    # The days add up to the status where a figure counts records, not distinct subjects.
    status = await status_of(rec.api, office, C1)
    for figure in ("content_direct", "content_platform", "cases_criminal", "notice_batches"):
        assert sum(getattr(d.total, figure) for d in reply.days) == getattr(status.total, figure)

    only = await series_of(stack, office, C1, ["mps", "cac"])
    assert [d.department for d in only.days[0].departments] == ["mps", "cac"]
    for day in only.days:
        assert figures_of(day.total) == rec.ledger.figures(C1, ["mps", "cac"], day=day.day)

    with pytest.raises(NotFound):
        await series_of(stack, office, "no-such-campaign")
