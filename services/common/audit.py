"""Hash-chained audit log: append in the writing transaction, verify on demand."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from services.common.context import Principal
from services.common.db import add_row, group_value, keep_value

COLUMNS = (
    "seq, time_us, operator, department, method, resource, request_id, outcome, prev_hash, hash"
)


@dataclass(frozen=True)
class Entry:
    seq: int
    time_us: int
    operator: str
    department: str
    method: str
    resource: str
    request_id: str
    outcome: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int = 0
    problem: str = ""


def _digest(
    seq: int,
    time_us: int,
    operator: str,
    department: str,
    method: str,
    resource: str,
    request_id: str,
    outcome: str,
    prev_hash: str,
) -> str:
    fields = (
        str(seq),
        str(time_us),
        operator,
        department,
        method,
        resource,
        request_id,
        outcome,
        prev_hash,
    )
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    seq, digest = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return int(seq), str(digest)


def _write_head(conn: sqlite3.Connection, head: tuple[int, str]) -> None:
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head)


def append(
    conn: sqlite3.Connection,
    principal: Principal,
    method: str,
    resource: str,
    request_id: str,
    outcome: str,
    now_us: int,
) -> None:
    """Add the next link. In a group commit the head is read and written once, and the
    entries inserted together, before COMMIT (db.keep_value, db.add_row)."""
    seq, prev = group_value(conn, "audit_head", _head)
    seq += 1
    digest = _digest(
        seq,
        now_us,
        principal.operator,
        principal.department,
        method,
        resource,
        request_id,
        outcome,
        prev,
    )
    add_row(
        conn,
        f"audit_log ({COLUMNS})",
        (
            seq,
            now_us,
            principal.operator,
            principal.department,
            method,
            resource,
            request_id,
            outcome,
            prev,
            digest,
        ),
    )
    keep_value(conn, "audit_head", (seq, digest), _write_head)


def page(conn: sqlite3.Connection, after_seq: int, limit: int) -> list[Entry]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
    ).fetchall()
    return [Entry(*row) for row in rows]


def verify(conn: sqlite3.Connection, chunk: int = 5000) -> Verification:
    """Walk the chain in order: a gap, an edited field or a cut tail is reported."""
    expected_seq, prev, checked = 1, "", 0
    while True:
        entries = page(conn, expected_seq - 1, chunk)
        for e in entries:
            if e.seq != expected_seq:
                return Verification(
                    False, checked, expected_seq, f"entry {expected_seq} is missing"
                )
            if e.prev_hash != prev:
                return Verification(False, checked, e.seq, "link to the previous entry is broken")
            if (
                _digest(
                    e.seq,
                    e.time_us,
                    e.operator,
                    e.department,
                    e.method,
                    e.resource,
                    e.request_id,
                    e.outcome,
                    e.prev_hash,
                )
                != e.hash
            ):
                return Verification(False, checked, e.seq, "entry content does not match its hash")
            prev, expected_seq, checked = e.hash, expected_seq + 1, checked + 1
        if len(entries) < chunk:
            break
    head_seq, head_hash = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    if head_seq != checked or head_hash != prev:
        return Verification(
            False,
            checked,
            checked + 1,
            f"chain ends at entry {checked} but was written up to {head_seq}",
        )
    return Verification(True, checked)
