"""Numbered SQL migrations, each applied once in a transaction of its own.

A directory holds SQLite's files; its `postgresql/` subdirectory the same steps, with the
same names, in PostgreSQL's dialect."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from services.common.hashing import hash64
from services.common.storage import Conn

RUNTIME_MIGRATIONS = Path(__file__).parent.parent / "migrations"
SQLITE, POSTGRESQL = "sqlite", "postgresql"


def apply_migrations(
    conn: Conn, directories: list[tuple[str, Path]], dialect: str = SQLITE
) -> list[str]:
    """Apply numbered NNNN_name.sql files not applied yet, each in its own transaction."""
    if isinstance(conn, sqlite3.Connection):  # SQLite's steps call hash64 (rollup keys)
        conn.create_function("hash64", 1, hash64, deterministic=True)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name TEXT PRIMARY KEY, applied_us BIGINT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, path in steps(directories, dialect):
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if dialect == POSTGRESQL:  # the whole script in one statement text
                conn.execute(path.read_text())
            else:
                for statement in _statements(path.read_text()):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)",
                (name, int(time.time()) * 1_000_000),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def steps(directories: list[tuple[str, Path]], dialect: str = SQLITE) -> list[tuple[str, Path]]:
    """Every migration of the directories, in order: its name in schema_migrations
    ("prefix/NNNN_name.sql"), and its file in the dialect."""
    found = []
    for prefix, directory in directories:
        where = directory / POSTGRESQL if dialect == POSTGRESQL else directory
        for path in sorted(where.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            found.append((f"{prefix}/{path.name}", path))
    return found


def _statements(script: str) -> list[str]:
    parts, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            parts.append("\n".join(current))
            current = []
    return [p for p in parts if p.strip()]
