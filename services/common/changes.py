"""Change feed: an outbox written with each change, streamed in order and resumable."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

from services.common.db import Database, add_row

CREATED, UPDATED, RETRACTED, BULK_IMPORTED = 1, 2, 3, 4
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


def append(
    conn: sqlite3.Connection,
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


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM change_log").fetchone()[0])


def _after(conn: sqlite3.Connection, seq: int) -> list[Change]:
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

    async def watch(self, after_seq: int) -> AsyncIterator[Change]:
        seq = after_seq
        while True:
            moved = self._moved
            changes = await self._db.read(partial(_after, seq=seq))
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
