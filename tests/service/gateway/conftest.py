"""The three services and a gateway in front of them, all real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial

import grpc
import pytest

from gateway.__main__ import SPEC as GATEWAY
from gateway.servicer import register
from netnet.accounts.v1 import accounts_pb2_grpc
from netnet.cases.v1 import campaigns_pb2_grpc, cases_pb2_grpc
from netnet.gateway.v1 import gateway_pb2_grpc
from netnet.sites.v1 import sites_pb2_grpc
from services.accounts.__main__ import SPEC as ACCOUNTS
from services.cases.__main__ import SPEC as CASES
from services.common.server import RunningServer
from services.sites.__main__ import SPEC as SITES
from tests.support.servers import channel_to


@dataclass
class Stack:
    servers: dict[str, RunningServer]
    gateway: gateway_pb2_grpc.GatewayServiceStub
    accounts: accounts_pb2_grpc.AccountServiceStub
    sites: sites_pb2_grpc.SiteServiceStub
    cases: cases_pb2_grpc.CaseServiceStub
    campaigns: campaigns_pb2_grpc.CampaignServiceStub
    channels: list[grpc.aio.Channel]


@pytest.fixture
def addrs() -> dict[str, str]:
    """Where the gateway looks for each source (a test may put a proxy in between)."""
    return {}


@pytest.fixture
async def stack(serve, addrs: dict[str, str]) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    # Accounts and sites learn campaigns from this stack's cases service, as deployed.
    cases = await serve(CASES)
    servers = {
        spec.name: await serve(spec, cases_addr=addrs.get("cases", f"127.0.0.1:{cases.port}"))
        for spec in (ACCOUNTS, SITES)
    }
    servers["cases"] = cases
    targets = {name: addrs.get(name, f"127.0.0.1:{s.port}") for name, s in servers.items()}
    gateway_spec = replace(GATEWAY, register=partial(register, addrs=targets))
    servers["gateway"] = await serve(
        gateway_spec, source_timeout_seconds=1.0, watch_debounce_seconds=0.05
    )
    channels = [
        await channel_to(servers[n].port) for n in ("gateway", "accounts", "sites", "cases")
    ]
    gw, acc, sit, cas = channels
    yield Stack(
        servers,
        gateway_pb2_grpc.GatewayServiceStub(gw),
        accounts_pb2_grpc.AccountServiceStub(acc),
        sites_pb2_grpc.SiteServiceStub(sit),
        cases_pb2_grpc.CaseServiceStub(cas),
        campaigns_pb2_grpc.CampaignServiceStub(cas),
        channels,
    )
    for channel in channels:
        await channel.close()
