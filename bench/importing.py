"""Bulk import: ImportActions into an accounts server process against bare executemany."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import data, servers
from netnet.client import AccountsClient
from services.accounts.__main__ import SPEC
from services.common.auth import ensure_key, issue_token
from services.common.importer import MAX_BATCH
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, apply_migrations

ACTOR = "bench"
STREAM_TIMEOUT = 120.0  # seconds per import stream: the bench stays bounded
POLL_IDLE_SECONDS = 0.5  # status calls before the import starts, for comparison
ACCOUNT_INSERT = (
    "INSERT INTO accounts (ident_key, id, platform, platform_uid, kind, handle, status, "
    "suspended_until_us, first_action_us, last_action_us, action_count, revision) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
ACTION_INSERT = (
    "INSERT INTO account_actions (request_key, body_hash, id, account_id, request_id, action, "
    "category, legal_basis, department, region, campaign_id, special_action, case_ref, actor, "
    "effective_us, suspend_until_us, record_us, retracted_us, retract_reason, retracted_by) "
    f"VALUES ({','.join('?' * 20)})"
)


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

    @property
    def baseline(self) -> Rate:
        return best(self.baselines)

    @property
    def service(self) -> Rate:
        return best(self.services)

    @property
    def ratio(self) -> float:
        return self.service.per_second / self.baseline.per_second


def bare_executemany(path: Path, records: data.Dataset, batch: int, now_us: int) -> Rate:
    """The same rows into a fresh database with the same migrations and connection settings
    as the service's writer: one transaction per batch, ids precomputed, no rules."""
    plan = data.baseline_rows(records.records, batch, ACTOR, now_us)
    conn = sqlite3.connect(path, isolation_level=None, factory=SqliteConn)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        assert SPEC.migrations is not None
        apply_migrations(conn, [("runtime", RUNTIME_MIGRATIONS), ("accounts", SPEC.migrations)])
        started = time.perf_counter()
        for accounts, actions in plan:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(ACCOUNT_INSERT, accounts)
            conn.executemany(ACTION_INSERT, actions)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        (count,) = conn.execute("SELECT COUNT(*) FROM account_actions").fetchone()
    finally:
        conn.close()
    if count != len(records):
        raise AssertionError(f"baseline stored {count} of {len(records)} rows")
    return Rate(len(records), seconds)


async def import_actions(
    data_dir: Path, records: data.Dataset, batch: int, status: list[StatusWait] | None = None
) -> Rate:
    """Client-streaming ImportActions into an accounts server process over a real channel;
    one stream per department (a token writes only in its own department's name). status:
    also ask for stats from another process, before and during the import, and add how long
    those calls took."""
    owner, cases_addr = await servers.campaign_owner(data_dir)
    server = servers.service_process(data_dir, "accounts", cases_addr)
    key = ensure_key(servers.key_file(data_dir))
    try:
        port = await server.start()
    except BaseException:
        owner.stop()
        raise
    accounts = AccountsClient(f"127.0.0.1:{port}", token="")
    poller = None
    try:
        await accounts.channel.channel_ready()
        if status is not None:
            poller = _start_poller(port, _token(key, "cac"))
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
            status.append(_polled(poller, time.time() - seconds))
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


def _polled(poller: subprocess.Popen[str], import_started: float) -> StatusWait:
    """Stop the poller; its calls split by whether they started before the import."""
    poller.terminate()
    out, _ = poller.communicate(timeout=30)
    calls = [(float(t), float(s)) for t, s in (line.split() for line in out.splitlines())]
    return StatusWait(
        [s for t, s in calls if t < import_started], [s for t, s in calls if t >= import_started]
    )


def _token(key: bytes, department: str) -> str:
    return issue_token(
        key, operator=ACTOR, department=department, roles=["operator"], ttl_seconds=3600
    )


async def run(workdir: Path, records: int, batch: int = 1000, rounds: int = 1) -> ImportResult:
    """Both sides over the same records, alternating, each round into fresh databases."""
    now_us = time.time_ns() // 1000
    dataset = data.dataset(records, now_us, prefix="imp")
    result = ImportResult([], [], batch)
    for _ in range(rounds):
        baseline, service = _fresh(workdir / "baseline"), _fresh(workdir / "service")
        result.baselines.append(bare_executemany(baseline / "accounts.db", dataset, batch, now_us))
        result.services.append(await import_actions(service, dataset, batch))
    # Apart from the timed rounds (the poller takes a share of the two cores): status queries
    # while batches of the largest size the service takes are written.
    await import_actions(_fresh(workdir / "service"), dataset, MAX_BATCH, result.status)
    for side in ("baseline", "service"):
        _fresh(workdir / side)
    return result


def _fresh(directory: Path) -> Path:
    """An empty directory (a round's databases are removed before the next)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory
