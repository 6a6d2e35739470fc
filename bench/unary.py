"""Unary writes: QPS of the services' record calls (accounts RecordAction, sites
RecordSiteAction, cases RecordClue), each server in its own process, against a bare grpc.aio
echo server process at the same concurrency, driven from this process over real channels."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from bench import data, echo
from bench.backend import Backend
from bench.servers import ServerProcess, campaign_owner, credentials, service_process
from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.cases.v1 import cases_pb2
from netnet.client.tls import ClientTLS
from netnet.sites.v1 import sites_pb2 as sites_pb

CALL_TIMEOUT = 10.0  # seconds per call
LEVEL_TIMEOUT = 600.0  # seconds per measured run: the bench stays bounded
DEPARTMENT = "cac"  # writes in the accounts server
SITES_DEPARTMENT = "miit"  # ... and in the sites server
SITES_PATH = "/netnet.sites.v1.SiteService/RecordSiteAction"
CASES_DEPARTMENT = "mps"  # ... and in the cases server
CASES_PATH = "/netnet.cases.v1.CaseService/RecordClue"


@dataclass(frozen=True)
class Load:
    """One measured run: calls completed, wall time, per-call latencies (seconds, sorted)."""

    calls: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def qps(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        i = min(len(self.latencies) - 1, max(0, round(p / 100 * len(self.latencies)) - 1))
        return self.latencies[i]


def best(loads: list[Load]) -> Load:
    return max(loads, key=lambda load: load.qps)


@dataclass(frozen=True)
class UnaryResult:
    """Every round of one server at one concurrency, and of the echo in the same rounds;
    figures are the best round of each."""

    server: str  # e.g. "accounts RecordAction"
    concurrency: int
    echoes: list[Load]
    services: list[Load]

    @property
    def echo(self) -> Load:
        return best(self.echoes)

    @property
    def service(self) -> Load:
        return best(self.services)

    @property
    def ratio(self) -> float:
        return self.service.qps / self.echo.qps


def _echo_port(line: str) -> int | None:
    word, _, port = line.partition(" ")
    return int(port) if word == "port" and port.isdigit() else None


def echo_process(workdir: Path) -> ServerProcess:
    argv = [sys.executable, "-m", "bench.echo"]
    return ServerProcess("echo", argv, dict(os.environ), workdir / "echo.log", _echo_port)


class Client:
    """Sends requests to one method over a few channels, one to each of `ports` (the same
    server's port repeated, or replicas' ports): the calls in flight spread over them."""

    def __init__(
        self,
        ports: Sequence[int],
        path: str,
        deserializer: Callable[[bytes], Any],
        metadata: Sequence[tuple[str, str]],
    ) -> None:
        # The transport the environment names (NETNET_TLS_CA...), as the services are served.
        creds = ClientTLS.from_env().credentials()
        self.channels = [
            grpc.aio.secure_channel(f"127.0.0.1:{port}", creds)
            if creds
            else grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            for port in ports
        ]
        self.calls = [
            ch.unary_unary(
                path,
                request_serializer=_serialize,
                response_deserializer=deserializer,
            )
            for ch in self.channels
        ]
        self.metadata = tuple(metadata)

    async def ready(self) -> None:
        await asyncio.gather(*(ch.channel_ready() for ch in self.channels))

    async def run(self, requests: Sequence[Any], concurrency: int) -> Load:
        """All requests, `concurrency` calls in flight at any moment."""
        pending = iter(requests)
        latencies: list[float] = []

        async def worker(i: int) -> None:
            call = self.calls[i % len(self.calls)]
            for request in pending:  # one shared iterator: each request is sent once
                t = time.perf_counter()
                await call(request, metadata=self.metadata, timeout=CALL_TIMEOUT)
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker(i) for i in range(concurrency))), LEVEL_TIMEOUT
        )
        seconds = time.perf_counter() - started
        return Load(len(latencies), seconds, tuple(sorted(latencies)))

    async def close(self) -> None:
        await asyncio.gather(*(ch.close() for ch in self.channels))


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()  # type: ignore[no-any-return]


async def run(
    workdir: Path,
    levels: Sequence[int],
    calls: int,
    warmup: int,
    rounds: int = 1,
    channels: int = 1,
    backend: Backend | None = None,
) -> list[UnaryResult]:
    """Per round and concurrency level, for the echo then each service: warm-up, then
    `calls` calls (fresh requests every time: each call records something new)."""
    at = (backend or Backend()).database_url  # a fresh schema each (on PostgreSQL)
    owner, cases_addr = await campaign_owner(workdir, at("unary_campaigns"))
    servers = [
        echo_process(workdir),
        service_process(workdir, "accounts", cases_addr, database_url=at("unary_accounts")),
        service_process(workdir, "sites", cases_addr, database_url=at("unary_sites")),
        service_process(workdir, "cases", database_url=at("unary_cases")),
        owner,
    ]
    accounts_md = credentials(workdir, "accounts", DEPARTMENT)
    sites_md = credentials(workdir, "sites", SITES_DEPARTMENT)
    cases_md = credentials(workdir, "cases", CASES_DEPARTMENT)
    clients: list[Client] = []
    try:
        ports = [[await s.start()] * channels for s in servers[:-1]]
        clients = [
            Client(ports[0], echo.PATH, pb.RecordActionRequest.FromString, accounts_md),
            Client(ports[1], echo.PATH, pb.RecordActionResponse.FromString, accounts_md),
            Client(ports[2], SITES_PATH, sites_pb.RecordSiteActionResponse.FromString, sites_md),
            Client(ports[3], CASES_PATH, cases_pb2.RecordClueResponse.FromString, cases_md),
        ]
        await asyncio.gather(*(c.ready() for c in clients))
        gen = data.Generator(time.time_ns() // 1000, seed=11, prefix="rec")
        sites = data.Numbered(partial(data.site_ban, SITES_DEPARTMENT))
        clues = data.Numbered(partial(data.public_report, CASES_DEPARTMENT))
        requests: list[Callable[[int], Sequence[Any]]] = [
            lambda n: data.record_requests(gen, DEPARTMENT, n),
            lambda n: data.record_requests(gen, DEPARTMENT, n),
            sites.next,
            clues.next,
        ]
        names = ["accounts RecordAction", "sites RecordSiteAction", "cases RecordClue"]
        loads: dict[tuple[int, int], list[Load]] = {}  # (level, client) -> every round
        for _ in range(rounds):
            for level in levels:
                for i, client in enumerate(clients):
                    await client.run(requests[i](warmup), level)
                    runs = loads.setdefault((level, i), [])
                    runs.append(await client.run(requests[i](calls), level))
        return [
            UnaryResult(name, level, loads[(level, 0)], loads[(level, i + 1)])
            for level in levels
            for i, name in enumerate(names)
        ]
    finally:
        for client in clients:
            await client.close()
        for server in servers:
            server.stop()
