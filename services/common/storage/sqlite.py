"""SQLite behind the writer: the embedded default, one file in WAL mode.

The writer's connection runs its statements on the event loop's own thread (SQLite lets go
of the GIL at every statement, and a writer thread beside the loop spent most of its time
waiting to get it back); reads run on a connection of their own, on aiosqlite's thread, so a
long read does not hold up the loop. The WAL is copied back into the database file between
two write groups (see CHECKPOINT_SECONDS)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aiosqlite
import structlog

from services.common.storage import Conn, SqliteConn
from services.common.storage.migrations import apply_migrations

T = TypeVar("T")
log = structlog.get_logger()

# The WAL is copied back into the database file (a checkpoint, with its fsync) by the writer
# between two groups, on a thread, once this long has passed or this many rows changed since
# the last: the event loop goes on meanwhile (writes queue up and go in the next group), and
# with no write in between, the WAL starts over from its beginning after each checkpoint.
CHECKPOINT_SECONDS = 0.5
CHECKPOINT_ROWS = 20_000


async def _run_on(conn: aiosqlite.Connection, fn: Callable[[Conn], T]) -> T:
    # aiosqlite.Connection._execute runs fn on the connection's own thread (pinned version).
    return await conn._execute(fn, conn._conn)  # type: ignore[no-any-return]


class Sqlite:
    """One writer connection and one reader connection over a WAL file."""

    begin = "BEGIN IMMEDIATE"
    commit = "COMMIT"
    read_begin = "BEGIN"

    def __init__(
        self,
        path: Path,
        synchronous: str = "NORMAL",
        setup: Callable[[Conn], None] | None = None,
    ) -> None:
        self.path = path
        self.name = str(path)
        self.synchronous = synchronous
        self._setup = setup  # run on each connection when opened (e.g. the audit key)
        self._writer: SqliteConn | None = None
        self._reader: aiosqlite.Connection | None = None
        self._checkpointed = (0.0, 0)  # when, and the writer's total changes then

    def _pragmas(self) -> list[str]:
        return [
            "PRAGMA journal_mode=WAL",
            f"PRAGMA synchronous={self.synchronous}",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000",
            "PRAGMA wal_autocheckpoint=0",  # see CHECKPOINT_SECONDS
            "PRAGMA temp_store=MEMORY",  # a batch's stage (storage.staged), sorts
        ]

    async def open(
        self, dirs: list[tuple[str, Path]], prepare: Callable[[Conn], None] | None
    ) -> tuple[Conn, list[str]]:
        """The writer's connection, migrated and prepared, and the migrations applied."""
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def connect_and_migrate() -> tuple[SqliteConn, list[str]]:
            # On a thread: a locked file waits out the busy timeout without holding up the
            # loop (health keeps answering NOT_SERVING meanwhile).
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, factory=SqliteConn
            )
            try:
                for pragma in self._pragmas():
                    conn.execute(pragma)
                if self._setup is not None:
                    self._setup(conn)
                applied = apply_migrations(conn, dirs)
                if prepare is not None:
                    prepare(conn)
                return conn, applied
            except BaseException:
                conn.close()
                raise

        writer, applied = await asyncio.to_thread(connect_and_migrate)
        self._writer = writer
        self._reader = await aiosqlite.connect(self.path, isolation_level=None, factory=SqliteConn)
        for pragma in self._pragmas():
            await self._reader.execute(pragma)
        if self._setup is not None:
            await _run_on(self._reader, self._setup)
        return writer, applied

    async def run(self, fn: Callable[[], T]) -> T:
        """The writer's statements: on the loop's thread (see the module's doc)."""
        return fn()

    async def read(self, snapshot: Callable[[Conn], T]) -> T:
        assert self._reader is not None
        return await _run_on(self._reader, snapshot)

    async def after_group(self, force: bool = False) -> None:
        """Copy the WAL back into the database file when it is due (see CHECKPOINT_SECONDS)."""
        if self._writer is None:
            return
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

    def follow(self, committed: Callable[[], None]) -> None:
        """One process writes a SQLite file: its own commits are all there are."""

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _run_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # its row read: statement done
