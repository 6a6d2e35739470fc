"""PostgreSQL behind the store seam: psycopg 3's connection as a Conn.

The units of work are plain functions of a connection that the writer runs (see writer.py),
with SQL both backends accept; what still differs is spelled here, once, per statement text
(cached): `?` parameters become `%s`, and the few SQLite forms with no common spelling
(json_each, a temporary table's integer columns) are rewritten."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import structlog
from psycopg.adapt import Dumper, Loader
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from services.common.hashing import hash64
from services.common.storage import TEMP_TABLES, Conn, Cursor
from services.common.storage.migrations import POSTGRESQL, apply_migrations

T = TypeVar("T")
log = structlog.get_logger()


def split_url(url: str) -> tuple[str, str]:
    """(libpq connection URL, schema) of a NETNET_DATABASE_URL: `?schema=NAME` names the
    schema (default: none given, the caller's own), the rest goes to libpq as it is."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = "".join(v for k, v in query if k == "schema")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def lock_key(schema: str, purpose: str) -> int:
    """The advisory lock of one purpose (migrate, write, a sweep) in one service's schema."""
    return hash64(f"netnet\x1f{schema}\x1f{purpose}")


def write_begin(schema: str) -> str:
    """What begins a write transaction on the schema: BEGIN, then its write lock (a
    transaction-level advisory lock), which the writers of all replicas take (one round
    trip: statements without parameters go together)."""
    return f"BEGIN; SELECT pg_advisory_xact_lock({lock_key(schema, 'write')})"


_JSON_EACH = re.compile(r"json_each\(([\w.]+)\)")
# SQLite's CROSS JOIN ... ON: an inner join whose order the planner keeps.
_CROSS_ON = re.compile(r"CROSS JOIN (\w+(?: \w+)?) ON ")
_TEMP_INDEX = re.compile(r"CREATE INDEX (IF NOT EXISTS )?temp\.")


@lru_cache(maxsize=4096)
def translate(sql: str, with_parameters: bool) -> str:
    """The statement in PostgreSQL's spelling."""
    if sql.startswith("BEGIN IMMEDIATE"):
        return "BEGIN"
    if "CROSS JOIN" in sql:
        sql = _CROSS_ON.sub(r"JOIN \1 ON ", sql)
    if "json_each(" in sql:
        sql = _JSON_EACH.sub(r"json_array_elements_text(\1::json)", sql)
    if sql.startswith("CREATE TEMP TABLE"):
        sql = sql.replace(" INTEGER", " BIGINT")
    elif sql.startswith("CREATE INDEX"):
        sql = _TEMP_INDEX.sub(lambda m: f"CREATE INDEX {m.group(1) or ''}", sql)
    if not with_parameters:
        return sql
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


class _Numeric(Loader):
    """numeric as int when whole (SUM over bigint gives numeric), Decimal otherwise."""

    def load(self, data: Any) -> int | Decimal:
        text = bytes(data)
        return Decimal(text.decode()) if b"." in text else int(text)


class _BoolAsInt(Dumper):
    """A Python bool as 0 or 1: the stores keep flags in integer columns, as SQLite does."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class PgConn:
    """A psycopg connection (autocommit: the writer says BEGIN and COMMIT) as a Conn."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.bound: dict[str, Any] = {}
        raw.adapters.register_loader("numeric", _Numeric)
        raw.adapters.register_dumper(bool, _BoolAsInt)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        cursor = self.raw.cursor()
        if parameters:
            cursor.execute(translate(sql, True), parameters)  # type: ignore[call-overload]
        else:
            cursor.execute(translate(sql, False))  # type: ignore[call-overload]
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql, True), parameters)  # type: ignore[call-overload]
        return cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Rows into a table by COPY (a batch's stage: see storage.staged)."""
        with self.raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def close(self) -> None:
        self.raw.close()


def _options(schema: str) -> dict[str, Any]:
    """A connection's settings: the schema's search path, named in pg_stat_activity. Index
    look-ups priced as on solid-state storage (random_page_cost 1.1, not 4): a batch's
    statements join its thousand staged rows to the large tables by their unique keys, and
    with the default price the planner scans a whole table instead, a cost that grows with
    the store."""
    return {
        "autocommit": True,
        "options": f"-c search_path={schema} -c random_page_cost=1.1",
        "application_name": f"netnet {schema}"[:63],
    }


def connect(url: str, schema: str) -> PgConn:
    """A connection whose search path is the schema (made if missing: see migrations)."""
    return PgConn(psycopg.connect(url, **_options(schema)))


def migrate(
    url: str,
    schema: str,
    dirs: list[tuple[str, Path]],
    setup: Callable[[Conn], None] | None = None,
) -> tuple[PgConn, list[str]]:
    """A connection to the schema, made and migrated, and the migrations applied: under a
    session advisory lock, so that replicas starting at once migrate once (the others wait,
    then find nothing left to apply)."""
    conn = connect(url, schema)
    try:
        if setup is not None:
            setup(conn)
        key = lock_key(schema, "migrate")
        conn.execute(f"SELECT pg_advisory_lock({key})")
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            applied = apply_migrations(conn, dirs, POSTGRESQL)
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({key})")
        return conn, applied
    except BaseException:
        conn.close()
        raise


# Connections for reads (each read a snapshot of its own, on a thread: see Postgres.read).
READERS = 4


class Postgres:
    """One writer connection and a pool of readers over one schema of a PostgreSQL database.

    The writer's statements run on a thread (a statement waits on the network, not on the
    GIL). Every write transaction first takes the schema's write lock (a transaction-level
    advisory lock), so that the writers of all replicas on the database take turns, as one
    writer would: ids handed out as MAX(id) + 1, the audit chain's head, the change feed's
    order and the rollups' counters stay as exact as they are on SQLite."""

    def __init__(self, url: str, schema: str, setup: Callable[[Conn], None] | None = None) -> None:
        self.url, self.schema = url, schema
        self.name = f"{redacted(url)} schema {schema}"
        self._setup = setup
        self.read_begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        self.begin = write_begin(schema)
        # Every write transaction tells the other replicas it committed (delivered at COMMIT).
        self.channel = f"netnet_{schema}"
        self.commit = f"NOTIFY {self.channel}; COMMIT"
        self._listening = False
        self._listener: threading.Thread | None = None
        self._writer: PgConn | None = None
        self._readers: ConnectionPool[Any] | None = None

    async def open(
        self, dirs: list[tuple[str, Path]], prepare: Callable[[Conn], None] | None
    ) -> tuple[Conn, list[str]]:
        """The writer's connection, migrated (see migrate) and prepared, and the migrations
        applied."""

        def connect_and_migrate() -> tuple[PgConn, list[str]]:
            try:
                conn, applied = migrate(self.url, self.schema, dirs, self._setup)
            except psycopg.OperationalError as e:
                if e.sqlstate is not None:  # the server answered: not a connection failure
                    raise
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise psycopg.OperationalError(
                    f"the database at {self.name} cannot be reached: {first}"
                ) from None
            try:
                if prepare is not None:
                    conn.execute(self.begin)
                    prepare(conn)
                    conn.execute("COMMIT")
                return conn, applied
            except BaseException:
                conn.close()
                raise

        writer, applied = await asyncio.to_thread(connect_and_migrate)
        self._writer = writer
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=READERS,
            kwargs=_options(self.schema),
            check=ConnectionPool.check_connection,
            open=False,
        )
        await asyncio.to_thread(pool.open, True, 30.0)
        self._readers = pool
        return writer, applied

    async def run(self, fn: Callable[[], T]) -> T:
        """The writer's statements: on a thread, on a new connection if the last was lost
        (the server restarted, say: the group that found it lost failed UNAVAILABLE)."""
        return await asyncio.to_thread(self._reconnected, fn)

    def _reconnected(self, fn: Callable[[], T]) -> T:
        if self._writer is not None and self._writer.raw.closed:
            fresh = connect(self.url, self.schema)
            if self._setup is not None:
                self._setup(fresh)
            self._writer.raw = fresh.raw
            self._writer.bound.pop(TEMP_TABLES, None)
        return fn()

    async def read(self, snapshot: Callable[[Conn], T]) -> T:
        pool = self._readers
        assert pool is not None

        def on_reader() -> T:
            with pool.connection() as raw:
                conn = PgConn(raw)
                if self._setup is not None:
                    self._setup(conn)
                return snapshot(conn)

        return await asyncio.to_thread(on_reader)

    async def after_group(self, force: bool = False) -> None:
        return None

    def follow(self, committed: Callable[[], None]) -> None:
        """Call committed (on the event loop) whenever a write transaction commits, in any
        process on this schema: a thread LISTENs for the writers' NOTIFY."""
        loop = asyncio.get_running_loop()
        listener = psycopg.connect(self.url, **_options(self.schema))
        listener.execute(f"LISTEN {self.channel}")
        self._listening = True

        def listen() -> None:
            try:
                while self._listening:
                    for _ in listener.notifies(timeout=0.5, stop_after=1):
                        loop.call_soon_threadsafe(committed)
            except psycopg.Error as e:  # the watchers fall back on polling
                log.warning("change notifications lost", error=str(e))
            finally:
                listener.close()

        self._listener = threading.Thread(target=listen, name=f"listen:{self.schema}")
        self._listener.daemon = True
        self._listener.start()

    async def close(self) -> None:
        self._listening = False
        if self._listener is not None:
            await asyncio.to_thread(self._stop_listening)
            self._listener = None
        if self._readers is not None:
            await asyncio.to_thread(self._readers.close)
        if self._writer is not None:
            self._writer.close()
        self._readers = self._writer = None

    def _stop_listening(self) -> None:
        """Wake the listener with a notification of its own (the other replicas take it for a
        commit, and look once more), so that it ends at once rather than at its next timeout."""
        if self._readers is not None:
            try:
                with self._readers.connection(timeout=1.0) as raw:
                    raw.execute("SELECT pg_notify(%s, '')", (self.channel,))
            except (psycopg.Error, PoolTimeout):
                pass  # the database is gone: the listener ends at its timeout
        assert self._listener is not None
        self._listener.join(5.0)


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
