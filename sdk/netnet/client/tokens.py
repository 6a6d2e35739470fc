"""Bearer tokens as the servers expect them: HS256 JWTs signed with the deployment key."""

from __future__ import annotations

import re
import time

import jwt

ALGORITHM = "HS256"
ISSUER = "netnet"
ROLES = ("operator", "analyst", "admin", "auditor", "service")
DEPARTMENT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def issue_token(
    key: bytes,
    *,
    operator: str,
    department: str,
    roles: list[str],
    region: str = "",
    ttl_seconds: int = 86400,
) -> str:
    """A token naming an operator, a department, an optional region and roles."""
    if not operator:
        raise ValueError("an operator name is required")
    if not DEPARTMENT.match(department):
        raise ValueError(f"department {department!r} is not a department code")
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"roles must be among {', '.join(ROLES)}")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": operator,
        "dept": department,
        "region": region,
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)
