"""What waits on a deadline, through the gateway: the sites past their notice's due time and
the hand-overs the caller's department sent or received that are not yet acknowledged, each
with its deadline, as the sources let that caller read them; the published typical cases of a
campaign as their owner lists them."""

from __future__ import annotations

from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.cases.test_handovers import acknowledge, record_clue, transfer
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.support.servers import Tokens

C = "netnet-2021"
DAY_US = 86_400_000_000


async def test_deadlines_list_overdue_sites_and_unacknowledged_handovers(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> None:
    rec = Recorder(stack, tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    late = await rec.site(
        "miit", "com.late.app", spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION, C, kind=spb.SITE_KIND_APP
    )
    await rec.site(
        "miit",
        "com.fixed.app",
        spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
        C,
        kind=spb.SITE_KIND_APP,
    )
    await rec.site(
        "miit", "com.fixed.app", spb.SITE_ACTION_TYPE_CONFIRM_RECTIFIED, C, kind=spb.SITE_KIND_APP
    )
    cac = tokens("cac")
    first = await record_clue(stack.cases, cac, "c1", "cac", campaign_id=C)
    sent = await transfer(stack.cases, cac, "t1", first.name, "mps")
    clock.advance(4 * 86400)  # past the first one's deadline (3 days)
    second = await record_clue(stack.cases, cac, "c2", "cac", campaign_id=C)
    later = await transfer(stack.cases, cac, "t2", second.name, "mct")
    third = await record_clue(stack.cases, cac, "c3", "cac", campaign_id=C)
    done = await transfer(stack.cases, cac, "t3", third.name, "mct")
    await acknowledge(stack.cases, tokens("mct"), "a3", done.name)
    reply = await stack.gateway.list_deadlines(metadata=cac)
    assert [h.name for h in reply.handovers] == [sent.name, later.name]  # soonest first
    assert reply.handovers[0].overdue and not reply.handovers[1].overdue
    for h in reply.handovers:
        assert h.acknowledge_deadline.ToMicroseconds() == h.sent_time.ToMicroseconds() + 3 * DAY_US
    assert not reply.overdue_sites  # the notices are due in 30 days

    clock.advance(27 * 86400)
    reply = await stack.gateway.list_deadlines(metadata=cac)
    assert [s.site.identifier for s in reply.overdue_sites] == ["com.late.app"]
    notice = reply.overdue_sites[0].notice
    assert notice.due_time.ToMicroseconds() < clock.now_us() and notice.campaign_id == C
    assert reply.overdue_sites[0].site.name == late.site.name
    assert not reply.truncated and all(s.state == pb.SOURCE_STATE_OK for s in reply.sources)

    received = await stack.gateway.list_deadlines(metadata=tokens("mps"))
    assert [h.name for h in received.handovers] == [sent.name]  # what mps received
    office = await stack.gateway.list_deadlines(metadata=tokens("office", "analyst"))
    assert not office.handovers  # none sent to or by the office
    assert len(office.overdue_sites) == 1
    small = await stack.gateway.list_deadlines(page_size=1, metadata=cac)
    assert len(small.handovers) <= 2 and small.truncated


async def test_typical_cases_listed_through_the_gateway(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> None:
    rec = Recorder(stack, tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    await rec.campaign("other", "Other")
    for n in range(3):
        case = await rec.case("mps", f"{n}·01", cpb.CASE_KIND_CRIMINAL, C)
        await rec.typical(case.name, f"Case {n}", "Jinhua, Zhejiang", f"Suspect Zhu XX ({n}).")
    elsewhere = await rec.case("mps", "9·09", cpb.CASE_KIND_CRIMINAL, "other")
    await rec.typical(elsewhere.name, "Elsewhere", "Suining, Sichuan", "Suspect Cha XX.")
    for caller in (tokens("office", "analyst"), tokens("nrta")):
        pager = await stack.gateway.list_typical_cases(campaign_id=C, page_size=2, metadata=caller)
        listed = [t async for t in pager]
        owners = [
            t async for t in await stack.cases.list_typical_cases(campaign_id=C, metadata=caller)
        ]
        assert listed == owners and sorted(t.title for t in listed) == [
            "Case 0",
            "Case 1",
            "Case 2",
        ]
