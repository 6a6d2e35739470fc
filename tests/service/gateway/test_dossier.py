"""Case dossier: the case, its parties (masked unless the caller leads the case), its linked
sites and accounts with their most recent actions, and the links that do not resolve."""

from __future__ import annotations

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.support.rpc import error_reason
from tests.support.servers import Tokens

C = "netnet-2021"
MISSING = ["sites/999999", "accounts/888888"]
REAL_NAMES = {"Zhu Xiaoming": "Zhu XX", "张三丰": "张某某"}


class Linked:
    """A case linked to two sites and two accounts (with histories) and two dead links."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.site_actions: dict[str, list[str]] = {}  # site -> action names, oldest first
        self.account_actions: dict[str, list[str]] = {}
        self.case = cpb.Case()

    async def build(self) -> Linked:
        rec, clock = self.rec, self.rec.clock
        await rec.campaign(C, "Net Net 2021")
        s = spb
        for action in (
            s.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
            s.SITE_ACTION_TYPE_CONFIRM_RECTIFIED,
            s.SITE_ACTION_TYPE_BAN,
            s.SITE_ACTION_TYPE_RESTORE,
            s.SITE_ACTION_TYPE_CLOSE,
        ):
            clock.advance(60)
            reply = await rec.site("cac", "porn.example.com", action, C)
            self.site_actions.setdefault(reply.site.name, []).append(reply.action.name)
        clock.advance(60)
        reply = await rec.site("mct", "ring.example.com", s.SITE_ACTION_TYPE_BAN, C)
        self.site_actions.setdefault(reply.site.name, []).append(reply.action.name)
        a = apb
        for action in (
            a.ACTION_TYPE_WARN,
            a.ACTION_TYPE_RESTRICT,
            a.ACTION_TYPE_RESTORE,
            a.ACTION_TYPE_BAN,
        ):
            clock.advance(60)
            got = await rec.account("cac", "x1", action, C)
            self.account_actions.setdefault(got.account.name, []).append(got.action.name)
        clock.advance(60)
        got = await rec.account(
            "mps", "grp", a.ACTION_TYPE_CLOSE_GROUP, C, platform="qq", kind=a.ACCOUNT_KIND_GROUP
        )
        self.account_actions.setdefault(got.account.name, []).append(got.action.name)
        sites, accounts = list(self.site_actions), list(self.account_actions)
        links = [sites[0], accounts[0], MISSING[0], sites[1], accounts[1], MISSING[1]]
        self.case = await rec.case(
            "mps",
            "5·11",
            cpb.CASE_KIND_CRIMINAL,
            C,
            title="Spreading obscene materials for profit",
            gains_fen=200_000_000,
            assisting=["cac"],
            linked=links,
        )
        for real in REAL_NAMES:
            await rec.party(self.case.name, real)
        return self


@pytest.fixture
async def linked(stack: Stack, tokens: Tokens, clock: ManualClock) -> Linked:
    return await Linked(Recorder(stack, tokens, clock)).build()


async def dossier(
    linked: Linked, md: list[tuple[str, str]], per_link: int = 0, name: str = ""
) -> pb.GetCaseDossierResponse:
    return await linked.rec.api.gateway.get_case_dossier(
        pb.GetCaseDossierRequest(name=name or linked.case.name, actions_per_link=per_link),
        metadata=md,
        timeout=5,
    )


async def test_dossier_for_an_assisting_department(linked: Linked, tokens: Tokens) -> None:
    got = await dossier(linked, tokens("cac"), per_link=3)
    assert got.case == linked.case
    assert [(p.real_name, p.masked_name) for p in got.parties] == [
        ("", masked) for masked in REAL_NAMES.values()
    ], "a department that does not lead the case sees masked names only"
    assert [s.site.name for s in got.sites] == list(linked.site_actions)
    for row in got.sites:
        recorded = linked.site_actions[row.site.name]
        assert [a.name for a in row.recent_actions] == recorded[::-1][:3]  # newest first
        assert all(a.site == row.site.name for a in row.recent_actions)
    assert got.sites[0].site.status == spb.SITE_STATUS_CLOSED
    assert list(got.sites[0].site.departments) == ["cac"]
    assert [a.account.name for a in got.accounts] == list(linked.account_actions)
    for acc in got.accounts:
        recorded = linked.account_actions[acc.account.name]
        assert [a.name for a in acc.recent_actions] == recorded[::-1][:3]
    assert got.accounts[0].account.status == apb.ACCOUNT_STATUS_BANNED
    assert list(got.unresolved_links) == MISSING
    assert {s.source: s.state for s in got.sources} == {
        "cases": pb.SOURCE_STATE_OK,
        "sites": pb.SOURCE_STATE_OK,
        "accounts": pb.SOURCE_STATE_OK,
    }


async def test_dossier_for_the_lead_and_the_office(linked: Linked, tokens: Tokens) -> None:
    lead = await dossier(linked, tokens("mps"))
    assert [(p.real_name, p.masked_name) for p in lead.parties] == list(REAL_NAMES.items())
    # Default: up to 10 recent actions per link (all of them here).
    for row in lead.sites:
        assert [a.name for a in row.recent_actions] == linked.site_actions[row.site.name][::-1]
    one = await dossier(linked, tokens("mps"), per_link=1)
    assert [[a.name for a in s.recent_actions] for s in one.sites] == [
        names[-1:] for names in linked.site_actions.values()
    ]
    office = await dossier(linked, tokens("office"))
    assert office.case == linked.case
    assert all(not p.real_name for p in office.parties), "the office is not the lead"


async def test_dossier_refusals(linked: Linked, tokens: Tokens) -> None:
    for department in ("nrta", "miit"):  # neither leads nor assists
        with pytest.raises(NetNetError) as e:
            await dossier(linked, tokens(department))
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED, e.value.message
        assert error_reason(e.value) == "CASE_NOT_VISIBLE"  # the cases service's own answer
    with pytest.raises(NetNetError) as e:
        await dossier(linked, tokens("office"), name="cases/424242")
    assert e.value.code == grpc.StatusCode.NOT_FOUND, e.value.message
    for name, per_link in (("sites/1", 0), ("cases/x y", 0), (linked.case.name, 101)):
        with pytest.raises(NetNetError) as e:
            await dossier(linked, tokens("mps"), per_link=per_link, name=name)
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT, (name, e.value.message)


async def test_dossier_without_links(stack: Stack, tokens: Tokens, clock: ManualClock) -> None:
    rec = Recorder(stack, tokens, clock)
    await rec.campaign(C, "Net Net 2021")
    case = await rec.case("mct", "M-1", cpb.CASE_KIND_ADMINISTRATIVE, C)
    got = await rec.api.gateway.get_case_dossier(
        pb.GetCaseDossierRequest(name=case.name), metadata=tokens("mct"), timeout=5
    )
    assert got.case == case and not got.sites and not got.accounts and not got.parties
    assert not got.unresolved_links


async def test_dossier_with_the_sites_service_down(
    linked: Linked, stack: Stack, tokens: Tokens
) -> None:
    await stack.servers["sites"].stop(0)
    got = await dossier(linked, tokens("cac"))
    assert got.case == linked.case and len(got.parties) == 2
    assert not got.sites and len(got.accounts) == 2
    health = {s.source: s.state for s in got.sources}
    assert health["sites"] in (pb.SOURCE_STATE_UNAVAILABLE, pb.SOURCE_STATE_DEADLINE_EXCEEDED)
    assert health["accounts"] == health["cases"] == pb.SOURCE_STATE_OK
    assert list(got.unresolved_links) == [MISSING[1]], "unreached sites are not 'unresolved'"
