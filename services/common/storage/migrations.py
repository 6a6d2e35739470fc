"""Numbered SQL migrations, each applied once in a transaction of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.common.hashing import hash64
from services.common.storage import Conn

RUNTIME_MIGRATIONS = Path(__file__).parent.parent / "migrations"


def apply_migrations(conn: Conn, directories: list[tuple[str, Path]]) -> list[str]:
    """Apply numbered NNNN_name.sql files not applied yet, each in its own transaction."""
    conn.create_function("hash64", 1, hash64, deterministic=True)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name TEXT PRIMARY KEY, applied_us INTEGER NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for prefix, directory in directories:
        for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            name = f"{prefix}/{path.name}"
            if name in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(path.read_text()):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, CAST(strftime('%s','now') "
                    "AS INTEGER) * 1000000)",
                    (name,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(name)
    return applied


def _statements(script: str) -> list[str]:
    parts, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            parts.append("\n".join(current))
            current = []
    return [p for p in parts if p.strip()]
