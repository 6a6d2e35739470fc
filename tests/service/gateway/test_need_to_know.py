"""The gateway's read surfaces over cases follow the cases service's need-to-know rule: a
party's real name never reaches a caller who may not see it (dossier, look-up, bulletin), and
a watcher of the campaign status still hears of changes it may not read (figures move)."""

from __future__ import annotations

from contextlib import aclosing

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.clock import ManualClock
from tests.service.cases.helpers import regional
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder, next_matching
from tests.support.servers import Tokens

C = "netnet-2021"
REAL = ("蒋明华", "明华", "Zhu Dawei", "Dawei")
# (department, region): sees the details, sees the real names
CALLERS = {
    ("mps", "330000"): (True, True),
    ("mps", "110000"): (False, False),
    ("cac", ""): (True, False),
    ("cac", "110000"): (False, False),
    ("office", ""): (True, False),
    ("office", "110000"): (False, False),
    ("miit", ""): (False, False),
}


def md_of(tokens: Tokens, department: str, region: str) -> list[tuple[str, str]]:
    return regional(tokens, department, region) if region else tokens(department)


def leaks(message: object) -> list[str]:
    text = str(message)
    return [name for name in REAL if name in text]


class Jinhua:
    """Jinhua's case (public security of 330700, cac assisting) with two suspects, and the
    summary the bureau vetted and the office published."""

    def __init__(self, api: Stack, tokens: Tokens) -> None:
        self.api, self.tokens = api, tokens
        self.lead = regional(tokens, "mps", "330700")
        self.case = cpb.Case()

    async def build(self, rec: Recorder) -> Jinhua:
        await rec.campaign(C, "Net Net 2021")
        self.case = (
            await self.api.cases.create_case(
                cpb.CreateCaseRequest(
                    request_id="c1",
                    case=cpb.Case(
                        number="JH-1",
                        title="Jinhua: obscene live streams",
                        kind=cpb.CASE_KIND_CRIMINAL,
                        lead_department="mps",
                        lead_region="330700",
                        assisting_departments=["cac"],
                        provinces=["330000"],
                        campaign_id=C,
                        categories=["obscene"],
                    ),
                ),
                metadata=self.lead,
            )
        ).case
        for n, name in enumerate(("蒋明华", "Zhu Dawei")):
            await self.api.cases.add_party(
                cpb.AddPartyRequest(
                    request_id=f"p{n}",
                    parent=self.case.name,
                    party=cpb.Party(kind=cpb.PARTY_KIND_SUSPECT, real_name=name, role="suspect"),
                ),
                metadata=self.lead,
            )
        return self

    async def draft(self, request_id: str, summary: str) -> cpb.TypicalCase:
        return (
            await self.api.cases.draft_typical_case(
                cpb.DraftTypicalCaseRequest(
                    request_id=request_id,
                    typical_case=cpb.TypicalCase(
                        case=self.case.name,
                        title="Jinhua, Zhejiang: the JH-1 case",
                        region="Jinhua, Zhejiang",
                        summary=summary,
                    ),
                ),
                metadata=self.lead,
            )
        ).typical_case


@pytest.fixture
async def jinhua(stack: Stack, tokens: Tokens, clock: ManualClock) -> Jinhua:
    api = stack
    return await Jinhua(api, tokens).build(Recorder(api, tokens, clock))


@pytest.mark.parametrize(("department", "region"), list(CALLERS))
async def test_dossier_and_lookup_follow_the_lead_office_rule(
    jinhua: Jinhua, tokens: Tokens, department: str, region: str
) -> None:
    details, names = CALLERS[(department, region)]
    md = md_of(tokens, department, region)
    gateway = jinhua.api.gateway
    call = gateway.get_case_dossier(
        pb.GetCaseDossierRequest(name=jinhua.case.name), metadata=md, timeout=5
    )
    if details:
        got = await call
        assert got.case.name == jinhua.case.name
        assert [p.masked_name for p in got.parties] == ["蒋某某", "Zhu XX"]
        assert bool(leaks(got)) is names
        if names:
            assert [p.real_name for p in got.parties] == ["蒋明华", "Zhu Dawei"]
    else:
        with pytest.raises(NetNetError) as e:
            await call
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert not leaks(e.value.message)

    reply = await gateway.lookup(pb.LookupRequest(query="JH-1"), metadata=md, timeout=5)
    (match,) = reply.matches
    assert match.kind == pb.MATCH_KIND_CASE
    assert match.resource == (jinhua.case.name if details else "")
    assert list(match.departments) == ["mps", "cac"]  # whom to contact, for every caller
    assert not leaks(reply)


async def test_the_bulletin_prints_only_what_was_vetted_and_published(
    jinhua: Jinhua, tokens: Tokens
) -> None:
    draft = await jinhua.draft("d1", "蒋某某 and Zhu XX ran obscene live streams for profit.")
    for department, region in CALLERS:
        md = md_of(tokens, department, region)
        text = (
            await jinhua.api.gateway.generate_bulletin(
                pb.GenerateBulletinRequest(campaign_id=C), metadata=md, timeout=10
            )
        ).text
        assert "ran obscene live streams" not in text  # a draft is not public
    await jinhua.api.cases.publish_typical_case(
        cpb.PublishTypicalCaseRequest(
            request_id="t1", typical_case=cpb.TypicalCase(name=draft.name)
        ),
        metadata=tokens("office"),
    )
    for department, region in CALLERS:
        md = md_of(tokens, department, region)
        text = (
            await jinhua.api.gateway.generate_bulletin(
                pb.GenerateBulletinRequest(campaign_id=C), metadata=md, timeout=10
            )
        ).text
        assert "蒋某某 and Zhu XX ran obscene live streams" in text
        assert not leaks(text)


async def test_a_status_watcher_hears_of_changes_it_may_not_read(
    jinhua: Jinhua, tokens: Tokens
) -> None:
    """The cases feed withholds Jinhua's changes from Beijing's cyberspace office, but their
    position still reaches the gateway: the figures (every caller's) are refreshed."""
    md = regional(tokens, "cac", "110000")
    async with aclosing(
        jinhua.api.gateway.watch_campaign_status(
            pb.WatchCampaignStatusRequest(query=pb.GetCampaignStatusRequest(campaign_id=C)),
            metadata=md,
        )
    ) as call:
        first, _ = await next_matching(call, lambda r: True, 5)
        assert first.status.total.cases_criminal == 1
        await jinhua.api.cases.record_measure(
            cpb.RecordMeasureRequest(
                request_id="m1",
                party=f"{jinhua.case.name}/parties/1",
                measure=cpb.MEASURE_CRIMINAL_DETENTION,
            ),
            metadata=jinhua.lead,
        )
        got, _ = await next_matching(call, lambda r: r.status.total.suspects_detained == 1, 5)
        assert got.trigger == "cases"
