"""Long-lived channels to the three services, each call with its own deadline; a source that
fails is data (a health row), not an exception."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from netnet.client import AccountsClient, CasesClient, SitesClient
from netnet.client.channel import open_channel
from netnet.client.tls import ClientTLS
from services.common.config import service_addr

SOURCES = ("accounts", "sites", "cases")
T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]

OK, UNAVAILABLE, DEADLINE_EXCEEDED, ERROR = 1, 2, 3, 4  # netnet.gateway.v1.SourceState
# gRPC's reconnect backoff (1 s, growing to 120 s) would keep a source reported down long
# after it came back: the gateway tries the connection again every half second at most.
RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)


def source_channel(target: str, tls: ClientTLS | None = None) -> grpc.aio.Channel:
    """The SDK's channel (its retry policy, its TLS), with read-only calls that wait for the
    connection within their own deadline (the source's budget) instead of failing while the
    channel sits out a backoff: the first status after a source returns is whole again."""
    return open_channel(target, wait_for_ready=True, options=RECONNECT_OPTIONS, tls=tls)


@dataclass
class Health:
    source: str
    state: int = OK
    error: str = ""
    latency_ms: float = 0.0


class Backends:
    """One channel per service for the life of the process."""

    def __init__(self, addrs: dict[str, str] | None = None, tls: ClientTLS | None = None) -> None:
        addrs = addrs or {s: service_addr(s) for s in SOURCES}
        self.channels = {s: source_channel(addrs[s], tls) for s in SOURCES}
        # SDK clients that hold no token of their own: each call forwards the caller's.
        self.clients = (
            AccountsClient(token="", channel=self.channels["accounts"]),
            SitesClient(token="", channel=self.channels["sites"]),
            CasesClient(token="", channel=self.channels["cases"]),
        )
        accounts, sites, cases = self.clients
        self.accounts = accounts.stub
        self.sites = sites.stub
        self.cases = cases.stub
        self.campaigns = cases.campaigns

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()


def classify(error: BaseException, source: str, latency_ms: float) -> Health:
    if isinstance(error, TimeoutError):
        return Health(source, DEADLINE_EXCEEDED, "no answer within the deadline", latency_ms)
    if isinstance(error, grpc.aio.AioRpcError):
        code = error.code()
        state = {
            grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED: DEADLINE_EXCEEDED,
        }.get(code, ERROR)
        return Health(source, state, f"{code.name}: {error.details() or ''}".strip(), latency_ms)
    raise error


async def guarded(
    source: str, budget: float, call: Callable[[float], Awaitable[T]]
) -> tuple[T | None, Health]:
    """Run call(timeout) within budget seconds; failures come back as a health row."""
    start = time.perf_counter()
    try:
        result = await asyncio.wait_for(call(budget), timeout=budget)
    except (TimeoutError, grpc.aio.AioRpcError) as e:
        return None, classify(e, source, (time.perf_counter() - start) * 1000)
    return result, Health(source, OK, "", (time.perf_counter() - start) * 1000)


async def per_source(
    budget: float, calls: dict[str, Callable[[float], Awaitable[Any]]]
) -> tuple[dict[str, Any], dict[str, Health]]:
    """All sources in parallel, each within the same budget."""
    names = list(calls)
    outcomes = await asyncio.gather(*(guarded(n, budget, calls[n]) for n in names))
    results = {n: r for n, (r, h) in zip(names, outcomes, strict=True) if h.state == OK}
    return results, {n: h for n, (_, h) in zip(names, outcomes, strict=True)}
