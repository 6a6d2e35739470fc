"""The store seam of the shared runtime: migrations, the writer, SQL helpers, ids and keys.

Conn is the connection a unit of work gets: SQLite's (sqlite3) or PostgreSQL's (psycopg,
behind storage.postgres.PgConn). Code above a service's store names this protocol, not a
driver's type, and writes SQL both accept, with `?` parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import psycopg


class Cursor(Protocol):
    """What a statement gives back: its rows (read once), and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection of a store. bound: values the store's setup gave the connection (the
    audit key), which units of work read instead of taking them as parameters."""

    bound: dict[str, Any]

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


class SqliteConn(sqlite3.Connection):
    """sqlite3's connection, with the values its setup binds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bound: dict[str, Any] = {}


# bound[TEMP_TABLES]: the temporary tables made on the connection (see staged.reset); a
# rollback, which may have undone their making, and a new connection forget them.
TEMP_TABLES = "temp tables"

# What a failing statement raises, on either backend.
Error: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
# What a statement raises when the database cannot be reached (a call may be tried again).
Unreachable: tuple[type[Exception], ...] = (psycopg.OperationalError,)
