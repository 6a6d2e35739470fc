"""The stores the service tests run on: SQLite files (the default), and PostgreSQL.

The PostgreSQL half runs in a database of its own, made for the test session and dropped at
its end; each service of each test gets a schema of its own in it, named after the test's
data directory (a server restarted on the same directory finds its tables again)."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from services.common.config import Settings
from services.common.hashing import hash64
from services.common.storage import Conn, SqliteConn
from services.common.storage.postgres import connect

# Where the PostgreSQL half finds a server (trust auth; the database only connects us).
SERVER_URL = os.environ.get(
    "NETNET_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class SessionDatabase:
    """A database of the test session's own on the PostgreSQL server."""

    def __init__(self) -> None:
        self.name = f"netnet_test_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"CREATE DATABASE {self.name} TEMPLATE template0 ENCODING 'UTF8'")
            # A commit does not wait for the disk here (4 ms a commit on this kind of machine,
            # most of a unary write's time): a test stops or kills the services, never the
            # server, which keeps every commit it acknowledged until it stops itself.
            admin.execute(f"ALTER DATABASE {self.name} SET synchronous_commit = off")
        self.url = SERVER_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        """Dropped by a process of its own, which the session does not wait for: a database
        of the thousands of schemas a session makes takes tens of seconds to drop."""
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.stores", self.name],
            cwd=Path(__file__).parents[2],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def drop(name: str) -> None:
    with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def unreachable() -> str:
    """Why no PostgreSQL server can be had for the tests ("" when one answers)."""
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"no PostgreSQL server at {SERVER_URL} ({first})"
    return ""


_current = ""  # the PostgreSQL test database's URL while its half runs, else ""


def use(url: str) -> None:
    global _current
    _current = url


def database_url(service: str, data_dir: Path) -> str:
    """NETNET_DATABASE_URL of a service whose data directory this is ("": the SQLite file)."""
    if not _current:
        return ""
    return f"{_current}?schema={schema(service, data_dir)}"


def schema(service: str, data_dir: Path) -> str:
    return f"t{hash64(str(data_dir.absolute())) & (1 << 63) - 1:x}_{service}"


@contextmanager
def open_store(settings: Settings) -> Iterator[Conn]:
    """A connection of its own to a service's store (autocommit), as a tool would open it:
    to look at or tamper with what the service wrote."""
    if settings.database_url:
        pg = connect(settings.database_url, settings.database_schema)
        try:
            yield pg
        finally:
            pg.close()
        return
    conn = sqlite3.connect(settings.database_path, isolation_level=None, factory=SqliteConn)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        yield conn
    finally:
        conn.close()


if __name__ == "__main__":  # python -m tests.support.stores NAME: drop the test database NAME
    drop(sys.argv[1])
