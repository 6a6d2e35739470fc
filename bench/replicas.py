"""Replicas (PostgreSQL only): two accounts processes on one schema against one process, the
same work, one side after the other, round after round.

Import: the same records in two streams (two departments: a token writes only in its own
department's name), sent at once: one stream to each replica, or both to the one process;
the figure is all records over the wall time. Unary: RecordAction calls spread over both
replicas (a channel to each), or all over two channels to the one process.

The writers of all replicas take turns on one transaction-level advisory lock (see
storage.postgres), so what the lock allows bounds what a second replica can add: pg_locks is
sampled during each run, and the share of samples in which a writer held the lock, and in
which one waited for it, printed beside the figure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import data, echo, servers
from bench.backend import Backend, LockSampler
from bench.importing import STREAM_TIMEOUT, _token
from bench.unary import Client
from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.client.tokens import ensure_key_pair

DEPARTMENTS = ("cac", "mps")  # a stream each


@dataclass(frozen=True)
class Turn:
    """One measured run of one side: its figure (records/s or QPS), and the shares of the
    run's lock samples in which a writer held the write lock and in which one waited."""

    rate: float
    held: float
    waited: float


def best(turns: list[Turn]) -> Turn:
    return max(turns, key=lambda t: t.rate)


@dataclass(frozen=True)
class ReplicaResult:
    """Every round of one case, on one process and on two; figures are the best of each."""

    case: str  # "import", "RecordAction@16"
    unit: str  # "rec/s", "QPS"
    ones: list[Turn]
    twos: list[Turn]

    @property
    def one(self) -> Turn:
        return best(self.ones)

    @property
    def two(self) -> Turn:
        return best(self.twos)

    @property
    def ratio(self) -> float:
        return self.two.rate / self.one.rate if self.one.rate else 0.0


@asynccontextmanager
async def replicas(
    workdir: Path, names: Sequence[str], database_url: str, cases_addr: str, shared: Path
) -> AsyncIterator[list[int]]:
    """Accounts processes on one schema, started at once (they migrate it once), sharing
    the token key (workdir's), the audit key and the checkpoint directory (in `shared`):
    their ports."""
    extra = {
        "NETNET_AUDIT_KEY_FILE": str(shared / "audit.key"),
        "NETNET_AUDIT_CHECKPOINT_DIR": str(shared / "checkpoints"),
    }
    processes = [
        servers.service_process(workdir, "accounts", cases_addr, name, database_url, extra)
        for name in names
    ]
    try:
        yield list(await asyncio.gather(*(p.start() for p in processes)))
    finally:
        for p in processes:
            p.stop()


async def import_streams(
    ports: list[int],
    streams: list[tuple[str, list[pb.ActionInput]]],
    batch: int,
    key: Ed25519PrivateKey,
    database_url: str,
) -> Turn:
    """The streams at once, the i-th to the i-th port (round the ports)."""
    clients = [AccountsClient(f"127.0.0.1:{port}", token="") for port in ports]

    async def send(i: int, department: str, rows: list[pb.ActionInput]) -> int:
        md = [("authorization", f"Bearer {_token(key, department)}")]
        reply = await clients[i % len(clients)].import_actions(
            data.batches(rows, batch), metadata=md, timeout=STREAM_TIMEOUT
        )
        if reply.summary.rejected or reply.summary.duplicates:
            raise AssertionError(f"import was not clean: {reply.summary}")
        return int(reply.summary.accepted)

    try:
        await asyncio.gather(*(c.channel.channel_ready() for c in clients))
        with LockSampler(database_url) as lock:
            started = time.perf_counter()
            sent = await asyncio.gather(*(send(i, *s) for i, s in enumerate(streams)))
            seconds = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    total = sum(len(rows) for _, rows in streams)
    if sum(sent) != total:
        raise AssertionError(f"replicas accepted {sum(sent)} of {total} records")
    return Turn(total / seconds, lock.held, lock.waited)


async def run(
    workdir: Path,
    backend: Backend,
    records: int,
    batch: int,
    levels: Sequence[int],
    calls: int,
    warmup: int,
    rounds: int = 1,
) -> list[ReplicaResult]:
    """Import rounds (a fresh schema for each side of each), then unary rounds (both sides
    on one schema, the one process being one of the two replicas)."""
    assert backend.postgresql, "replicas share a PostgreSQL schema"
    owner, cases_addr = await servers.campaign_owner(
        workdir, backend.database_url("replica_campaigns")
    )
    try:
        key = ensure_key_pair(servers.key_file(workdir))
        now_us = time.time_ns() // 1000
        streams = []
        for i, department in enumerate(DEPARTMENTS):
            gen = data.Generator(now_us, seed=21 + i, prefix=f"rep{i}")
            n = records // len(DEPARTMENTS)
            streams.append((department, [gen.record(department) for _ in range(n)]))
        imports = ReplicaResult("import", "rec/s", [], [])
        for r in range(rounds):
            for count, turns in ((1, imports.ones), (2, imports.twos)):
                with backend.fresh(workdir / "import", "replicas_import") as store:
                    names = [f"import-{r}-{count}-{i}" for i in range(count)]
                    async with replicas(
                        workdir, names, store.url, cases_addr, store.directory
                    ) as ports:
                        turns.append(await import_streams(ports, streams, batch, key, store.url))
        return [imports, *await _unary(workdir, backend, cases_addr, levels, calls, warmup, rounds)]
    finally:
        owner.stop()


async def _unary(
    workdir: Path,
    backend: Backend,
    cases_addr: str,
    levels: Sequence[int],
    calls: int,
    warmup: int,
    rounds: int,
) -> list[ReplicaResult]:
    results = {level: ReplicaResult(f"RecordAction@{level}", "QPS", [], []) for level in levels}
    md = servers.credentials(workdir, "accounts", DEPARTMENTS[0])
    gen = data.Generator(time.time_ns() // 1000, seed=23, prefix="rep-rec")

    async def measure(client: Client, level: int, url: str) -> Turn:
        await client.run(data.record_requests(gen, DEPARTMENTS[0], warmup), level)
        requests = data.record_requests(gen, DEPARTMENTS[0], calls)
        with LockSampler(url) as lock:
            load = await client.run(requests, level)
        return Turn(load.qps, lock.held, lock.waited)

    with backend.fresh(workdir / "unary", "replicas_unary") as store:
        names = ["unary-a", "unary-b"]
        async with replicas(workdir, names, store.url, cases_addr, store.directory) as (a, b):
            reply = pb.RecordActionResponse.FromString
            one, two = Client([a, a], echo.PATH, reply, md), Client([a, b], echo.PATH, reply, md)
            try:
                await asyncio.gather(one.ready(), two.ready())
                for _ in range(rounds):
                    for level in levels:
                        results[level].ones.append(await measure(one, level, store.url))
                        results[level].twos.append(await measure(two, level, store.url))
            finally:
                await asyncio.gather(one.close(), two.close())
    return list(results.values())
