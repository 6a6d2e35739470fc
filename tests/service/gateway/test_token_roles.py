"""A token must name a known role (operator, analyst, admin, auditor, service) to do anything,
reading included: one with no role, or only unknown roles, is UNAUTHENTICATED on every service
and at the gateway. Unknown roles beside a known one grant nothing; the known ones still work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as campb
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
Metadata = list[tuple[str, str]]


def token_with_roles(tokens: Tokens, roles: Any, department: str = "cac") -> Metadata:
    """A token signed with the deployment's key, naming whatever roles claim it is given."""
    token = tokens.sign(tokens.claims(dept=department, roles=roles))
    return [("authorization", f"Bearer {token}")]


def reads(api: Stack) -> dict[str, Callable[[Metadata], Awaitable[Any]]]:
    """A read RPC of each service, and the gateway's."""

    async def watch(md: Metadata) -> Any:
        changes = api.accounts.watch_changes(apb.WatchChangesRequest(), metadata=md, timeout=5)
        async with aclosing(changes):
            return await anext(changes, None)

    return {
        "accounts": lambda md: api.accounts.get_stats(apb.GetStatsRequest(), metadata=md),
        "accounts watch": watch,
        "sites": lambda md: api.sites.get_stats(
            spb.GetStatsRequest(subject=spb.STATS_SUBJECT_SITE_ACTIONS), metadata=md
        ),
        "cases": lambda md: api.cases.get_stats(
            cpb.GetStatsRequest(subject=cpb.STATS_SUBJECT_CASES), metadata=md
        ),
        "campaigns": lambda md: api.campaigns.list_campaigns(
            campb.ListCampaignsRequest(), metadata=md
        ),
        "gateway": lambda md: api.gateway.get_campaign_status(
            pb.GetCampaignStatusRequest(campaign_id=C), metadata=md, timeout=5
        ),
    }


def ban(uid: str) -> apb.RecordActionRequest:
    return apb.RecordActionRequest(
        action=apb.ActionInput(
            request_id=uid,
            account=apb.AccountRef(platform="weibo", platform_uid=uid, kind=apb.ACCOUNT_KIND_USER),
            action=apb.ACTION_TYPE_BAN,
            category="obscene",
            department="cac",
        )
    )


@pytest.fixture
async def rec(stack: Stack, tokens: Tokens, clock: ManualClock) -> Recorder:
    recorder = Recorder(stack, tokens, clock)
    await recorder.campaign(C, "Net Net 2021")
    await recorder.account("cac", "x1", apb.ACTION_TYPE_BAN, C)  # the watch has an event
    return recorder


@pytest.mark.parametrize("roles", [[], ["superuser"], ["Admin", "root"], "admin", None], ids=repr)
async def test_a_token_without_a_known_role_reads_nothing(
    rec: Recorder, tokens: Tokens, roles: Any
) -> None:
    md = token_with_roles(tokens, roles)
    for name, call in reads(rec.api).items():
        with pytest.raises(NetNetError) as e:
            await call(md)
        assert e.value.code == grpc.StatusCode.UNAUTHENTICATED, (name, e.value.message)
        assert error_reason(e.value) in ("TOKEN_NO_ROLE", "TOKEN_INVALID"), name
        # The same read with a known role goes through (the refusal was about the roles).
        await call(token_with_roles(tokens, ["analyst"]))


async def test_a_token_without_a_known_role_writes_nothing(rec: Recorder, tokens: Tokens) -> None:
    before = await rec.api.accounts.get_stats(apb.GetStatsRequest(), metadata=tokens("cac"))
    request = ban("w1")
    with pytest.raises(NetNetError) as e:
        await rec.api.accounts.record_action(request, metadata=token_with_roles(tokens, ["writer"]))
    assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
    after = await rec.api.accounts.get_stats(apb.GetStatsRequest(), metadata=tokens("cac"))
    assert after.total == before.total


async def test_unknown_roles_beside_a_known_one_grant_nothing(
    rec: Recorder, tokens: Tokens
) -> None:
    reader = token_with_roles(tokens, ["analyst", "superuser", "operator-of-everything"])
    for name, call in reads(rec.api).items():
        assert await call(reader) is not None, name
    request = ban("w2")
    with pytest.raises(NetNetError) as e:
        await rec.api.accounts.record_action(request, metadata=reader)
    assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(e.value) == "ROLE_REQUIRED"
    # A known writer role beside an unknown one writes as that role allows.
    writer = token_with_roles(tokens, ["operator", "superuser"])
    reply = await rec.api.accounts.record_action(request, metadata=writer)
    assert reply.action.department == "cac"
