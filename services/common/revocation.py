"""netnet.common.v1.RevocationService on a service: revocations kept in its own store (with an
audit entry), and read back into the process's memory about once a second."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import structlog
from google.protobuf.timestamp_pb2 import Timestamp

from netnet.common.v1 import revocation_pb2 as pb
from netnet.common.v1 import revocation_pb2_grpc as pb_grpc
from services.common import audit
from services.common.auth import Revocations, require_role
from services.common.context import Principal, request_id_var
from services.common.convert import to_ts
from services.common.errors import FieldViolation, InvalidArgument
from services.common.storage import Conn

log = structlog.get_logger()
OPERATOR_MAX = 256
TOKEN_ID_MAX = 128
FUTURE_SECONDS = 300  # a cut-off may lie this far ahead of the server's clock, no further


def wall_us() -> int:
    """Tokens carry wall-clock times (iat), so revocations are dated by the wall clock."""
    return time.time_ns() // 1000


def checked(request: pb.RevokeTokenRequest, now_us: int) -> tuple[str, str, int]:
    """(token id, operator, issued_before_us) of a request; InvalidArgument naming the field."""
    token_id, operator = request.token_id.strip(), request.operator.strip()
    if bool(token_id) == bool(operator):
        raise InvalidArgument(
            [FieldViolation("token_id", "give exactly one of token_id and operator")]
        )
    if len(token_id) > TOKEN_ID_MAX:
        raise InvalidArgument([FieldViolation("token_id", f"at most {TOKEN_ID_MAX} characters")])
    if len(operator) > OPERATOR_MAX:
        raise InvalidArgument([FieldViolation("operator", f"at most {OPERATOR_MAX} characters")])
    before = now_us
    if request.HasField("issued_before"):
        if token_id:
            raise InvalidArgument(
                [FieldViolation("issued_before", "only with operator (a cut-off of its tokens)")]
            )
        before = request.issued_before.ToMicroseconds()
        if before > now_us + FUTURE_SECONDS * 1_000_000:
            raise InvalidArgument(
                [FieldViolation("issued_before", "more than five minutes in the future")]
            )
    return token_id, operator, before if operator else 0


def revoke(
    conn: Conn,
    principal: Principal,
    token_id: str,
    operator: str,
    issued_before_us: int,
    request_id: str,
    revoked_us: int,
    now_us: int,
) -> int:
    """Record a revocation (again is harmless), with its audit entry; the operator's cut-off
    as it stands after (0 for a token id)."""
    if token_id:
        conn.execute(
            "INSERT INTO revoked_tokens VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
            (token_id, revoked_us),
        )
        resource, held = f"revocations/tokens/{token_id}", 0
    else:
        conn.execute(
            "INSERT INTO revoked_operators VALUES (?, ?, ?) ON CONFLICT (operator) DO UPDATE "
            "SET issued_before_us = excluded.issued_before_us, revoked_us = excluded.revoked_us "
            "WHERE excluded.issued_before_us > revoked_operators.issued_before_us",
            (operator, issued_before_us, revoked_us),
        )
        (held,) = conn.execute(
            "SELECT issued_before_us FROM revoked_operators WHERE operator = ?", (operator,)
        ).fetchone()
        resource = f"revocations/operators/{operator}"
    audit.append(conn, principal, "RevokeToken", resource, request_id, "revoked", now_us)
    return int(held)


def load(conn: Conn) -> tuple[list[tuple[str, int]], list[tuple[str, int, int]]]:
    """Every revocation: [(jti, revoked_us)], [(operator, issued_before_us, revoked_us)]."""
    tokens = conn.execute("SELECT jti, revoked_us FROM revoked_tokens").fetchall()
    operators = conn.execute(
        "SELECT operator, issued_before_us, revoked_us FROM revoked_operators"
    ).fetchall()
    return [(str(j), int(r)) for j, r in tokens], [
        (str(o), int(b), int(r)) for o, b, r in operators
    ]


def as_messages(
    tokens: list[tuple[str, int]], operators: list[tuple[str, int, int]]
) -> list[pb.Revocation]:
    return [pb.Revocation(token_id=j, revoke_time=to_ts(r)) for j, r in tokens] + [
        pb.Revocation(operator=o, issued_before=to_ts(b), revoke_time=to_ts(r))
        for o, b, r in operators
    ]


def apply(revocations: Revocations, found: list[pb.Revocation]) -> None:
    """Make found the revocations known (listed by the services, merged)."""
    cutoffs: dict[str, int] = {}
    for r in found:
        if r.operator:
            before = r.issued_before.ToMicroseconds()
            cutoffs[r.operator] = max(before, cutoffs.get(r.operator, 0))
    revocations.replace({r.token_id for r in found if r.token_id}, cutoffs)


class RevocationServicer(pb_grpc.RevocationServiceServicer):
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeTokenResponse:
        principal = require_role("admin")
        revoked = wall_us()
        token_id, operator, before = checked(request, revoked)
        request_id, now = request_id_var.get(), self.rt.clock.now_us()
        held = await self.rt.db.write(
            lambda conn: revoke(
                conn, principal, token_id, operator, before, request_id, revoked, now
            )
        )
        # Refused here at once; the other replicas learn it at their next refresh.
        self.rt.verifier.revocations.add(token_id, operator, held)
        log.info("token revoked", by_token_id=bool(token_id), by_operator=bool(operator))
        return pb.RevokeTokenResponse(
            revocation=pb.Revocation(
                token_id=token_id,
                operator=operator,
                issued_before=to_ts(held) if operator else Timestamp(),
                revoke_time=to_ts(revoked),
            )
        )

    async def ListRevocations(
        self, request: pb.ListRevocationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRevocationsResponse:
        require_role("admin", "auditor", "service")
        tokens, operators = await self.rt.db.read(load)
        return pb.ListRevocationsResponse(revocations=as_messages(tokens, operators))


async def refresh(runtime: Any) -> None:
    """Read the store's revocations into the process's memory."""
    tokens, operators = await runtime.db.read(load)
    runtime.verifier.revocations.replace((j for j, _ in tokens), {o: b for o, b, _ in operators})


async def refresh_forever(runtime: Any) -> None:
    """About once a second: a revocation another replica (or the gateway's fan-out) wrote
    reaches this process's memory. A failed read keeps the set known and is tried again."""
    failing = False
    while True:
        await asyncio.sleep(runtime.settings.revocation_refresh_seconds)
        try:
            await refresh(runtime)
            if failing:
                log.info("revocations read again")
            failing = False
        except Exception as e:  # the store away for a moment: the next round tries again
            if not failing:
                log.warning("revocations could not be read", error=str(e))
            failing = True


def register(server: grpc.aio.Server, runtime: Any) -> list[str]:
    pb_grpc.add_RevocationServiceServicer_to_server(RevocationServicer(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["RevocationService"].full_name]
