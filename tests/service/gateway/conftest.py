"""The three services and a gateway in front of them, all real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial

import grpc
import pytest

from gateway.__main__ import SPEC as GATEWAY
from gateway.servicer import register
from netnet.client import AccountsClient, CasesClient, GatewayClient, SitesClient
from services.accounts.__main__ import SPEC as ACCOUNTS
from services.cases.__main__ import SPEC as CASES
from services.common.server import RunningServer
from services.sites.__main__ import SPEC as SITES
from tests.support.servers import channel_to


@dataclass
class Stack:
    """The servers, and an SDK client for each (no token of their own: each call brings the
    token it tests). The campaign service lives in the cases process: `campaigns` is the
    cases client."""

    servers: dict[str, RunningServer]
    gateway: GatewayClient
    accounts: AccountsClient
    sites: SitesClient
    cases: CasesClient
    campaigns: CasesClient
    channels: list[grpc.aio.Channel]


@pytest.fixture
def addrs() -> dict[str, str]:
    """Where the gateway looks for each source (a test may put a proxy in between)."""
    return {}


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    """The gateway's settings that differ from the tests' defaults (the dashboard's tests
    turn it on)."""
    return {}


@pytest.fixture
async def stack(
    serve, addrs: dict[str, str], gateway_settings: dict[str, object]
) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
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
        gateway_spec,
        **{"source_timeout_seconds": 1.0, "watch_debounce_seconds": 0.05, **gateway_settings},
    )
    channels = [
        await channel_to(servers[n].port) for n in ("gateway", "accounts", "sites", "cases")
    ]
    gw, acc, sit, cas = channels
    cases_client = CasesClient(channel=cas, token="")
    yield Stack(
        servers,
        GatewayClient(channel=gw, token=""),
        AccountsClient(channel=acc, token=""),
        SitesClient(channel=sit, token=""),
        cases_client,
        cases_client,
        channels,
    )
    for channel in channels:
        await channel.close()
