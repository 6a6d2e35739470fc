"""Ids handed out by the single writer, and the book of the subjects a write upserts one
record at a time (a set-based batch numbers its rows in its INSERT: storage.staged)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Generic, Protocol, TypeVar

from services.common.storage import Conn
from services.common.storage.sql import group_value, keep_value


def next_id(conn: Conn, table: str) -> int:
    """The next free id of a table (the single writer hands ids out)."""
    return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])


def take_ids(conn: Conn, table: str) -> int:
    """next_id, looked up once per group commit: a job that takes ids this way gives back the
    next one still free with ids_taken, for the later jobs of the group. Every job that
    inserts into the table must hand out its ids this way."""
    return group_value(conn, f"next_id:{table}", partial(next_id, table=table))


def ids_taken(conn: Conn, table: str, next_free: int) -> None:
    keep_value(conn, f"next_id:{table}", next_free, None)


class Subject(Protocol):
    """A row a write upserts by its natural key: an id handed out here, a revision."""

    id: int
    revision: int


S = TypeVar("S", bound=Subject)


class Book(Generic[S]):
    """The subjects a write touches, by natural key (a 64-bit hash): those stored loaded once
    per batch (by the service's store), new ones made in memory with ids handed out by
    take_ids, and all settled together at the end: the new ones to insert, the changed ones
    to update. A subject made for a record that was then refused is not stored."""

    def __init__(self, conn: Conn, table: str, stored: dict[int, S]) -> None:
        self.conn, self.table = conn, table
        self.by_key: dict[int, S] = dict(stored)
        self.by_id: dict[int, S] = {s.id: s for s in stored.values()}
        self.created: dict[int, S] = {}  # natural key -> subject new in this write
        self.touched: dict[int, S] = {}
        self._first = self._next = take_ids(conn, table)

    def get(self, key: int) -> S | None:
        return self.by_key.get(key)

    def make(self, key: int, new: Callable[[int], S]) -> S:
        """A new subject under key, new(id) given the next free id."""
        subject = new(self._next)
        self._next += 1
        self.by_key[key] = self.created[key] = self.by_id[subject.id] = subject
        return subject

    def is_new(self, key: int) -> bool:
        return key in self.created

    def touch(self, subject: S) -> None:
        """Mark a subject changed (a new revision)."""
        subject.revision += 1
        self.touched[subject.id] = subject

    def settle(self) -> tuple[list[tuple[int, S]], list[S]]:
        """The new subjects to insert (with their keys) and the changed ones to update; the
        next id still free is handed on to the group's later jobs (as MAX(id) + 1 would be)."""
        new = [(k, s) for k, s in self.created.items() if s.id in self.touched]
        ids_taken(self.conn, self.table, max(s.id for _, s in new) + 1 if new else self._first)
        new_ids = {s.id for _, s in new}
        return new, [s for s in self.touched.values() if s.id not in new_ids]
