"""SQLite storage: WAL, numbered migrations, one writer task that group-commits.

A unit of work is a plain function of a sqlite3 connection. Writes run on the event loop's
own thread, a group of them in one transaction: SQLite lets go of the GIL at every
statement, and a writer thread beside the event loop spent most of its time waiting to get
it back. A long job (an import batch) runs in steps, in a transaction of its own, the loop
serving other calls between them. Reads run on a connection of their own, on aiosqlite's
thread, so a long read does not hold up the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from services.common import metrics
from services.common.errors import Unavailable

T = TypeVar("T")
Counts = Mapping[tuple[object, ...], int]
Flush = Callable[[sqlite3.Connection, Any], None]


@dataclass
class _Group:
    """What the jobs of one group commit share, written once before its COMMIT.

    counters: additive counter rows (key columns -> n) the running job adds; summed over the
    group, so thirty jobs touching the same counters cost one upsert per counter, not thirty.
    rows: rows of append-only logs no job reads back (audit, change feed), per table, in the
    order added; inserted many to a statement.
    values: values the jobs keep for the whole group (e.g. the audit chain's head), each with
    the function that writes it. A job that fails adds nothing and leaves the values as it
    found them.
    """

    counters: dict[str, dict[tuple[object, ...], int]] = field(default_factory=dict)
    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    values: dict[str, tuple[Any, Flush | None]] = field(default_factory=dict)

    def write(self, conn: sqlite3.Connection) -> None:
        """Write what the jobs added: log rows, counter sums, kept values."""
        for table, rows in self.rows.items():
            insert_rows(conn, table, rows)
        for table, sums in self.counters.items():
            upsert_add(conn, table, [(*k, n) for k, n in sums.items() if n])
        for kept, flush in self.values.values():
            if flush is not None:
                flush(conn, kept)


_group: ContextVar[_Group | None] = ContextVar("group", default=None)
Job = Callable[[sqlite3.Connection], T]
# A long unit of work (an import batch) in steps: each yield lets the event loop serve other
# calls; the generator's return value is the job's result.
SteppedJob = Callable[[sqlite3.Connection], Generator[None, None, T]]
log = structlog.get_logger()

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
MAX_GROUP = 256
# Group commit: the writer waits this long for more writes before committing what it has,
# while writes keep coming in (as PostgreSQL's commit_delay). A wait that brought none makes
# it skip the wait for the next LONE_SKIPS groups that start with nothing else waiting: a
# lone writer is hardly held up.
GATHER_SECONDS = 0.001
LONE_SKIPS = 32
# The WAL is copied back into the database file (a checkpoint, with its fsync) by the writer
# between two groups, on a thread, once this long has passed or this many rows changed since
# the last: the event loop goes on meanwhile (writes queue up and go in the next group), and
# with no write in between, the WAL starts over from its beginning after each checkpoint.
CHECKPOINT_SECONDS = 0.5
CHECKPOINT_ROWS = 20_000


BatchRun = Callable[[sqlite3.Connection, list[Any]], list[tuple[bool, Any]]]


@dataclass
class _Pending:
    job: Job[Any] | None  # a job of its own, or else
    batch: tuple[BatchRun, Hashable] | None = None  # an item of a batch run (and its key)
    item: Any = None
    stepped: SteppedJob[Any] | None = None  # a stepped job: in a transaction of its own
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


async def _run_on(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    # aiosqlite.Connection._execute runs fn on the connection's own thread (pinned version).
    return await conn._execute(fn, conn._conn)  # type: ignore[no-any-return]


def hash64(text: str | bytes) -> int:
    """A signed 64-bit key for a natural text key (looked up by integer index); migrations
    can call it as the SQL function hash64(text)."""
    data = text.encode() if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def apply_migrations(conn: sqlite3.Connection, directories: list[tuple[str, Path]]) -> list[str]:
    """Apply numbered NNNN_name.sql files not applied yet, each in its own transaction."""
    conn.create_function("hash64", 1, hash64, deterministic=True)
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

    def __init__(
        self,
        path: Path,
        synchronous: str = "NORMAL",
        setup: Callable[[sqlite3.Connection], None] | None = None,
        prepare: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self._setup = setup  # run on each connection when opened (e.g. SQL functions)
        self._prepare = prepare  # run on the writer after the migrations, before any write
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._held: _Pending | None = None  # a stepped job taken while gathering: next
        self._skips = 0  # groups still to commit without waiting for more
        self._checkpointed = (0.0, 0)  # when, and the writer's total changes then
        self._task: asyncio.Task[None] | None = None
        self.commit_listeners: list[Callable[[], None]] = []

    def _pragmas(self) -> list[str]:
        return [
            "PRAGMA journal_mode=WAL",
            f"PRAGMA synchronous={self.synchronous}",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000",
            "PRAGMA wal_autocheckpoint=0",  # see CHECKPOINT_SECONDS
        ]

    async def open(self, migrations: list[tuple[str, Path]]) -> list[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        dirs = [("runtime", RUNTIME_MIGRATIONS), *migrations]

        def connect_and_migrate() -> tuple[sqlite3.Connection, list[str]]:
            # On a thread: a locked file waits out the busy timeout without holding up the
            # loop (health keeps answering NOT_SERVING meanwhile).
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                for pragma in self._pragmas():
                    conn.execute(pragma)
                if self._setup is not None:
                    self._setup(conn)
                applied = apply_migrations(conn, dirs)
                if self._prepare is not None:
                    self._prepare(conn)
                return conn, applied
            except BaseException:
                conn.close()
                raise

        self._writer, applied = await asyncio.to_thread(connect_and_migrate)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in self._pragmas():
            await self._reader.execute(pragma)
        if self._setup is not None:
            await _run_on(self._reader, self._setup)
        self._task = asyncio.create_task(self._write_loop(), name=f"writer:{self.path.name}")
        return applied

    async def close(self) -> None:
        """Finish every queued write, then close both connections."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        if self._reader is not None:
            await self._reader.close()
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def write(self, job: Job[T]) -> T:
        """Run job in a transaction; returns once it is committed (or raises its error)."""
        return await self._submit(_Pending(job))  # type: ignore[no-any-return]

    async def write_in_steps(self, job: SteppedJob[T]) -> T:
        """Run a long job in one transaction, the event loop going on with other calls
        between its steps (other writes wait for its commit); returns once it is committed."""
        return await self._submit(_Pending(None, stepped=job))  # type: ignore[no-any-return]

    async def write_batched(self, run: BatchRun, item: object, key: Hashable = None) -> Any:
        """Write item through run(conn, items), whose i-th outcome answers the i-th item:
        (True, value) or (False, the error to raise). The items of one run and key waiting
        at the same moment go in one call, so many small writes (unary calls) cost one
        batch's statements. run must write nothing for an item it refuses; if it raises,
        each item is run again alone."""
        return await self._submit(_Pending(None, (run, key), item))

    async def _submit(self, pending: _Pending) -> Any:
        if self._task is None or self._task.done():
            # Not open yet (starting) or closed (stopping): a clean, retryable refusal.
            raise Unavailable("the database is not open", reason="NOT_SERVING")
        await self._queue.put(pending)
        return await pending.future  # a caller that goes away cancels it: not answered

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

    async def _gather(self) -> None:
        """Let more writes join the group (see GATHER_SECONDS)."""
        waiting = self._queue.qsize()
        if self._skips and not waiting:
            self._skips -= 1
            return
        self._skips = 0  # others are waiting already: writes are not coming one at a time
        await asyncio.sleep(GATHER_SECONDS)
        if self._queue.qsize() == waiting:
            self._skips = LONE_SKIPS

    async def _take(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """The group to commit with first, and whether the writer stops after it: a stepped
        job alone; otherwise, after the gather, the writes waiting (up to MAX_GROUP), up to a
        stepped job (it goes next) or the end of the queue (stop)."""
        if first.stepped is not None:
            return [first], False
        await self._gather()
        group = [first]
        while len(group) < MAX_GROUP and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                return group, True
            if item.stepped is not None:
                self._held = item
                break
            group.append(item)
        return group, False

    async def _write_loop(self) -> None:
        assert self._writer is not None
        while True:
            first, self._held = self._held or await self._queue.get(), None
            if first is None:
                return
            group, stop = await self._take(first)
            started = time.perf_counter()
            try:
                if first.stepped is None:
                    outcomes = _commit_group(self._writer, group)
                else:  # reports its own failure as its outcome
                    outcomes = [await _run_stepped(self._writer, first.stepped)]
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
            metrics.WRITE_GROUP.observe(len(group))
            metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
            await self._checkpoint(force=stop)
            if stop:
                return

    async def _checkpoint(self, force: bool = False) -> None:
        """Copy the WAL back into the database file when it is due (see CHECKPOINT_SECONDS)."""
        assert self._writer is not None
        at, changes = self._checkpointed
        now, total = time.monotonic(), self._writer.total_changes
        if total == changes or not (
            force or now - at >= CHECKPOINT_SECONDS or total - changes >= CHECKPOINT_ROWS
        ):
            return
        self._checkpointed = (now, total)
        try:
            await asyncio.to_thread(_run_checkpoint, self._writer)
        except sqlite3.Error as e:  # the WAL keeps the data; the next checkpoint tries again
            log.warning("checkpoint failed", error=str(e))


def _run_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # its row read: statement done


IN_CHUNK = 500  # values per IN (...) list: well under SQLite's parameter limit


def rows_in(
    conn: sqlite3.Connection, sql: str, values: Iterable[object], *before: object
) -> Iterator[Any]:
    """The rows of sql, whose `{ids}` stands for an IN list of the values (distinct, asked
    IN_CHUNK at a time); the parameters before them go first."""
    unique = list(dict.fromkeys(values))
    for i in range(0, len(unique), IN_CHUNK):
        chunk = unique[i : i + IN_CHUNK]
        yield from conn.execute(sql.replace("{ids}", ",".join("?" * len(chunk))), (*before, *chunk))


def add_counts(conn: sqlite3.Connection, table: str, counts: Counts) -> None:
    """Add each n to the counter row of its key (the key columns): at the group's commit
    inside a group commit, at once otherwise."""
    group = _group.get()
    if group is None:
        upsert_add(conn, table, [(*k, n) for k, n in counts.items() if n])
        return
    sums = group.counters.get(table)
    if sums is None:
        group.counters[table] = dict(counts)
        return
    for k, n in counts.items():
        sums[k] = sums.get(k, 0) + n


def add_row(conn: sqlite3.Connection, table: str, row: tuple[object, ...]) -> None:
    """Insert a row of an append-only log that no job reads back: at the group's commit (after
    the rows of the jobs before) inside a group commit, at once otherwise. table: the table
    with its column list, e.g. "log (a, b)"."""
    group = _group.get()
    if group is None:
        insert_rows(conn, table, [row])
    else:
        group.rows.setdefault(table, []).append(row)


def insert_rows(conn: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """Insert rows in order (table: its name and column list, e.g. "log (a, b)")."""
    if rows:
        conn.executemany(_values_sql(f"INSERT INTO {table}", len(rows[0])), rows)


def group_value(conn: sqlite3.Connection, key: str, load: Callable[[sqlite3.Connection], T]) -> T:
    """The value kept under key in this group commit (loaded on first use), or load(conn)
    outside one."""
    group = _group.get()
    if group is None:
        return load(conn)
    kept = group.values.get(key)
    if kept is None:
        value = load(conn)
        group.values[key] = (value, None)
        return value
    return kept[0]  # type: ignore[no-any-return]


def keep_value(conn: sqlite3.Connection, key: str, value: object, flush: Flush | None) -> None:
    """Set the value under key: flush(conn, value) writes it (if it is to be written), once
    before the group's COMMIT inside a group commit, at once otherwise."""
    group = _group.get()
    if group is None:
        if flush is not None:
            flush(conn, value)
    else:
        group.values[key] = (value, flush)


@cache
def _values_sql(head: str, width: int, tail: str = "") -> str:
    return f"{head} VALUES ({', '.join('?' * width)}){tail}"


def upsert_add(conn: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """Add each row's n to the counter with its key, now."""
    if rows:
        sql = _values_sql(
            f"INSERT INTO {table}", len(rows[0]), " ON CONFLICT DO UPDATE SET n = n + excluded.n"
        )
        conn.executemany(sql, rows)


Unit = Callable[[sqlite3.Connection], list[tuple[bool, Any]]]


def _units(group: list[_Pending]) -> list[tuple[Unit, list[_Pending]]]:
    """The group as units of work in order: each job alone; the items of one batch run and
    key together, where the first of them stands (they were all waiting at once)."""
    units: list[tuple[Unit, list[_Pending]]] = []
    batches: dict[tuple[BatchRun, Hashable], list[_Pending]] = {}
    for p in group:
        if p.batch is None:
            assert p.job is not None
            units.append((partial(_alone, p.job), [p]))
        elif p.batch in batches:
            batches[p.batch].append(p)
        else:
            members = batches[p.batch] = [p]
            units.append((partial(_together, p.batch[0], members), members))
    return units


def _alone(job: Job[Any], conn: sqlite3.Connection) -> list[tuple[bool, Any]]:
    return [(True, job(conn))]


def _together(
    run: BatchRun, members: list[_Pending], conn: sqlite3.Connection
) -> list[tuple[bool, Any]]:
    outcomes = run(conn, [p.item for p in members])
    if len(outcomes) != len(members):
        raise RuntimeError(f"a batch of {len(members)} gave {len(outcomes)} outcomes")
    return outcomes


def _one_by_one(members: list[_Pending]) -> list[tuple[Unit, list[_Pending]]]:
    """The items of a batch as units of one item each."""
    run = members[0].batch[0]  # type: ignore[index]
    return [(partial(_together, run, [p]), [p]) for p in members]


def _commit_group(conn: sqlite3.Connection, group: list[_Pending]) -> list[tuple[bool, Any]]:
    """The group's units of work in one transaction; outcomes in group order. A lone unit
    runs bare (the transaction stands in for its savepoint: SQLite keeps a copy of every
    page a savepoint changes); when it fails, or there are several, see _transaction."""
    units = _units(group)
    if len(units) == 1:
        try:
            return _transaction(conn, group, units, savepoints=False)
        except Exception as e:
            members = units[0][1]
            if len(members) == 1:
                return [(False, e)]
            units = _one_by_one(members)
    return _transaction(conn, group, units, savepoints=True)


def _transaction(
    conn: sqlite3.Connection,
    group: list[_Pending],
    units: list[tuple[Unit, list[_Pending]]],
    savepoints: bool,
) -> list[tuple[bool, Any]]:
    """With savepoints, each unit in its own: one failing unit undoes only itself (its
    counters and kept values too; a failing batch is run again an item at a time); without,
    a failing unit undoes the transaction and raises. What the units added to the group
    (counters, log rows, kept values) is written once, before COMMIT."""
    done: dict[int, tuple[bool, Any]] = {}
    totals: dict[str, dict[tuple[object, ...], int]] = {}
    logs: dict[str, list[tuple[object, ...]]] = {}
    with _begun(conn) as state:
        queue = list(units)
        while queue:
            unit, members = queue.pop(0)
            if not savepoints:
                outcomes = unit(conn)
            else:
                conn.execute("SAVEPOINT job")
                values = dict(state.values)
                try:
                    outcomes = unit(conn)
                except Exception as e:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    state.values = values
                    state.counters, state.rows = {}, {}
                    if len(members) == 1:
                        done[id(members[0])] = (False, e)
                    else:  # which item failed is not known: each again, alone
                        queue[:0] = _one_by_one(members)
                    continue
                conn.execute("RELEASE job")
            done.update((id(p), o) for p, o in zip(members, outcomes, strict=True))
            for table, sums in state.counters.items():
                total = totals.get(table)
                if total is None:
                    totals[table] = sums
                    continue
                for k, n in sums.items():
                    total[k] = total.get(k, 0) + n
            for table, rows in state.rows.items():
                logs.setdefault(table, []).extend(rows)
            state.counters, state.rows = {}, {}
        state.counters, state.rows = totals, logs
    return [done[id(p)] for p in group]


async def _run_stepped(conn: sqlite3.Connection, job: SteppedJob[Any]) -> tuple[bool, Any]:
    """A stepped job in a transaction of its own, the event loop going on between steps (the
    writer does not: writes queue up meanwhile). Its failure undoes it and is its outcome."""
    try:
        with _begun(conn):
            steps = job(conn)
            while True:
                try:
                    next(steps)
                except StopIteration as finished:
                    value = finished.value
                    break
                await asyncio.sleep(0)
    except Exception as e:
        return False, e
    return True, value


@contextmanager
def _begun(conn: sqlite3.Connection) -> Iterator[_Group]:
    """A write transaction whose jobs share a _Group (what it holds at the end of the block
    is written before COMMIT); an error rolls it back."""
    state = _Group()
    conn.execute("BEGIN IMMEDIATE")
    token = _group.set(state)
    try:
        yield state
        state.write(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        _group.reset(token)
