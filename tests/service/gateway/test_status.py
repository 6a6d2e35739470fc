"""Campaign status against the three real services: every figure equals the brute-force count
of what the test recorded through the services' own APIs, per department, per special action
and in total, for two campaigns that must not leak into each other."""

from __future__ import annotations

import grpc
import pytest

from netnet import vocabulary as v
from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.common.v1 import common_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder, status_of
from tests.support.oracles import expect_status
from tests.support.rpc import sha
from tests.support.servers import Tokens

C1, C2 = "netnet-2021", "clean-2022"
C1_SPECIALS = {
    "minors": "Rectifying the online environment of minors",
    "fan-circle": "Rectifying fan-circle chaos",
    "ranking": "Rectifying hot-search ranking chaos",  # no records yet: listed, all zero
}
C2_SPECIALS = {"summer": "Summer clean-up"}
APP, WEB = spb.SITE_KIND_APP, spb.SITE_KIND_WEBSITE
GROUP = apb.ACCOUNT_KIND_GROUP


async def seed(rec: Recorder) -> None:
    """Records from five departments in C1 and three in C2, with repeats that distinct
    counts must not double (the same account, site, app or suspect acted on twice)."""
    await rec.campaign(C1, "Net Net 2021", C1_SPECIALS.items())
    await rec.campaign(C2, "Clean-up 2022", C2_SPECIALS.items())

    # accounts
    a = apb
    await rec.account("cac", "u1", a.ACTION_TYPE_BAN, C1, "minors")
    await rec.account("cac", "u1", a.ACTION_TYPE_WARN, C1, "minors")  # same account again
    await rec.account("cac", "u2", a.ACTION_TYPE_BAN, C1, "fan-circle")
    await rec.account("cac", "g1", a.ACTION_TYPE_RESTRICT, C1, "minors", platform="qq", kind=GROUP)
    await rec.account(
        "cac", "g1", a.ACTION_TYPE_CLOSE_GROUP, C1, "minors", platform="qq", kind=GROUP
    )
    await rec.account("cac", "g2", a.ACTION_TYPE_CLOSE_GROUP, C1, platform="qq", kind=GROUP)
    # a group closed by a second department: one group closed, and never an account
    await rec.account("mps", "g1", a.ACTION_TYPE_CLOSE_GROUP, C1, platform="qq", kind=GROUP)
    await rec.account("mps", "g3", a.ACTION_TYPE_WARN, C1, "fan-circle", platform="qq", kind=GROUP)
    await rec.account("mps", "u1", a.ACTION_TYPE_BAN, C1)  # an account two departments hold
    await rec.account("mps", "u3", a.ACTION_TYPE_WARN, C1, "minors")
    mistaken = await rec.account("nrta", "s1", a.ACTION_TYPE_WARN, C1, platform="douyin")
    await rec.retract_account("nrta", mistaken.action)  # restated: counts nowhere
    await rec.account("nrta", "s2", a.ACTION_TYPE_WARN, C1, "fan-circle", platform="douyin")
    await rec.account("cac", "u1", a.ACTION_TYPE_BAN, C2, "summer")
    await rec.account("mps", "u9", a.ACTION_TYPE_WARN, C2)
    await rec.account("cac", "u7", a.ACTION_TYPE_WARN, "")  # in no campaign at all

    # sites, apps, notice batches and content
    s = spb
    await rec.site("cac", "example-porn.com", s.SITE_ACTION_TYPE_CLOSE, C1, "minors")
    await rec.site("mct", "example-porn.com", s.SITE_ACTION_TYPE_BAN, C1)
    await rec.site("cac", "bad-site.net", s.SITE_ACTION_TYPE_BAN, C1, "fan-circle")
    await rec.site("cac", "again.org", s.SITE_ACTION_TYPE_CLOSE, C1)
    await rec.site("cac", "again.org", s.SITE_ACTION_TYPE_RESTORE, C1)
    await rec.site("cac", "again.org", s.SITE_ACTION_TYPE_CLOSE, C1)  # one site closed twice
    await rec.site("miit", "shop.example.com", s.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION, C1)
    await rec.site("miit", "com.bad.app1", s.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION, C1, kind=APP)
    await rec.notice_batch("miit", ["com.bad.app1", "com.bad.app2", "com.bad.app3"], C1, "minors")
    await rec.notice_batch("miit", ["com.bad.app5"], C1)
    await rec.site("miit", "com.bad.app2", s.SITE_ACTION_TYPE_REMOVE_FROM_STORES, C1, kind=APP)
    await rec.site("miit", "com.bad.app4", s.SITE_ACTION_TYPE_CLOSE, C1, "minors", kind=APP)
    await rec.site("mct", "example-porn.com", s.SITE_ACTION_TYPE_CLOSE, C2, "summer")
    await rec.site("miit", "com.bad.app3", s.SITE_ACTION_TYPE_REMOVE_FROM_STORES, C2, kind=APP)
    await rec.notice_batch("miit", ["com.other.app"], C2, "summer")
    for i in range(3):
        await rec.content("cac", "video.example.com", sha(f"d{i}"), s.HANDLER_DIRECT, C1, "minors")
    for i in range(2):
        await rec.content("cac", "video.example.com", sha(f"p{i}"), s.HANDLER_PLATFORM, C1)
    await rec.content("nrta", "tv.example.com", sha("n0"), s.HANDLER_DIRECT, C1, "fan-circle")
    await rec.content("cac", "video.example.com", sha("x0"), s.HANDLER_PLATFORM, C2, "summer")

    # cases, suspects, typical cases
    c = cpb
    crim, admin = c.CASE_KIND_CRIMINAL, c.CASE_KIND_ADMINISTRATIVE
    k511 = await rec.case("mps", "5·11", crim, C1, "minors", gains_fen=200_000_000)
    zhu = await rec.party(k511.name, "Zhu Xiaoming", "principal culprit")
    await rec.measure(zhu.name, c.MEASURE_CRIMINAL_DETENTION)
    await rec.measure(zhu.name, c.MEASURE_CRIMINAL_DETENTION)  # the same suspect again
    await rec.measure(zhu.name, c.MEASURE_ARREST)
    liu = await rec.party(k511.name, "Liu Dawei", "agent")
    await rec.measure(liu.name, c.MEASURE_CRIMINAL_DETENTION)
    await rec.measure(liu.name, c.MEASURE_SUMMONED)  # counted by no figure
    k607 = await rec.case("mps", "6·07", crim, C1, gains_fen=400_000_000)
    cheng = await rec.party(k607.name, "Cheng Guoqiang")
    await rec.measure(cheng.name, c.MEASURE_ARREST)
    await rec.case("mct", "M-1", admin, C1, "fan-circle")
    await rec.case("cac", "C-1", admin, C1)
    await rec.case("cac", "C-2", crim, C1, "minors", gains_fen=1_234)
    await rec.typical(
        k511.name, "The 5·11 case", "Quanjiao, Anhui", "Suspect Zhu XX ran a pornographic site."
    )
    k701 = await rec.case("mps", "7·01", crim, C2, "summer", gains_fen=100)
    wang = await rec.party(k701.name, "Wang Wu")
    await rec.measure(wang.name, c.MEASURE_CRIMINAL_DETENTION)
    await rec.typical(k701.name, "The 7·01 case", "Suining, Sichuan", "Suspect Wang XX was held.")


@pytest.fixture
async def rec(stack: Stack, tokens: Tokens, clock: ManualClock) -> Recorder:
    recorder = Recorder(stack, tokens, clock)
    await seed(recorder)
    return recorder


async def test_status_equals_brute_force_counts_for_two_campaigns(
    rec: Recorder, tokens: Tokens
) -> None:
    office = tokens("office")
    ledger = rec.ledger
    # The seed covers what the figures distinguish (else the comparison proves little).
    assert ledger.departments(C1) == ["cac", "miit", "mps", "mct", "nrta"]
    assert ledger.departments(C2) == ["cac", "miit", "mps", "mct"]
    c1 = ledger.figures(C1)
    assert all(c1.values()), c1  # every figure is non-zero in C1
    assert c1["accounts_handled"] == 4 and c1["sites_closed"] == 3 and c1["sites_banned"] == 2
    # groups apart from accounts; a site both banned and closed counted once in the whole
    assert (c1["groups_handled"], c1["groups_closed"], c1["sites_banned_or_closed"]) == (3, 2, 4)
    assert c1["apps_notified"] == 4 and c1["suspects_detained"] == 2 and c1["notice_batches"] == 2

    status = await status_of(rec.api, office, C1)
    expect_status(status, ledger, C1, titles=C1_SPECIALS)
    assert status.campaign_title == "Net Net 2021"
    assert status.start_time.seconds and status.end_time.seconds > status.start_time.seconds
    ranking = next(s for s in status.special_actions if s.special_action == "ranking")
    assert set(pb.Figures.DESCRIPTOR.fields_by_name) == {
        f.name for f, _ in ranking.figures.ListFields()
    }, "a special action without records shows zeros, not unset figures"

    other = await status_of(rec.api, office, C2)
    expect_status(other, ledger, C2, titles=C2_SPECIALS)
    assert other.campaign_title == "Clean-up 2022"
    assert other.total.accounts_handled == 2 and other.total.typical_cases == 1

    # Stats are open to every authenticated caller: another department sees the same figures.
    seen_by_nrta = await status_of(rec.api, tokens("nrta"), C1)
    assert [d.figures for d in seen_by_nrta.departments] == [d.figures for d in status.departments]
    assert seen_by_nrta.total == status.total


async def test_departments_filter_restricts_the_rows(rec: Recorder, tokens: Tokens) -> None:
    office = tokens("office")
    for wanted in (["mps"], ["nrta"], ["miit"], ["cac", "nrta"], ["mct", "mps", "cac"]):
        status = await status_of(rec.api, office, C1, wanted)
        expect_status(status, rec.ledger, C1, departments=wanted, titles=C1_SPECIALS)
    # A department with nothing recorded gets its row, all zeros (known, not unset).
    status = await status_of(rec.api, office, C1, ["nppa"])
    (row,) = status.departments
    assert row.department == "nppa" and len(row.figures.ListFields()) == len(
        pb.Figures.DESCRIPTOR.fields
    )
    assert not any(v for _, v in row.figures.ListFields())
    assert status.total == row.figures


async def test_bad_status_requests_are_refused(stack: Stack, tokens: Tokens) -> None:
    api = stack
    for request in (
        pb.GetCampaignStatusRequest(campaign_id=""),
        pb.GetCampaignStatusRequest(campaign_id="Not A Slug"),
        pb.GetCampaignStatusRequest(campaign_id=C1, departments=["nobody"]),
    ):
        with pytest.raises(NetNetError) as e:
            await api.gateway.get_campaign_status(request, metadata=tokens("office"), timeout=3)
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_every_stats_row_carries_a_name_of_its_subjects_vocabulary(
    rec: Recorder, stack: Stack, tokens: Tokens
) -> None:
    """The names the real services count under are the vocabulary's: every stats row of every
    subject carries a name netnet.vocabulary lists for that subject, and what the seed wrote is
    counted under the names of the values it was written with."""
    counted: dict[v.Subject, set[str]] = {}
    for source, subject in v.COUNTED:
        messages = {v.ACCOUNTS: apb, v.SITES: spb, v.CASES: cpb}[source]
        reply = await getattr(stack, source).get_stats(
            messages.GetStatsRequest(
                filter=common_pb2.StatsFilter(campaign_id=C1),
                group_by=[common_pb2.DIMENSION_ACTION],
                subject=subject,
            ),
            metadata=tokens("office"),
            timeout=5,
        )
        counted[(source, subject)] = {r.action for r in reply.rows if r.count}
        assert counted[(source, subject)] <= v.COUNTED[(source, subject)], (source, subject)

    # What the seed wrote, under the names of the values it wrote them with.
    def names(source: str, subject: int) -> set[str]:
        return counted[(source, subject)]

    assert names(v.ACCOUNTS, apb.STATS_SUBJECT_GROUPS) == {
        v.ACCOUNT_ACTIONS[a]
        for a in (apb.ACTION_TYPE_RESTRICT, apb.ACTION_TYPE_CLOSE_GROUP, apb.ACTION_TYPE_WARN)
    }
    assert names(v.SITES, spb.STATS_SUBJECT_SITE_ACTIONS) == set(v.SITE_ACTIONS.values()) - {
        v.SITE_ACTIONS[spb.SITE_ACTION_TYPE_CONFIRM_RECTIFIED]
    }
    assert names(v.SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES) == set(
        v.COUNTED[(v.SITES, spb.STATS_SUBJECT_BANS_AND_CLOSURES)]
    )
    assert names(v.SITES, spb.STATS_SUBJECT_CONTENT) == {
        v.CONTENT_ACTIONS[(h, spb.MEASURE_DELETE)] for h in v.CONTENT_HANDLERS
    }
    assert names(v.SITES, spb.STATS_SUBJECT_NOTICE_BATCHES) == {v.BATCH_PUBLISHED}
    assert names(v.CASES, cpb.STATS_SUBJECT_CASES) == set(v.CASE_KINDS.values())
    assert names(v.CASES, cpb.STATS_SUBJECT_MEASURES) == {
        v.CASE_MEASURES[m]
        for m in (cpb.MEASURE_CRIMINAL_DETENTION, cpb.MEASURE_ARREST, cpb.MEASURE_SUMMONED)
    }
    assert names(v.CASES, cpb.STATS_SUBJECT_TYPICAL_CASES) == {v.TYPICAL_PUBLISHED}
    assert names(v.CASES, cpb.STATS_SUBJECT_ILLEGAL_GAINS) == {v.ILLEGAL_GAINS_FEN}
