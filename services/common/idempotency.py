"""Request-id store, written in the same transaction as the change it guards."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from services.common.errors import FieldViolation, InvalidArgument
from services.common.storage import Conn


def fingerprint(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def lookup(conn: Conn, request_id: str, method: str, request_hash: bytes) -> bytes | None:
    """The first response for this request id, or None; a different body is refused."""
    row = conn.execute(
        "SELECT request_hash, response FROM idempotency WHERE request_id = ? AND method = ?",
        (request_id, method),
    ).fetchone()
    if row is None:
        return None
    if row[0] != request_hash:
        raise InvalidArgument(
            [FieldViolation("request_id", "already used for a different request")],
            reason="REQUEST_ID_REUSED",
        )
    return bytes(row[1])


def save(
    conn: Conn,
    request_id: str,
    method: str,
    request_hash: bytes,
    response: bytes,
    now_us: int,
) -> None:
    conn.execute(
        "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?)",
        (request_id, method, request_hash, response, now_us),
    )


def run_once(
    conn: Conn,
    request_id: str,
    method: str,
    request_hash: bytes,
    now_us: int,
    work: Callable[[], bytes],
) -> bytes:
    """The stored response for a repeated request id, else work()'s, stored with the change."""
    prior = lookup(conn, request_id, method, request_hash)
    if prior is not None:
        return prior
    response = work()
    save(conn, request_id, method, request_hash, response, now_us)
    return response
