"""SQLite storage: WAL, numbered migrations, one writer task that group-commits.

aiosqlite owns each connection and its thread. A unit of work is a plain function of a
sqlite3 connection, run whole on that thread: a group commit of many writes then costs one
thread hop, not one per statement.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, partial
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from services.common.errors import Unavailable

T = TypeVar("T")
# Additive counter rows (key columns + n) a job adds while it runs in a group commit: summed
# over the group and written once before COMMIT, so thirty jobs touching the same counters
# cost one upsert per counter, not thirty. A job that fails adds nothing.
_counters: ContextVar[dict[str, dict[tuple[object, ...], int]] | None] = ContextVar(
    "counters", default=None
)
UPSERT_ROWS = 32
Job = Callable[[sqlite3.Connection], T]
log = structlog.get_logger()

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
MAX_GROUP = 256


@dataclass
class _Pending:
    job: Job[Any]
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


async def _run_on(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    # aiosqlite.Connection._execute runs fn on the connection's own thread (pinned version).
    return await conn._execute(fn, conn._conn)  # type: ignore[no-any-return]


def apply_migrations(conn: sqlite3.Connection, directories: list[tuple[str, Path]]) -> list[str]:
    """Apply numbered NNNN_name.sql files not applied yet, each in its own transaction."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name TEXT PRIMARY KEY, applied_us INTEGER NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for prefix, directory in directories:
        for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            name = f"{prefix}/{path.name}"
            if name in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(path.read_text()):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, CAST(strftime('%s','now') "
                    "AS INTEGER) * 1000000)",
                    (name,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(name)
    return applied


def _statements(script: str) -> list[str]:
    parts, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            parts.append("\n".join(current))
            current = []
    return [p for p in parts if p.strip()]


class Database:
    """One writer connection (group commit) and one reader connection over a WAL file."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.commit_listeners: list[Callable[[], None]] = []

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute(f"PRAGMA synchronous={self.synchronous}")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=10000")
        return conn

    async def open(self, migrations: list[tuple[str, Path]]) -> list[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        dirs = [("runtime", RUNTIME_MIGRATIONS), *migrations]
        applied = await _run_on(self._writer, lambda c: apply_migrations(c, dirs))
        self._reader = await self._connect()
        self._task = asyncio.create_task(self._write_loop(), name=f"writer:{self.path.name}")
        return applied

    async def close(self) -> None:
        """Finish every queued write, then close both connections."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def write(self, job: Job[T]) -> T:
        """Run job in a transaction; returns once it is committed (or raises its error)."""
        if self._task is None or self._task.done():
            # Not open yet (starting) or closed (stopping): a clean, retryable refusal.
            raise Unavailable("the database is not open", reason="NOT_SERVING")
        pending = _Pending(job)
        await self._queue.put(pending)
        return await asyncio.shield(pending.future)  # type: ignore[no-any-return]

    async def read(self, job: Job[T]) -> T:
        """Run job on the reader connection inside one read transaction (one snapshot)."""
        if self._reader is None:
            raise Unavailable("the database is not open", reason="NOT_SERVING")

        def snapshot(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN")
            try:
                return job(conn)
            finally:
                conn.execute("COMMIT")

        return await _run_on(self._reader, snapshot)

    async def _write_loop(self) -> None:
        assert self._writer is not None
        while True:
            first = await self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop = True
                    break
                group.append(item)
            try:
                outcomes = await _run_on(self._writer, partial(_commit_group, group=group))
            except Exception as e:  # the commit itself failed: nothing of the group landed
                log.error("group commit failed", error=str(e))
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(e)
            else:
                for p, (ok, value) in zip(group, outcomes, strict=True):
                    if p.future.done():
                        continue
                    if ok:
                        p.future.set_result(value)
                    else:
                        p.future.set_exception(value)
                for listener in self.commit_listeners:
                    listener()
            if stop:
                return


def add_counts(conn: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """Add each row's n (its last column) to the counter with its key: at the group's commit
    inside a group commit, at once otherwise."""
    pending = _counters.get()
    if pending is None:
        upsert_add(conn, table, rows)
        return
    sums = pending.setdefault(table, {})
    for *key, n in rows:
        k = tuple(key)
        sums[k] = sums.get(k, 0) + int(n)  # type: ignore[call-overload]


@cache
def _upsert_sql(table: str, width: int, rows: int) -> str:
    values = ",".join([f"({', '.join('?' * width)})"] * rows)
    return f"INSERT INTO {table} VALUES {values} ON CONFLICT DO UPDATE SET n = n + excluded.n"


def upsert_add(conn: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """Add each row's n to the counter with its key, now. Full chunks go UPSERT_ROWS rows to a
    statement, the rest one by one: two prepared statements per table, whatever the count."""
    if not rows:
        return
    width, full = len(rows[0]), len(rows) - len(rows) % UPSERT_ROWS
    if full:
        conn.executemany(
            _upsert_sql(table, width, UPSERT_ROWS),
            [
                list(chain.from_iterable(rows[i : i + UPSERT_ROWS]))
                for i in range(0, full, UPSERT_ROWS)
            ],
        )
    conn.executemany(_upsert_sql(table, width, 1), rows[full:])


def _commit_group(conn: sqlite3.Connection, group: list[_Pending]) -> list[tuple[bool, Any]]:
    """Each job in its own savepoint, all in one transaction: one failing job undoes only itself
    (its counters too); the counters the others added are written once, before COMMIT."""
    outcomes: list[tuple[bool, Any]] = []
    totals: dict[str, dict[tuple[object, ...], int]] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for pending in group:
            conn.execute("SAVEPOINT job")
            mine: dict[str, dict[tuple[object, ...], int]] = {}
            token = _counters.set(mine)
            try:
                value = pending.job(conn)
            except Exception as e:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((False, e))
            else:
                conn.execute("RELEASE job")
                outcomes.append((True, value))
                for table, sums in mine.items():
                    total = totals.setdefault(table, {})
                    for k, n in sums.items():
                        total[k] = total.get(k, 0) + n
            finally:
                _counters.reset(token)
        for table, total in totals.items():
            upsert_add(conn, table, [(*k, n) for k, n in total.items() if n])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes
