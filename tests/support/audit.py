"""The audit chain as a test sees it: links recomputed from outside the service, and the
attacks on a service's store that someone holding its file or database (not the audit key)
can make."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netnet.common.v1 import common_pb2
from services.common.config import Settings
from services.common.storage import Conn
from tests.support.stores import open_store

ENTRY_COLS = "seq, time_us, operator, department, method, resource, request_id, outcome"


def keyed_link(e: common_pb2.AuditEntry, key_file: Path) -> str:
    """The link as the service makes it: HMAC-SHA256, under the audit key, over the entry."""
    return keyed_link_under(e, key_file.read_text().strip().encode())


def keyed_link_under(e: common_pb2.AuditEntry, key: bytes) -> str:
    """The link HMAC-SHA256 under key makes over the entry."""
    fields = [
        e.seq,
        e.time.ToMicroseconds(),
        e.operator,
        e.department,
        e.method,
        e.resource,
        e.request_id,
        e.outcome,
        e.prev_hash,
        e.data,
        e.data_hash,
        *([e.token_id] if e.token_id else []),
    ]
    message = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def plain_link(fields: tuple[object, ...], prev_hash: str) -> str:
    """A plain sha256 link over (seq, time_us, operator, department, method, resource,
    request_id, outcome) and prev_hash: all that anyone without the key can compute (and
    the link the chain used before it was keyed)."""
    return hashlib.sha256("\x1f".join([*map(str, fields), prev_hash]).encode()).hexdigest()


def plain_link_of(e: common_pb2.AuditEntry) -> str:
    """The plain sha256 link of an entry as listed (what anyone can compute)."""
    fields = (e.seq, e.time.ToMicroseconds(), e.operator, e.department, e.method, e.resource)
    return plain_link((*fields, e.request_id, e.outcome), e.prev_hash)


@contextmanager
def transaction(settings: Settings) -> Iterator[Conn]:
    """A transaction on the service's store, beside the running service."""
    with open_store(settings) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def execute(settings: Settings, *statements: str) -> None:
    """Run statements on the service's store, in one transaction, beside the running
    service."""
    with transaction(settings) as conn:
        for sql in statements:
            conn.execute(sql)


def rewrite_plain(settings: Settings, from_seq: int) -> None:
    """Recompute every link from from_seq on, and the head, as plain sha256 links: a chain
    made consistent again after an edit, by someone without the key."""
    with transaction(settings) as conn:
        row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (from_seq - 1,)).fetchone()
        prev = row[0] if row else ""
        rows = conn.execute(
            f"SELECT {ENTRY_COLS} FROM audit_log WHERE seq >= ? ORDER BY seq", (from_seq,)
        ).fetchall()
        for fields in rows:
            digest = plain_link(fields, prev)
            conn.execute(
                "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                (prev, digest, fields[0]),
            )
            prev = digest
        conn.execute(
            "UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_log), hash = ?", (prev,)
        )


def cut_tail(settings: Settings, keep: int) -> None:
    """Delete the entries after keep and move the head back to it: the chain as it stood
    then, which verifies on its own."""
    execute(
        settings,
        f"DELETE FROM audit_log WHERE seq > {keep}",
        f"UPDATE audit_head SET seq = {keep}, "
        f"hash = (SELECT hash FROM audit_log WHERE seq = {keep})",
    )
