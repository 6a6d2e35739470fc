"""Where the bench's servers and its bare limits keep their data: SQLite files in a directory
of each side (the default), or PostgreSQL, in a database made for the run and dropped at its
end, each side of each round in a fresh schema of it.

The bare limit writes the same rows into the same tables (made by the same migrations), one
transaction per batch: executemany on SQLite, COPY on PostgreSQL."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from services.common.storage import Conn, SqliteConn
from services.common.storage.migrations import POSTGRESQL, SQLITE, apply_migrations
from services.common.storage.postgres import connect, split_url

SQLITE_NAME, POSTGRESQL_NAME = "SQLite", "PostgreSQL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
Row = tuple[object, ...]
# A table the bare limit fills: its name and the columns its rows give, in order.
Table = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Store:
    """One side's store in one round: its directory (data, logs) and, on PostgreSQL, the
    NETNET_DATABASE_URL of its schema ("" on SQLite: the service's file in the directory)."""

    directory: Path
    url: str = ""


@dataclass
class Backend:
    """SQLite (url "") or the run's own PostgreSQL database (url: libpq's URL of it)."""

    url: str = ""
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def postgresql(self) -> bool:
        return bool(self.url)

    @property
    def name(self) -> str:
        return POSTGRESQL_NAME if self.postgresql else SQLITE_NAME

    def database_url(self, label: str) -> str:
        """NETNET_DATABASE_URL of a schema never used before in this run ("" on SQLite)."""
        if not self.postgresql:
            return ""
        return f"{self.url}?schema={label}_{next(self._numbers)}"

    @contextmanager
    def fresh(self, directory: Path, label: str) -> Iterator[Store]:
        """An empty directory and, on PostgreSQL, a new schema; both removed afterwards."""
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        store = Store(directory, self.database_url(label))
        try:
            yield store
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            if store.url:
                drop_schema(store.url)


def drop_schema(url: str) -> None:
    libpq, schema = split_url(url)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def run_database(server: str) -> Iterator[Backend]:
    """A database of the run's own on the server at `server` (any database there to connect
    to), dropped at the end, also when the run fails or is interrupted."""
    name = f"netnet_bench_{os.getpid()}"
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield Backend(database_in(server, name))
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def database_in(server: str, name: str) -> str:
    """The URL of another database on the same server."""
    libpq, _ = split_url(server)
    base, _, query = libpq.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def ensure_database(server: str, name: str) -> str:
    """A database kept between runs (made when missing); its URL."""
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    return database_in(server, name)


def server_version(url: str) -> str:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


@dataclass(frozen=True)
class Bare:
    """What the bare limit writes: tables made by `migrations`, `setup` rows written first
    (not timed), then each batch in a transaction of its own; `rows` rows expected in the
    last table a batch writes afterwards."""

    migrations: list[tuple[str, Path]]
    batches: list[list[tuple[Table, list[Row]]]]
    rows: int
    setup: list[tuple[str, list[Row]]] = field(default_factory=list)

    def check(self, conn: Conn) -> None:
        """Raise unless the last table a batch writes holds the rows expected."""
        table = self.batches[0][-1][0][0]
        (counted,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        if counted != self.rows:
            raise AssertionError(f"baseline stored {counted} of {self.rows} rows")


def bare_write(store: Store, file: str, bare: Bare) -> float:
    """Seconds to write bare's batches into a fresh store: SQLite's file (the service writer's
    settings) by executemany, or the store's PostgreSQL schema by COPY."""
    if store.url:
        return _bare_copy(store.url, bare)
    return _bare_executemany(store.directory / file, bare)


def _bare_executemany(path: Path, bare: Bare) -> float:
    conn = sqlite3.connect(path, isolation_level=None, factory=SqliteConn)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        apply_migrations(conn, bare.migrations, SQLITE)
        for sql, rows in bare.setup:
            conn.executemany(sql, rows)
        inserts = {table: _insert(table) for table, _ in bare.batches[0]}
        started = time.perf_counter()
        for batch in bare.batches:
            conn.execute("BEGIN IMMEDIATE")
            for table, rows in batch:
                conn.executemany(inserts[table], rows)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        bare.check(conn)
    finally:
        conn.close()
    return seconds


def _insert(table: Table) -> str:
    name, columns = table
    return f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"


def _bare_copy(url: str, bare: Bare) -> float:
    libpq, schema = split_url(url)
    conn = connect(libpq, schema)
    try:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        apply_migrations(conn, bare.migrations, POSTGRESQL)
        for sql, rows in bare.setup:
            conn.executemany(sql, rows)
        cursor = conn.raw.cursor()
        started = time.perf_counter()
        for batch in bare.batches:
            with conn.raw.transaction():
                for (name, columns), rows in batch:
                    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        seconds = time.perf_counter() - started
        bare.check(conn)
    finally:
        conn.close()
    return seconds


class LockSampler:
    """How much of a run the writers' advisory lock (see storage.postgres) is held, and how
    much a writer waits for it: pg_locks sampled from a thread every `every` seconds."""

    QUERY = (
        "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) "
        "FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )

    def __init__(self, url: str, every: float = 0.02) -> None:
        self.url, self.every = split_url(url)[0], every
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LockSampler:
        conn = psycopg.connect(self.url, autocommit=True)
        self._thread = threading.Thread(target=self._sample, args=(conn,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _sample(self, conn: psycopg.Connection[Sequence[int]]) -> None:
        with conn:
            while not self._stop.wait(self.every):
                row = conn.execute(self.QUERY).fetchone()
                if row is not None:
                    self.samples.append((int(row[0]), int(row[1])))

    @property
    def held(self) -> float:
        """The share of samples in which a writer held the lock."""
        return sum(1 for h, _ in self.samples if h) / len(self.samples) if self.samples else 0.0

    @property
    def waited(self) -> float:
        """The share of samples in which a writer waited for it."""
        return sum(1 for _, w in self.samples if w) / len(self.samples) if self.samples else 0.0
