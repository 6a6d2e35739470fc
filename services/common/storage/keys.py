"""Ids and natural keys: 64-bit hashes of text keys, ids handed out by the single writer,
and the request ids of a table's records."""

from __future__ import annotations

import hashlib
from functools import partial

from services.common.errors import FieldViolation, InvalidArgument, Reject
from services.common.storage import Conn
from services.common.storage.sql import group_value, keep_value, rows_in


def hash64(text: str | bytes) -> int:
    """A signed 64-bit key for a natural text key (looked up by integer index); migrations
    can call it as the SQL function hash64(text)."""
    data = text.encode() if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


class RequestKeys:
    """Request ids of a table's records, looked up once per batch and tracked within it."""

    def __init__(self, conn: Conn, table: str, request_ids: list[str]) -> None:
        self.known: dict[int, tuple[str, int, int]] = {}
        self.keys = {r: hash64(r) for r in request_ids}  # each id hashed once
        for key, rid, body, rec in rows_in(
            conn,
            f"SELECT request_key, request_id, body_hash, id FROM {table} "
            "WHERE request_key IN ({ids})",
            self.keys.values(),
        ):
            self.known[key] = (rid, body, rec)

    def key(self, request_id: str) -> int:
        """The request id's 64-bit key."""
        key = self.keys.get(request_id)
        return hash64(request_id) if key is None else key

    def prior(self, request_id: str, body_hash: int) -> int | None:
        """The id recorded under this request id, or None; another body is refused."""
        found = self.known.get(self.key(request_id))
        if found is None:
            return None
        if found[0] != request_id or found[1] != body_hash:
            raise Reject(
                InvalidArgument(
                    [FieldViolation("request_id", "already used for a different record")],
                    reason="REQUEST_ID_REUSED",
                ),
                "request_id",
            )
        return found[2]

    def add(self, request_id: str, body_hash: int, record_id: int) -> None:
        self.known[self.key(request_id)] = (request_id, body_hash, record_id)


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
