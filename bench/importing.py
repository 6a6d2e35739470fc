"""Bulk import: ImportActions into an accounts server process against a bare write of the
same rows (executemany on SQLite, COPY on PostgreSQL: see backend.py)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import data, servers
from bench.backend import SQLITE_NAME, Backend, Bare, Store, Table, bare_write
from netnet.client import AccountsClient
from netnet.client.tokens import ensure_key_pair
from services.accounts.__main__ import SPEC
from services.common.auth import issue_token
from services.common.importer import MAX_BATCH
from services.common.storage.migrations import RUNTIME_MIGRATIONS

ACTOR = "bench"
STREAM_TIMEOUT = 600.0  # seconds per import stream: the bench stays bounded (PostgreSQL is slow)
POLL_IDLE_SECONDS = 0.5  # status calls before the import starts, for comparison
ACCOUNTS: Table = ("accounts", ("ident_key", "id", "platform", "platform_uid", "kind", "handle",
    "status", "suspended_until_us", "first_action_us", "last_action_us", "action_count",
    "revision"))  # fmt: skip
ACTIONS: Table = ("account_actions", ("request_key", "body_hash", "id", "account_id",
    "request_id", "action", "category", "legal_basis", "department", "region", "campaign_id",
    "special_action", "case_ref", "actor", "effective_us", "suspend_until_us", "record_us",
    "retracted_us", "retract_reason", "retracted_by"))  # fmt: skip


@dataclass(frozen=True)
class Rate:
    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def best(rates: list[Rate]) -> Rate:
    return max(rates, key=lambda r: r.per_second)


@dataclass(frozen=True)
class StatusWait:
    """GetStats calls from another process (seconds each): before an import, and during it."""

    idle: list[float]
    importing: list[float]

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    @staticmethod
    def worst(values: list[float]) -> float:
        return max(values, default=0.0)


@dataclass(frozen=True)
class ImportResult:
    """Every round of both sides; figures are the best round of each (a shared machine's
    noise only ever slows a run down)."""

    baselines: list[Rate]
    services: list[Rate]
    batch: int
    status: list[StatusWait] = field(default_factory=list)  # a run with a status poller
    backend: str = SQLITE_NAME  # where both sides wrote

    @property
    def baseline(self) -> Rate:
        return best(self.baselines)

    @property
    def service(self) -> Rate:
        return best(self.services)

    @property
    def ratio(self) -> float:
        return self.service.per_second / self.baseline.per_second


def bare_insert(store: Store, records: data.Dataset, batch: int, now_us: int) -> Rate:
    """The same rows into a fresh store with the same migrations (and, on SQLite, the same
    connection settings as the service's writer): one transaction per batch, ids
    precomputed, no rules."""
    plan = data.baseline_rows(records.records, batch, ACTOR, now_us)
    assert SPEC.migrations is not None
    bare = Bare(
        [("runtime", RUNTIME_MIGRATIONS), ("accounts", SPEC.migrations)],
        [[(ACCOUNTS, accounts), (ACTIONS, actions)] for accounts, actions in plan],
        len(records),
    )
    return Rate(len(records), bare_write(store, "accounts.db", bare))


async def import_actions(
    store: Store,
    records: data.Dataset,
    batch: int,
    status: list[StatusWait] | None = None,
    owner_url: str = "",
) -> Rate:
    """Client-streaming ImportActions into an accounts server process over a real channel;
    one stream per department (a token writes only in its own department's name). status:
    also ask for stats from another process, before and during the import, and add how long
    those calls took. owner_url: the campaign owner's store (on PostgreSQL)."""
    data_dir = store.directory
    owner, cases_addr = await servers.campaign_owner(data_dir, owner_url)
    server = servers.service_process(data_dir, "accounts", cases_addr, database_url=store.url)
    key = ensure_key_pair(servers.key_file(data_dir))
    try:
        port = await server.start()
    except BaseException:
        owner.stop()
        raise
    accounts = AccountsClient(f"127.0.0.1:{port}", token="")
    poller, first = None, ""
    try:
        await accounts.channel.channel_ready()
        if status is not None:
            poller = _start_poller(port, _token(key, "cac"))
            # Its first call answered (a loaded machine starts a process slowly), then more.
            first = await asyncio.to_thread(poller.stdout.readline)  # type: ignore[union-attr]
            await asyncio.sleep(POLL_IDLE_SECONDS)
        streams = [
            (
                [("authorization", f"Bearer {_token(key, department)}")],
                data.batches(rows, batch),
            )
            for department, rows in records.by_department.items()
        ]
        accepted = 0
        started = time.perf_counter()
        for metadata, requests in streams:
            response = await accounts.import_actions(
                requests, metadata=metadata, timeout=STREAM_TIMEOUT
            )
            accepted += response.summary.accepted
            if response.summary.rejected or response.summary.duplicates:
                raise AssertionError(f"import was not clean: {response.summary}")
        seconds = time.perf_counter() - started
        if poller is not None and status is not None:
            status.append(_polled(poller, first, time.time() - seconds))
    finally:
        if poller is not None and poller.poll() is None:
            poller.kill()
        await accounts.close()
        server.stop()
        owner.stop()
    if accepted != len(records):
        raise AssertionError(f"service accepted {accepted} of {len(records)} records")
    return Rate(len(records), seconds)


def _start_poller(port: int, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.statuspoll", str(port), token],
        cwd=servers.ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _polled(poller: subprocess.Popen[str], first: str, import_started: float) -> StatusWait:
    """Stop the poller; its calls (the first one read already) split by whether they started
    before the import."""
    poller.terminate()
    out, _ = poller.communicate(timeout=30)
    lines = (first + out).splitlines()
    calls = [(float(t), float(s)) for t, s in (line.split() for line in lines)]
    return StatusWait(
        [s for t, s in calls if t < import_started], [s for t, s in calls if t >= import_started]
    )


def _token(key: Ed25519PrivateKey, department: str) -> str:
    return issue_token(
        key, operator=ACTOR, department=department, roles=["operator"], ttl_seconds=3600
    )


async def run(
    workdir: Path, records: int, batch: int = 1000, rounds: int = 1, backend: Backend | None = None
) -> ImportResult:
    """Both sides over the same records, alternating, each round into fresh stores."""
    backend = backend or Backend()
    now_us = time.time_ns() // 1000
    dataset = data.dataset(records, now_us, prefix="imp")
    result = ImportResult([], [], batch, backend=backend.name)
    for _ in range(rounds):
        with backend.fresh(workdir / "baseline", "import_baseline") as baseline:
            result.baselines.append(bare_insert(baseline, dataset, batch, now_us))
        with backend.fresh(workdir / "service", "import_service") as service:
            owner = backend.database_url("import_campaigns")
            result.services.append(await import_actions(service, dataset, batch, None, owner))
    # Apart from the timed rounds (the poller takes a share of the two cores): status queries
    # while batches of the largest size the service takes are written.
    with backend.fresh(workdir / "service", "import_service") as service:
        owner = backend.database_url("import_campaigns")
        await import_actions(service, dataset, MAX_BATCH, result.status, owner)
    return result
