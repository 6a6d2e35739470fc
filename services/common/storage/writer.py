"""The writer: one connection that group-commits units of work, and readers beside it.

A unit of work is a plain function of a connection (Conn). Writes run a group of them in one
transaction, on the backend's writer connection (SQLite's or PostgreSQL's: see sqlite.py and
postgres.py, which also say on which thread). A long job (an import batch) runs in steps, in a
transaction of its own, the loop serving other calls between them. Reads run on connections
of their own, so a long read does not hold up the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog

from services.common import metrics
from services.common.errors import Unavailable
from services.common.storage import TEMP_TABLES, Conn
from services.common.storage.migrations import RUNTIME_MIGRATIONS
from services.common.storage.sql import Group, grouped

T = TypeVar("T")
Job = Callable[[Conn], T]
# A long unit of work (an import batch) in steps: each yield lets the event loop serve other
# calls; the generator's return value is the job's result.
SteppedJob = Callable[[Conn], Generator[None, None, T]]
log = structlog.get_logger()

MAX_GROUP = 256
# Group commit: the writer waits this long for more writes before committing what it has,
# while writes keep coming in (as PostgreSQL's commit_delay). A wait that brought none makes
# it skip the wait for the next LONE_SKIPS groups that start with nothing else waiting: a
# lone writer is hardly held up.
GATHER_SECONDS = 0.001
LONE_SKIPS = 32
BatchRun = Callable[[Conn, list[Any]], list[tuple[bool, Any]]]


@dataclass
class _Pending:
    job: Job[Any] | None  # a job of its own, or else
    batch: tuple[BatchRun, Hashable] | None = None  # an item of a batch run (and its key)
    item: Any = None
    stepped: SteppedJob[Any] | None = None  # a stepped job: in a transaction of its own
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


# Records a stepped job (an import batch) prepares, or writes, between two turns of the event
# loop: calls that come in meanwhile (a status query, say) wait for one step, not a batch.
STEP = 50


def run_through(steps: Generator[None, None, T]) -> T:
    """The result of a stepped job (see Database.write_in_steps), run without pauses."""
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]


class Backend(Protocol):
    """Where the writer's and the readers' connections come from (sqlite.py, postgres.py)."""

    name: str  # for logs
    begin: str  # what opens a write transaction
    commit: str  # ... and what commits it
    read_begin: str  # the statement that opens a read snapshot

    async def open(
        self, dirs: list[tuple[str, Path]], prepare: Callable[[Conn], None] | None
    ) -> tuple[Conn, list[str]]: ...

    async def run(self, fn: Callable[[], T]) -> T: ...

    async def read(self, snapshot: Callable[[Conn], T]) -> T: ...

    async def after_group(self, force: bool = False) -> None: ...

    def follow(self, committed: Callable[[], None]) -> None: ...

    async def close(self) -> None: ...


class Database:
    """One writer connection (group commit) and readers beside it, over a backend."""

    def __init__(self, backend: Backend, prepare: Callable[[Conn], None] | None = None) -> None:
        self.backend = backend
        self._prepare = prepare  # run on the writer after the migrations, before any write
        self._writer: Conn | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._held: _Pending | None = None  # a stepped job taken while gathering: next
        self._skips = 0  # groups still to commit without waiting for more
        self._task: asyncio.Task[None] | None = None
        self.commit_listeners: list[Callable[[], None]] = []

    async def open(self, migrations: list[tuple[str, Path]]) -> list[str]:
        dirs = [("runtime", RUNTIME_MIGRATIONS), *migrations]
        self._writer, applied = await self.backend.open(dirs, self._prepare)
        self.backend.follow(self._others_committed)
        self._task = asyncio.create_task(self._write_loop(), name=f"writer:{self.backend.name}")
        return applied

    def _others_committed(self) -> None:
        """Another process (a replica) committed a write: what follows the store hears it."""
        for listener in self.commit_listeners:
            listener()

    async def close(self) -> None:
        """Finish every queued write, then close both connections."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        await self.backend.close()
        self._writer = None

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
        if self._writer is None:
            raise Unavailable("the database is not open", reason="NOT_SERVING")
        begin = self.backend.read_begin

        def snapshot(conn: Conn) -> T:
            conn.execute(begin)
            try:
                return job(conn)
            finally:
                conn.execute("COMMIT")

        return await self.backend.read(snapshot)

    async def _run_stepped(self, conn: Conn, job: SteppedJob[Any]) -> tuple[bool, Any]:
        """A stepped job in a transaction of its own, each step on a thread: the event loop
        goes on meanwhile (a step is mostly statements, which let go of the GIL: the next
        batch is read and checked while this one is written), the writer does not (writes
        queue up). Its failure undoes it and is its outcome."""
        run = self.backend.run
        try:
            with grouped(Group()) as state:
                await run(partial(_open, conn, self.backend))
                try:
                    steps = job(conn)
                    while True:
                        done, value = await asyncio.to_thread(_step, steps)
                        if done:
                            break
                    await run(partial(_commit, conn, self.backend, state))
                except BaseException:
                    await run(partial(_roll_back, conn))
                    raise
        except Exception as e:
            return False, e
        return True, value

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
                    outcomes = await self.backend.run(
                        partial(_commit_group, self._writer, self.backend, group)
                    )
                else:  # reports its own failure as its outcome
                    outcomes = [await self._run_stepped(self._writer, first.stepped)]
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
            await self.backend.after_group(force=stop)
            if stop:
                return


Unit = Callable[[Conn], list[tuple[bool, Any]]]


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


def _alone(job: Job[Any], conn: Conn) -> list[tuple[bool, Any]]:
    return [(True, job(conn))]


def _together(run: BatchRun, members: list[_Pending], conn: Conn) -> list[tuple[bool, Any]]:
    outcomes = run(conn, [p.item for p in members])
    if len(outcomes) != len(members):
        raise RuntimeError(f"a batch of {len(members)} gave {len(outcomes)} outcomes")
    return outcomes


def _one_by_one(members: list[_Pending]) -> list[tuple[Unit, list[_Pending]]]:
    """The items of a batch as units of one item each."""
    run = members[0].batch[0]  # type: ignore[index]
    return [(partial(_together, run, [p]), [p]) for p in members]


def _commit_group(conn: Conn, backend: Backend, group: list[_Pending]) -> list[tuple[bool, Any]]:
    """The group's units of work in one transaction; outcomes in group order. A lone unit
    runs bare (the transaction stands in for its savepoint: SQLite keeps a copy of every
    page a savepoint changes); when it fails, or there are several, see _transaction."""
    units = _units(group)
    if len(units) == 1:
        try:
            return _transaction(conn, backend, group, units, savepoints=False)
        except Exception as e:
            members = units[0][1]
            if len(members) == 1:
                return [(False, e)]
            units = _one_by_one(members)
    return _transaction(conn, backend, group, units, savepoints=True)


def _transaction(
    conn: Conn,
    backend: Backend,
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
    with _begun(conn, backend) as state:
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
                    conn.bound.pop(TEMP_TABLES, None)
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


def _step(steps: Generator[None, None, T]) -> tuple[bool, T | None]:
    """One step of a stepped job: (whether it finished, its result then)."""
    try:
        next(steps)
    except StopIteration as finished:
        return True, finished.value  # type: ignore[no-any-return]
    return False, None


@contextmanager
def _begun(conn: Conn, backend: Backend) -> Iterator[Group]:
    """A write transaction whose jobs share a Group (what it holds at the end of the block
    is written before COMMIT); an error rolls it back."""
    _open(conn, backend)
    try:
        with grouped(Group()) as state:
            yield state
        _commit(conn, backend, state)
    except BaseException:
        _roll_back(conn)
        raise


def _open(conn: Conn, backend: Backend) -> None:
    conn.execute(backend.begin)


def _commit(conn: Conn, backend: Backend, state: Group) -> None:
    state.write(conn)
    conn.execute(backend.commit)


def _roll_back(conn: Conn) -> None:
    conn.bound.pop(TEMP_TABLES, None)
    if conn.in_transaction:
        conn.execute("ROLLBACK")
