"""The gateway forwards the caller's identity and gains no rights of its own: no token is
refused at the gateway, a case hidden from a department stays hidden through the gateway,
and the same request through the gateway and directly shows the same data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.common.v1 import common_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.auth import issue_token
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.support.rpc import error_reason
from tests.support.servers import Tokens

C = "netnet-2021"
Metadata = list[tuple[str, str]]


def gateway_calls(api: Stack, case: str) -> dict[str, Callable[[Metadata], Awaitable[Any]]]:
    async def watch(md: Metadata) -> Any:
        statuses = api.gateway.watch_campaign_status(
            pb.WatchCampaignStatusRequest(query=pb.GetCampaignStatusRequest(campaign_id=C)),
            metadata=md,
            timeout=5,
        )
        async with aclosing(statuses):
            return await anext(statuses, None)

    g = api.gateway
    return {
        "status": lambda md: g.get_campaign_status(
            pb.GetCampaignStatusRequest(campaign_id=C), metadata=md, timeout=5
        ),
        "dossier": lambda md: g.get_case_dossier(
            pb.GetCaseDossierRequest(name=case), metadata=md, timeout=5
        ),
        "bulletin": lambda md: g.generate_bulletin(
            pb.GenerateBulletinRequest(campaign_id=C), metadata=md, timeout=5
        ),
        "lookup": lambda md: g.lookup(pb.LookupRequest(query="5·11"), metadata=md, timeout=5),
        "watch": watch,
    }


@pytest.fixture
async def rec(stack: Stack, tokens: Tokens, clock: ManualClock) -> Recorder:
    recorder = Recorder(stack, tokens, clock)
    await recorder.campaign(C, "Net Net 2021")
    site = await recorder.site("cac", "porn.example.com", spb.SITE_ACTION_TYPE_CLOSE, C)
    account = await recorder.account("cac", "x1", apb.ACTION_TYPE_BAN, C)
    case = await recorder.case(
        "mps",
        "5·11",
        cpb.CASE_KIND_CRIMINAL,
        C,
        assisting=["cac"],
        linked=[site.site.name, account.account.name, "accounts/777777"],
    )
    await recorder.party(case.name, "Zhu Xiaoming")
    return recorder


async def test_no_token_or_a_bad_one_is_refused_at_the_gateway(
    rec: Recorder, tokens: Tokens
) -> None:
    case = next(iter(rec.cases))
    foreign = issue_token(
        Ed25519PrivateKey.generate(), operator="x", department="office", roles=["admin"]
    )  # signed with another deployment's key
    expired = tokens("office", ttl=-10)
    for name, call in gateway_calls(rec.api, case).items():
        for md in ([], [("authorization", "Bearer not-a-jwt")], expired):
            with pytest.raises(NetNetError) as e:
                await call(md)
            assert e.value.code == grpc.StatusCode.UNAUTHENTICATED, (name, md)
        with pytest.raises(NetNetError) as e:
            await call([("authorization", f"Bearer {foreign}")])
        assert e.value.code == grpc.StatusCode.UNAUTHENTICATED, name
        # With a token, the same call goes through.
        await call(tokens("office"))


async def test_a_hidden_case_stays_hidden_through_the_gateway(
    rec: Recorder, tokens: Tokens
) -> None:
    case = next(iter(rec.cases))
    api = rec.api
    for department in ("nrta", "miit", "cpd"):
        md = tokens(department, "admin", "operator")  # roles do not open another's case
        with pytest.raises(NetNetError) as direct:
            await api.cases.get_case(cpb.GetCaseRequest(name=case), metadata=md)
        with pytest.raises(NetNetError) as through:
            await api.gateway.get_case_dossier(
                pb.GetCaseDossierRequest(name=case), metadata=md, timeout=5
            )
        assert direct.value.code == through.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert error_reason(through.value) == error_reason(direct.value) == "CASE_NOT_VISIBLE"
        found = await api.gateway.lookup(pb.LookupRequest(query="5·11"), metadata=md, timeout=5)
        direct_holders = await api.cases.find_case_holders(
            cpb.FindCaseHoldersRequest(number="5·11"), metadata=md
        )
        assert [m.resource for m in found.matches] == [h.case for h in direct_holders.holders]
        assert [m.resource for m in found.matches] == [""]


async def test_the_same_request_shows_the_same_data_through_the_gateway(
    rec: Recorder, tokens: Tokens
) -> None:
    case = next(iter(rec.cases))
    api = rec.api
    for department in ("cac", "mps", "office"):  # assisting, lead, coordinating office
        md = tokens(department)
        dossier = await api.gateway.get_case_dossier(
            pb.GetCaseDossierRequest(name=case, actions_per_link=5), metadata=md, timeout=5
        )
        direct_case = (await api.cases.get_case(cpb.GetCaseRequest(name=case), metadata=md)).case
        parties = (
            await api.cases.list_parties(
                cpb.ListPartiesRequest(parent=case, page_size=1000), metadata=md
            )
        ).response
        assert dossier.case == direct_case
        assert list(dossier.parties) == list(parties.parties)
        assert [p.real_name for p in dossier.parties] == (
            ["Zhu Xiaoming"] if department == "mps" else [""]
        )
        links = list(direct_case.linked_resources)
        sites = await api.sites.batch_get_sites(
            spb.BatchGetSitesRequest(names=[n for n in links if n.startswith("sites/")]),
            metadata=md,
        )
        accounts = await api.accounts.batch_get_accounts(
            apb.BatchGetAccountsRequest(names=[n for n in links if n.startswith("accounts/")]),
            metadata=md,
        )
        assert [s.site for s in dossier.sites] == list(sites.sites)
        assert [a.account for a in dossier.accounts] == list(accounts.accounts)
        assert list(dossier.unresolved_links) == [*sites.not_found, *accounts.not_found]
        for row in dossier.sites:
            direct = (
                await api.sites.list_site_actions(
                    spb.ListSiteActionsRequest(
                        parent=row.site.name, page_size=5, newest_first=True
                    ),
                    metadata=md,
                )
            ).response
            assert list(row.recent_actions) == list(direct.actions)
        for acc in dossier.accounts:
            direct_a = (
                await api.accounts.list_account_actions(
                    apb.ListAccountActionsRequest(
                        parent=acc.account.name, page_size=5, newest_first=True
                    ),
                    metadata=md,
                )
            ).response
            assert list(acc.recent_actions) == list(direct_a.actions)

    # Figures: the gateway's equal the service's own stats for the same caller.
    md = tokens("nrta")
    status = (
        await api.gateway.get_campaign_status(
            pb.GetCampaignStatusRequest(campaign_id=C), metadata=md, timeout=5
        )
    ).status
    stats = await api.accounts.get_stats(
        apb.GetStatsRequest(filter=common_pb2.StatsFilter(campaign_id=C)), metadata=md
    )
    assert status.total.accounts_handled == stats.total.distinct_subjects == 1
    site_stats = await api.sites.get_stats(
        spb.GetStatsRequest(
            subject=spb.STATS_SUBJECT_SITE_ACTIONS,
            filter=common_pb2.StatsFilter(campaign_id=C, actions=["close"]),
        ),
        metadata=md,
    )
    assert status.total.sites_closed == site_stats.total.distinct_subjects == 1
