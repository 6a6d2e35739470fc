"""JWT bearer tokens signed with the deployment key, and the checks made on them."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Container
from pathlib import Path

import jwt

from netnet.client import tokens
from services.common.context import Principal, current_principal
from services.common.errors import PermissionDenied, Unauthenticated, Violations

ALGORITHM, ISSUER = tokens.ALGORITHM, tokens.ISSUER
VERIFIED_TOKENS = 1024  # tokens remembered once verified: a client sends the same one per call
_verified: dict[tuple[bytes, str], tuple[Principal, int]] = {}  # (key, token) -> (who, exp)


def ensure_key(path: Path) -> bytes:
    """Read the signing key, creating a random one (mode 0600) on first use. Processes that
    start together may race: the key is written aside and linked in, so one wins whole."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process won
        finally:
            aside.unlink()
    return path.read_text().strip().encode()


def issue_token(
    key: bytes,
    *,
    operator: str,
    department: str,
    roles: list[str],
    region: str = "",
    ttl_seconds: int = 86400,
    known: Container[str] | None = None,
) -> str:
    """The SDK's token; known: the deployment's departments, when the department must be
    one of them (settings.reference.departments)."""
    if known is not None and department not in known:
        raise ValueError(f"unknown department {department!r}")
    return tokens.issue_token(
        key,
        operator=operator,
        department=department,
        roles=roles,
        region=region,
        ttl_seconds=ttl_seconds,
    )


def verify_token(key: bytes, token: str, departments: Container[str]) -> Principal:
    """The principal a token names; departments: the deployment's department codes."""
    known = _verified.get((key, token))
    # Signature and claims checked before (by any server of this process): only time moves
    # on, and the department is checked against this server's own reference data.
    if known is not None and known[0].department in departments:
        principal, exp = known
        if exp > time.time():
            return principal
        del _verified[(key, token)]
        raise Unauthenticated("token expired", reason="TOKEN_EXPIRED")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired", reason="TOKEN_EXPIRED") from None
    except jwt.PyJWTError as e:
        raise Unauthenticated(f"invalid token: {e}", reason="TOKEN_INVALID") from None
    dept, roles = claims.get("dept"), claims.get("roles")
    if not isinstance(dept, str) or dept not in departments or not isinstance(roles, list):
        raise Unauthenticated("token names no known department or roles", reason="TOKEN_INVALID")
    # A token must name at least one role of ours: one with none, or only roles we do not
    # know, is not a credential of this deployment (our issuer never makes one), so it is
    # refused as UNAUTHENTICATED here, for every RPC, reads too, rather than left to each
    # method to deny. Unknown roles beside a known one are dropped: they grant nothing, and a
    # newer issuer's extra role does not lock its holder out of what the known ones allow.
    granted = frozenset(r for r in roles if r in tokens.ROLES)
    if not granted:
        raise Unauthenticated(
            f"token names none of the roles {', '.join(tokens.ROLES)}", reason="TOKEN_NO_ROLE"
        )
    principal = Principal(
        operator=str(claims["sub"]),
        department=dept,
        region=str(claims.get("region", "")),
        roles=granted,
    )
    if len(_verified) >= VERIFIED_TOKENS:
        del _verified[next(iter(_verified))]  # the oldest
    _verified[(key, token)] = (principal, int(claims["exp"]))
    return principal


def principal_from_metadata(
    key: bytes, metadata: tuple[tuple[str, str | bytes], ...], departments: Container[str]
) -> Principal:
    for name, value in metadata:
        if name == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated(
                    "authorization must be 'Bearer <token>'", reason="TOKEN_MISSING"
                )
            return verify_token(key, token.strip(), departments)
    raise Unauthenticated("missing bearer token", reason="TOKEN_MISSING")


def require_role(*roles: str) -> Principal:
    principal = current_principal()
    if not principal.has(*roles):
        raise PermissionDenied(f"needs one of the roles {', '.join(roles)}", reason="ROLE_REQUIRED")
    return principal


def require_writer_for(department: str) -> Principal:
    """A writer, writing in its own department's name."""
    principal = require_role("operator", "admin", "service")
    check_department(principal, department)
    return principal


def check_department(principal: Principal, department: str) -> None:
    """A department writes only records in its own name."""
    if department and department != principal.department:
        raise PermissionDenied(_wrong_department(principal, department), reason="WRONG_DEPARTMENT")


def check_record_department(principal: Principal, department: str, v: Violations) -> None:
    """The same rule for one record of an import stream (whose writer's role is checked once):
    a record in another department's name is a rejected row, field `department`, and the
    rest of the stream goes on."""
    if department and department != principal.department:
        v.add("department", _wrong_department(principal, department))


def _wrong_department(principal: Principal, department: str) -> str:
    return f"department {principal.department!r} cannot write in the name of {department!r}"
