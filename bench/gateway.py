"""Gateway status latency: against the slowest of its sources, and at two data sizes.

The four processes run as `make run` starts them (the launcher, in its own process group), on
SQLite files or on PostgreSQL (one database, each service in its own schema). The same
fan-out the gateway makes is also made directly from here, source by source and all
together, so the gateway's own overhead shows as the difference."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import data, servers
from gateway import status
from gateway.clients import Backends
from netnet.accounts.v1 import accounts_pb2
from netnet.client import AccountsClient, GatewayClient
from netnet.client.tokens import ensure_key_pair
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.auth import issue_token

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("gateway", "accounts", "sites", "cases")
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class GatewayResult:
    records_small: int
    records_large: int
    sources: dict[str, float]  # p50 ms of each source's share of the fan-out, alone
    direct: float  # p50 ms of the whole fan-out made directly
    gateway: float  # p50 ms of GetCampaignStatus through the gateway
    gateway_large: float  # the same after the larger load

    @property
    def slowest(self) -> float:
        return max(self.sources.values())

    @property
    def overhead(self) -> float:
        return self.gateway - self.slowest

    @property
    def scale_ratio(self) -> float:
        return self.gateway_large / self.gateway


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """The launcher behind `make run`, with no demo data, on free ports; database_url: the
    PostgreSQL database its services keep their schemas in (else SQLite files in workdir)."""

    def __init__(self, workdir: Path, database_url: str = "") -> None:
        self.env = {
            **os.environ,
            "NETNET_DATA_DIR": str(workdir),
            "NETNET_DEMO_SCALE": "0",
            "NETNET_LOG_FORMAT": "json",
            "NETNET_DATABASE_URL": database_url,  # "": SQLite (whatever the caller's says)
        }
        self.addrs = {}
        for name in SERVICES:
            self.addrs[name] = f"127.0.0.1:{_port()}"
            self.env[f"NETNET_{name.upper()}_ADDR"] = self.addrs[name]
            self.env[f"NETNET_{name.upper()}_METRICS_PORT"] = "0"
        self.env["NETNET_GATEWAY_HTTP_ADDR"] = "0"
        self.log = workdir / "launcher.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.launcher"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self) -> None:
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while "Press Ctrl-C" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stack did not start:\n{self.log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(60)


async def _p50(call: Callable[[], Awaitable[object]], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _load(stack: Stack, key: Ed25519PrivateKey, n: int, prefix: str) -> None:
    async with AccountsClient(stack.addrs["accounts"], token="") as accounts:
        dataset = data.dataset(n, time.time_ns() // 1000, prefix=prefix)
        for department, rows in dataset.by_department.items():
            md = [("authorization", f"Bearer {_token(key, department)}")]
            reply = await accounts.import_actions(
                data.batches(rows, 1000), metadata=md, timeout=600
            )
            if reply.summary.rejected:
                raise AssertionError(f"load was not clean: {reply.summary}")


def _token(key: Ed25519PrivateKey, department: str, role: str = "operator") -> str:
    return issue_token(key, operator="bench", department=department, roles=[role], ttl_seconds=3600)


LOAD_CHUNK = 500_000  # records generated and imported at a time into a large store


async def _records(stack: Stack, key: Ed25519PrivateKey) -> int:
    """The account records a store holds (counted by the service)."""
    md = [("authorization", f"Bearer {_token(key, 'office', 'analyst')}")]
    async with AccountsClient(stack.addrs["accounts"], token="") as accounts:
        reply = await accounts.get_stats(accounts_pb2.GetStatsRequest(), metadata=md, timeout=60)
    return int(reply.total.count)


async def _large_store(store: Path, large: int, rounds: int, database_url: str = "") -> float:
    """The median status over a store of `large` account records kept between runs (in
    `store`, or on PostgreSQL in the database at database_url): loaded (in chunks) only as
    far as it falls short."""
    stack = Stack(store, database_url)
    await stack.start()
    try:
        key = ensure_key_pair(store / "signing.key")
        loaded = await _records(stack, key)
        if not loaded:
            await servers.create_campaigns(stack.addrs["cases"], key)
        while loaded < large:
            n = min(LOAD_CHUNK, large - loaded)
            print(f"  loading the large store: {loaded:,} of {large:,} records", flush=True)
            await _load(stack, key, n, f"gw-store-{loaded}")
            loaded += n
        md = (("authorization", f"Bearer {_token(key, 'office', 'analyst')}"),)
        async with GatewayClient(stack.addrs["gateway"], token="") as gateway:
            request = pb.GetCampaignStatusRequest(campaign_id=data.CAMPAIGNS[0])
            call = partial(gateway.get_campaign_status, request, metadata=md, timeout=10)
            await call()
            return await _p50(call, rounds)
    finally:
        stack.stop()


async def run(
    workdir: Path,
    small: int,
    large: int,
    rounds: int,
    store: Path | None = None,
    database_url: str = "",
    store_url: str = "",
) -> GatewayResult:
    """database_url: the stack's PostgreSQL database (else SQLite files in workdir). store
    (a directory), and on PostgreSQL store_url (a database): keep the large store there
    between runs (else it is loaded in this run's stack, on top of the small one)."""
    stack = Stack(workdir, database_url)
    await stack.start()
    try:
        key = ensure_key_pair(workdir / "signing.key")
        await servers.create_campaigns(stack.addrs["cases"], key)
        md = (("authorization", f"Bearer {_token(key, 'office', 'analyst')}"),)
        query = status.Query(data.CAMPAIGNS[0], (), None, None)
        await _load(stack, key, small, "gw-small")
        backends = Backends(stack.addrs)
        gateway = GatewayClient(stack.addrs["gateway"], token="")
        request = pb.GetCampaignStatusRequest(campaign_id=query.campaign_id)
        call_gateway = partial(gateway.get_campaign_status, request, metadata=md, timeout=10)
        try:
            await call_gateway()  # warm the channels
            await status.fetch(backends, query, md, 10)
            sources = {
                s: await _p50(partial(status._fetch_source, backends, s, query, md, 10), rounds)
                for s in ("accounts", "sites", "cases")
            }
            direct = await _p50(partial(status.fetch, backends, query, md, 10), rounds)
            through = await _p50(call_gateway, rounds)
            if store is None:
                await _load(stack, key, large - small, "gw-large")
                through_large = await _p50(call_gateway, rounds)
        finally:
            await gateway.close()
            await backends.close()
    finally:
        stack.stop()
    if store is not None:
        through_large = await _large_store(store, large, rounds, store_url)
    return GatewayResult(small, large, sources, direct, through, through_large)
