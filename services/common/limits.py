"""Limits per caller: a rate of unary calls and a number of open streams, per operator and per
department, set per role (NETNET_LIMITS), kept in this process's memory (per replica).

A caller is limited by the first of its token's roles in PRECEDENCE. Unary calls draw one
token from two buckets, the operator's and the department's (both or neither); a stream holds
a slot of its kind (imports: client streams, watches: server streams) in both until it ends.
Beyond a limit the call is refused before its handler runs (RESOURCE_EXHAUSTED, RetryInfo)."""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from services.common.context import Principal
from services.common.errors import ResourceExhausted

# The role a caller is limited as: the first of its roles in this order.
PRECEDENCE = ("service", "admin", "auditor", "analyst", "operator")
STREAM_KINDS = ("imports", "watches")
# A refused stream is told to come back after this long: when a stream ends is not known.
STREAM_RETRY_SECONDS = 1.0
# Buckets kept at most (least recently used go first beyond it); a bucket idle long enough to
# have refilled goes as soon as a new one is made, since a fresh one is the same.
MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class Limit:
    rate: float  # unary calls a second
    burst: int  # unary calls at once after an idle spell (the bucket's size)
    imports: int  # client streams open at once
    watches: int  # server streams open at once


@dataclass(frozen=True)
class RoleLimits:
    operator: Limit  # each operator (a token's operator in its department)
    department: Limit  # every operator of one department with this role, together


# Far above what one process serves (a bare grpc.aio echo: ~6k calls/s on 2 cores): out of
# the box a rate refuses nobody; the stream counts bound a runaway client.
DEFAULT = RoleLimits(
    operator=Limit(rate=10_000.0, burst=10_000, imports=4, watches=8),
    department=Limit(rate=20_000.0, burst=20_000, imports=16, watches=64),
)
DEFAULTS: dict[str, RoleLimits] = {role: DEFAULT for role in PRECEDENCE}
VARIABLE = "NETNET_LIMITS"


def parse(text: str, roles: Mapping[str, RoleLimits] = DEFAULTS) -> dict[str, RoleLimits]:
    """NETNET_LIMITS: JSON, per role ("*" for every role, then the role's own) the operator's
    limits and, under "department", the department's; what is not named keeps its default.
    A rate given without a burst has a burst of one second's calls.

        {"*": {"watches": 4}, "analyst": {"rate": 50, "department": {"rate": 200}}}

    Raises ValueError saying what is wrong (the caller names the variable)."""
    result = dict(roles)
    if not text.strip():
        return result
    try:
        given = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(given, dict):
        raise ValueError("must be a JSON object of roles")
    unknown = sorted(set(given) - {"*", *PRECEDENCE})
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r} (roles: *, {', '.join(PRECEDENCE)})")
    for name in ("*", *PRECEDENCE):
        if name not in given:
            continue
        spec = given[name]
        if not isinstance(spec, dict):
            raise ValueError(f"{name}: must be an object")
        for role in PRECEDENCE if name == "*" else (name,):
            current = result[role]
            department = spec.get("department", {})
            if not isinstance(department, dict):
                raise ValueError(f"{name}.department: must be an object")
            result[role] = RoleLimits(
                operator=_limit(f"{name}", current.operator, spec, nested=True),
                department=_limit(f"{name}.department", current.department, department),
            )
    return result


def _limit(where: str, base: Limit, spec: dict[str, Any], nested: bool = False) -> Limit:
    names = {f.name for f in fields(Limit)}
    keys = names | ({"department"} if nested else set())
    unknown = sorted(set(spec) - keys)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(keys))})")
    changes: dict[str, Any] = {}
    for key in names & set(spec):
        value = spec[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}.{key}={value!r} is not a number")
        if key == "rate":
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{where}.rate={value!r} must be a number above 0")
            changes[key] = float(value)
        else:
            low = 1 if key == "burst" else 0
            if value != int(value) or value < low:
                raise ValueError(f"{where}.{key}={value!r} must be a whole number >= {low}")
            changes[key] = int(value)
    if "rate" in changes and "burst" not in changes:
        changes["burst"] = max(1, math.ceil(changes["rate"]))
    return replace(base, **changes)


class _Bucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, limit: Limit, now: float) -> None:
        self.rate, self.burst = limit.rate, float(limit.burst)
        self.tokens, self.stamp = self.burst, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until it holds a whole token."""
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def full_by(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class Limiter:
    """The limits of one process (see the module's note)."""

    def __init__(
        self,
        roles: Mapping[str, RoleLimits] = DEFAULTS,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.roles, self.clock, self.max_buckets = dict(roles), clock, max_buckets
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        self._open: dict[tuple[str, ...], int] = {}  # streams open per key (none: no entry)
        self._kept = 0  # buckets after the last eviction: a new one since calls for another

    def role_of(self, principal: Principal) -> str:
        return next((r for r in PRECEDENCE if r in principal.roles), PRECEDENCE[-1])

    def admit(self, principal: Principal) -> None:
        """One unary call, or ResourceExhausted (RATE_LIMITED) with the wait that would do."""
        role = self.role_of(principal)
        limits = self.roles[role]
        now = self.clock()
        who, where = principal.operator, principal.department
        mine = self._bucket(("o", role, where, who), limits.operator, now)
        theirs = self._bucket(("d", role, where), limits.department, now)
        if len(self._buckets) > self._kept:
            self._evict(now)
        if mine.tokens >= 1.0 and theirs.tokens >= 1.0:
            mine.tokens -= 1.0
            theirs.tokens -= 1.0
            return
        short = mine.tokens < 1.0
        scope, limit = ("operator", limits.operator) if short else ("department", limits.department)
        raise ResourceExhausted(
            f"too many calls: the {scope}'s limit for role {role} is {limit.rate:g} a second "
            f"(bursts of {limit.burst}) in this process",
            reason="RATE_LIMITED",
            retry_after=max(mine.wait(), theirs.wait()),
            metadata={"scope": scope, "role": role, "rate": f"{limit.rate:g}"},
        )

    def open(self, principal: Principal, kind: str) -> Callable[[], None]:
        """A stream of a kind (imports, watches) begins: its release, to call as it ends; or
        ResourceExhausted (TOO_MANY_STREAMS) when one of its counts is full."""
        role = self.role_of(principal)
        limits = self.roles[role]
        keys = (
            (("o", kind, role, principal.department, principal.operator), limits.operator),
            (("d", kind, role, principal.department), limits.department),
        )
        for (key, limit), scope in zip(keys, ("operator", "department"), strict=True):
            allowed: int = getattr(limit, kind)
            if self._open.get(key, 0) >= allowed:
                raise ResourceExhausted(
                    f"too many {kind} open: the {scope}'s limit for role {role} is {allowed} "
                    "at once in this process",
                    reason="TOO_MANY_STREAMS",
                    retry_after=STREAM_RETRY_SECONDS,
                    metadata={"scope": scope, "role": role, kind: str(allowed)},
                )
        for key, _ in keys:
            self._open[key] = self._open.get(key, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            for key, _ in keys:
                n = self._open[key] - 1
                if n:
                    self._open[key] = n
                else:
                    del self._open[key]

        return release

    def _bucket(self, key: tuple[str, ...], limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(limit, now)
        else:
            bucket.refill(now)
            self._buckets.move_to_end(key)
        return bucket

    def _evict(self, now: float) -> None:
        """Least recently used first: drop the buckets a fresh one would equal (refilled),
        and any beyond the bound (that caller starts afresh: the bound keeps memory, not
        fairness). The two buckets of the call being admitted are the newest: they stay."""
        while len(self._buckets) > 2:
            key, oldest = next(iter(self._buckets.items()))
            if not (oldest.full_by(now) or len(self._buckets) > self.max_buckets):
                break
            del self._buckets[key]
        self._kept = len(self._buckets)

    def __len__(self) -> int:
        """Buckets and stream counts held (what the bound on memory is about)."""
        return len(self._buckets) + len(self._open)
