"""Request-scoped values (principal, request id), bound once per RPC."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    operator: str
    department: str
    region: str
    roles: frozenset[str]
    token_id: str = ""  # the token's jti: audit entries name the token a change was made with
    issued_at: int = 0  # the token's iat (seconds): an operator's revocation cut-off applies

    def has(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)
request_id_var: ContextVar[str] = ContextVar("request_id", default="")


def current_principal() -> Principal:
    principal = principal_var.get()
    if principal is None:  # every servicer call is authenticated first (interceptor.py)
        raise RuntimeError("no principal bound for this call")
    return principal
