"""JWT bearer tokens: checked against the deployment's public key set and the revocations
this process knows; the roles and departments a call needs."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import structlog

from netnet.client import tokens
from services.common.context import Principal, current_principal
from services.common.errors import PermissionDenied, Unauthenticated, Violations

log = structlog.get_logger()
ALGORITHM, ISSUER, AUDIENCE = tokens.ALGORITHM, tokens.ISSUER, tokens.AUDIENCE
VERIFIED_TOKENS = 1024  # tokens remembered once verified: a client sends the same one per call
CHECK_SECONDS = 1.0  # how often the key set file is looked at (one stat) for a change
REQUIRED = ["exp", "iat", "sub", "iss", "aud", "jti"]


class KeySetError(ValueError):
    """The public key set cannot be read: a server does not start without one."""


def ensure_key(path: Path) -> bytes:
    """Read a secret key (the audit key), creating a random one (mode 0600) on first use.
    Processes that start together may race: the key is written aside and linked in, so one
    wins whole."""
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
    key: Any,
    *,
    operator: str,
    department: str,
    roles: list[str],
    region: str = "",
    ttl_seconds: int | None = None,
    known: Container[str] | None = None,
) -> str:
    """The SDK's token, signed with the issuer's private key (or its PEM); known: the
    deployment's departments, when the department must be one of them."""
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


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    exp: int
    iat: int
    kid: str


class KeySet:
    """The public keys tokens are checked with (a JWKS file), by kid. A changed file is read
    again without a restart: the file is looked at (one stat) at most once a second, by the
    call that finds the second gone by. A file gone missing or unreadable keeps the last set
    (and says so in the log); a server does not start without one."""

    def __init__(self, path: Path, check_seconds: float = CHECK_SECONDS) -> None:
        self.path, self.check_seconds = path, check_seconds
        self.keys: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._checked = time.monotonic()
        # Tokens verified under this set (by any server of the process): token -> what it says.
        self.verified: dict[str, _Verified] = {}
        try:
            self._read(self._stat())
        except (OSError, ValueError) as e:
            raise KeySetError(
                f"no usable public key set at {path} (NETNET_PUBLIC_KEYS_FILE): {e}"
            ) from None

    def _stat(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_ino, st.st_size

    def _read(self, stamp: tuple[int, int, int]) -> None:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        found: dict[str, Any] = {}
        for jwk in data.get("keys", []) if isinstance(data, dict) else []:
            if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                continue  # only Ed25519 keys verify tokens here
            kid = jwk.get("kid")
            if isinstance(kid, str) and kid:
                found[kid] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        if not found:
            raise ValueError("the set holds no Ed25519 key with a kid")
        self.keys, self._stamp = found, stamp
        # A removed key's tokens must not be answered from memory.
        self.verified = {t: v for t, v in self.verified.items() if v.kid in found}

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return
        self._checked = now
        try:
            stamp = self._stat()
            if stamp != self._stamp:
                self._read(stamp)
                log.info("public key set read", file=str(self.path), kids=sorted(self.keys))
        except (OSError, ValueError) as e:
            log.warning("public key set unusable: the last one is kept", error=str(e))

    def get(self, kid: str) -> Any:
        self.refresh()
        return self.keys.get(kid)


_KEY_SETS: dict[Path, KeySet] = {}


def key_set(path: Path) -> KeySet:
    """The process's key set read from path (servers of one process share it, and the
    tokens it has verified)."""
    path = path.absolute()
    found = _KEY_SETS.get(path)
    if found is None:
        found = _KEY_SETS[path] = KeySet(path)
    return found


class Revocations:
    """The revocations a server knows, in memory: token ids, and per operator a cut-off (a
    token it was issued at or before is refused). Filled from the store (or, on the gateway,
    from the services) about once a second."""

    def __init__(self) -> None:
        self.token_ids: frozenset[str] = frozenset()
        self.cutoffs: dict[str, int] = {}  # operator -> issued_before, in microseconds
        self.refreshed = 0.0  # time.monotonic() of the last refresh that succeeded

    def replace(self, token_ids: Iterable[str], cutoffs: dict[str, int]) -> None:
        self.token_ids, self.cutoffs = frozenset(token_ids), dict(cutoffs)
        self.refreshed = time.monotonic()

    def add(self, token_id: str = "", operator: str = "", issued_before_us: int = 0) -> None:
        """One more, at once (before the next refresh brings it)."""
        if token_id:
            self.token_ids = self.token_ids | {token_id}
        if operator:
            self.cutoffs = {
                **self.cutoffs,
                operator: max(issued_before_us, self.cutoffs.get(operator, 0)),
            }

    def refuses(self, token_id: str, operator: str, iat: int) -> bool:
        # iat has whole seconds: a token issued in the cut-off's own second is refused too.
        return token_id in self.token_ids or iat * 1_000_000 <= self.cutoffs.get(operator, -1)


class Verifier:
    """Who a call's token names: the signature checked against the key set (by the token's
    kid, EdDSA only), the issuer, audience and expiry, the department against this server's
    reference data, and the token against the revocations known. A token verified before
    is answered from memory (no signature check), revocations and expiry checked again."""

    def __init__(
        self, keys: KeySet, departments: Container[str], revocations: Revocations | None = None
    ) -> None:
        self.keys, self.departments = keys, departments
        self.revocations = revocations or Revocations()

    def verify(self, token: str) -> Principal:
        self.keys.refresh()
        known = self.keys.verified.get(token)
        if known is None or known.principal.department not in self.departments:
            known = self._check(token)
        elif known.exp <= time.time():
            del self.keys.verified[token]
            raise Unauthenticated("token expired", reason="TOKEN_EXPIRED")
        p = known.principal
        if self.revocations.refuses(p.token_id, p.operator, known.iat):
            raise Unauthenticated("token revoked", reason="TOKEN_REVOKED")
        return p

    def _check(self, token: str) -> _Verified:
        # The messages name what is wrong, never the token (nor what its header claims).
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token: not a JWT", reason="TOKEN_INVALID") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(
                "invalid token: only EdDSA (Ed25519) tokens are taken", reason="TOKEN_INVALID"
            )
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthenticated(
                "invalid token: its key (kid) is not in the public key set",
                reason="TOKEN_INVALID",
            )
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                audience=AUDIENCE,
                options={"require": REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"invalid token: {e}", reason="TOKEN_INVALID") from None
        dept, roles = claims.get("dept"), claims.get("roles")
        if not isinstance(dept, str) or dept not in self.departments or not isinstance(roles, list):
            raise Unauthenticated(
                "token names no known department or roles", reason="TOKEN_INVALID"
            )
        # A token must name at least one role of ours: one with none, or only roles we do
        # not know, is not a credential of this deployment (our issuer never makes one), so
        # it is refused as UNAUTHENTICATED here, for every RPC, reads too, rather than left
        # to each method to deny. Unknown roles beside a known one are dropped: they grant
        # nothing, and a newer issuer's extra role does not lock its holder out of what the
        # known ones allow.
        granted = frozenset(r for r in roles if r in tokens.ROLES)
        if not granted:
            raise Unauthenticated(
                f"token names none of the roles {', '.join(tokens.ROLES)}", reason="TOKEN_NO_ROLE"
            )
        verified = _Verified(
            Principal(
                operator=str(claims["sub"]),
                department=dept,
                region=str(claims.get("region", "")),
                roles=granted,
                token_id=str(claims["jti"]),
                issued_at=int(claims["iat"]),
            ),
            int(claims["exp"]),
            int(claims["iat"]),
            kid,  # type: ignore[arg-type]
        )
        cache = self.keys.verified
        if len(cache) >= VERIFIED_TOKENS:
            del cache[next(iter(cache))]  # the oldest
        cache[token] = verified
        return verified

    def still_good(self, principal: Principal) -> None:
        """Raise if the principal's token was revoked since the call began (a stream's
        messages are checked as they go: a revoked token's stream ends at its next one)."""
        if self.revocations.refuses(principal.token_id, principal.operator, principal.issued_at):
            raise Unauthenticated("token revoked", reason="TOKEN_REVOKED")

    def principal(self, metadata: tuple[tuple[str, str | bytes], ...]) -> Principal:
        """The principal of a call's metadata (its bearer token)."""
        for name, value in metadata:
            if name == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                scheme, _, token = text.partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthenticated(
                        "authorization must be 'Bearer <token>'", reason="TOKEN_MISSING"
                    )
                return self.verify(token.strip())
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
