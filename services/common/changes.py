"""Change feed: an outbox written with each change, streamed in order and resumable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from services.common.storage import Conn
from services.common.storage.sql import add_row
from services.common.storage.writer import Database

CREATED, UPDATED, RETRACTED, BULK_IMPORTED, WITHHELD = 1, 2, 3, 4, 5
POLL_SECONDS = 1.0  # other replicas' commits are seen by polling
BATCH = 500


@dataclass(frozen=True)
class Change:
    seq: int
    time_us: int
    kind: int
    resource: str
    department: str
    campaign_id: str
    count: int


# What a caller may read of a batch of changes (read in the same snapshot as the batch).
View = Callable[[Conn, list[Change]], list[Change]]


def withheld(change: Change) -> Change:
    """A change the caller may not read: its position only, so that the watcher still learns
    that something moved (figures are every caller's) and resumes exactly."""
    return Change(change.seq, 0, WITHHELD, "", "", "", 0)


def append(
    conn: Conn,
    kind: int,
    resource: str,
    department: str,
    campaign_id: str,
    now_us: int,
    count: int = 1,
) -> None:
    add_row(
        conn,
        "change_log (time_us, kind, resource, department, campaign_id, count)",
        (now_us, kind, resource, department, campaign_id, count),
    )


def last_seq(conn: Conn) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM change_log").fetchone()[0])


def _after(conn: Conn, seq: int) -> list[Change]:
    rows = conn.execute(
        "SELECT seq, time_us, kind, resource, department, campaign_id, count "
        "FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, BATCH),
    )
    return [Change(*row) for row in rows]


class ChangeFeed:
    """Wakes watchers after every commit of this process."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._moved = asyncio.Event()
        self._closed = False
        db.commit_listeners.append(self._notify)

    def close(self) -> None:
        """End every watch (at shutdown: an endless stream would hold the drain to its end)."""
        self._closed = True
        self._notify()

    def _notify(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

    async def watch(self, after_seq: int, view: View | None = None) -> AsyncIterator[Change]:
        """Every change after after_seq, in order, each as view shows it (one for one)."""
        seq = after_seq

        def read(conn: Conn) -> list[Change]:
            batch = _after(conn, seq)
            return view(conn, batch) if view is not None else batch

        while True:
            moved = self._moved
            changes = await self._db.read(read)
            for change in changes:
                yield change
                seq = change.seq
            if self._closed:
                return
            if len(changes) < BATCH:
                try:
                    await asyncio.wait_for(moved.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass
