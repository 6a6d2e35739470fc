"""WatchCampaignStatus: a first status, then a fresh one after a change in any source
(debounced), a status that marks a source gone, one that is whole when it is back, and
updates from that source again afterwards. Every wait is bounded; nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from services.sites.__main__ import SPEC as SITES
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder, next_matching, state_of
from tests.support.oracles import intact, unset
from tests.support.servers import Tokens, restart

C = "netnet-2021"
BURST = 20
OK = pb.SOURCE_STATE_OK


def watch(
    api: Stack, md: list[tuple[str, str]], departments: tuple[str, ...] = ()
) -> AsyncGenerator[pb.WatchCampaignStatusResponse, None]:
    return api.gateway.watch_campaign_status(
        pb.WatchCampaignStatusRequest(
            query=pb.GetCampaignStatusRequest(campaign_id=C, departments=list(departments))
        ),
        metadata=md,
    )


async def test_watch_follows_every_source_through_a_restart(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> None:
    api = stack
    rec = Recorder(api, tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    await rec.account("cac", "u0", apb.ACTION_TYPE_BAN, C)
    async with aclosing(watch(api, tokens("office"))) as call:
        first, seen = await next_matching(call, lambda r: True, 5)
        assert seen == 1 and first.trigger == ""
        assert first.status.complete and first.status.campaign_title == "Net Net 2021"
        assert first.status.total.accounts_handled == 1 and first.status.total.sites_closed == 0

        # A change in each source brings a fresh status, naming the source.
        await rec.site("cac", "a.example.com", spb.SITE_ACTION_TYPE_CLOSE, C)
        got, _ = await next_matching(call, lambda r: r.status.total.sites_closed == 1, 5)
        assert got.trigger == "sites" and got.status.complete
        await rec.case("mps", "5·11", cpb.CASE_KIND_CRIMINAL, C)
        got, _ = await next_matching(call, lambda r: r.status.total.cases_criminal == 1, 5)
        assert got.trigger == "cases"
        await rec.account("mps", "u1", apb.ACTION_TYPE_WARN, C)
        got, _ = await next_matching(call, lambda r: r.status.total.accounts_handled == 2, 5)
        assert got.trigger == "accounts"
        assert [d.department for d in got.status.departments] == ["cac", "mps"]

        # A burst of writes at once: debounced into far fewer statuses than writes.
        await asyncio.gather(
            *(rec.account("nrta", f"burst-{i}", apb.ACTION_TYPE_WARN, C) for i in range(BURST))
        )
        final = 2 + BURST
        got, seen = await next_matching(
            call, lambda r: r.status.total.accounts_handled == final, 10
        )
        assert seen < BURST // 2, f"{seen} statuses for a burst of {BURST} writes"

        # A source stops: a status says so (its figures unset, the others intact).
        old = stack.servers["sites"]
        await old.stop(0)
        down, _ = await next_matching(call, lambda r: state_of(r.status, "sites") != OK, 10)
        assert state_of(down.status, "sites") in (
            pb.SOURCE_STATE_UNAVAILABLE,
            pb.SOURCE_STATE_DEADLINE_EXCEEDED,
        )
        assert not down.status.complete and unset(down.status.total, "sites")
        assert intact(down.status.total, "accounts") and intact(down.status.total, "cases")
        assert down.status.total.accounts_handled == final

        # Back on its port: a whole status again, and its later changes still count.
        again = await restart(old, SITES, clock)
        try:
            back, _ = await next_matching(call, lambda r: r.status.complete, 15)
            assert back.status.total.sites_closed == 1
            assert back.status.total.accounts_handled == final
            await rec.site("mct", "b.example.com", spb.SITE_ACTION_TYPE_BAN, C)
            later, _ = await next_matching(call, lambda r: r.status.total.sites_banned == 1, 10)
            assert later.trigger == "sites" and later.status.complete
            assert later.status.total.sites_closed == 1
        finally:
            await again.stop(0)


async def test_watch_keeps_the_query(stack: Stack, tokens: Tokens, clock: ManualClock) -> None:
    """The watched query (departments filter) holds for every streamed status."""
    api = stack
    rec = Recorder(api, tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    async with aclosing(watch(api, tokens("mps"), ("mps",))) as call:
        first, _ = await next_matching(call, lambda r: True, 5)
        assert [d.department for d in first.status.departments] == ["mps"]
        assert first.status.total.accounts_handled == 0
        await rec.account("cac", "other", apb.ACTION_TYPE_BAN, C)  # another department's
        await rec.account("mps", "own", apb.ACTION_TYPE_BAN, C)
        got, _ = await next_matching(call, lambda r: r.status.total.accounts_handled == 1, 5)
        assert [d.department for d in got.status.departments] == ["mps"]
        assert got.status.departments[0].figures.accounts_handled == 1
