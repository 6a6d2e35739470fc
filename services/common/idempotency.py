"""Request-id store, written in the same transaction as the change it guards."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.common.context import current_principal
from services.common.errors import FieldViolation, InvalidArgument
from services.common.storage import Conn


def fingerprint(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def caller_fingerprint(request_body: bytes) -> bytes:
    """The fingerprint of a request as the current caller sent it. The caller is part of the
    request: another department repeating someone else's request id must not get that answer
    back (it may hold what only the first caller may see). A regional office is another
    caller than the same operator name elsewhere (national callers keep the form stored
    before regions counted, so their retries still match)."""
    caller = current_principal()
    region = f"{caller.region}\x1f" if caller.region else ""
    return fingerprint(
        f"{caller.department}\x1f{caller.operator}\x1f{region}".encode() + request_body
    )


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


class Response(Protocol):
    def SerializeToString(self) -> bytes: ...


# What a run-once job returns: the response, or a repeat's stored bytes.
Answered = Response | bytes


@dataclass(frozen=True)
class Once:
    """A mutation call to run once per request id: the method its answer is stored under,
    the request id, the fingerprint of the caller and body, and answer, which turns the use
    case's result into the response (its bytes stored with the change)."""

    method: str
    request_id: str
    body: bytes
    answer: Callable[[Any], Response]

    def job(
        self,
        work: Callable[[Conn], object],
        now_us: int,
        guard: Callable[[Conn], object] | None = None,
    ) -> Callable[[Conn], Answered]:
        """The writer job: guard (if given) first, repeat or not (a check no stored answer
        may skip); then a repeat's stored bytes, or else work's result answered, its bytes
        stored with the change and the response itself returned (built once, not parsed
        back)."""
        if not 0 < len(self.request_id) <= 128:
            raise InvalidArgument(
                [FieldViolation("request_id", "required, at most 128 characters")]
            )

        def run(c: Conn) -> Answered:
            if guard is not None:
                guard(c)
            prior = lookup(c, self.request_id, self.method, self.body)
            if prior is not None:
                return prior
            response = self.answer(work(c))
            save(c, self.request_id, self.method, self.body, response.SerializeToString(), now_us)
            return response

        return run
