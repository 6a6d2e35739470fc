"""What the cases use cases share: a mutation run once per request id, the timeline, audit
and feed rows of a change, counters restated by difference, dated records, bounded text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from services.cases import store
from services.cases.domain import (
    Case,
    Event,
    EventKind,
    Party,
    contributions,
    difference,
    real_name_in,
)
from services.common import audit, changes, idempotency, rollups
from services.common import campaigns as campaign_rules
from services.common.context import Principal
from services.common.errors import (
    EtagMismatch,
    FailedPrecondition,
    NotFound,
    Violations,
)
from services.common.storage import Conn

if TYPE_CHECKING:
    from services.common.server import Runtime

WRITERS = ("operator", "admin", "service")
MAX_TEXT = 4000
CLOCK_SKEW_US = 5 * 60 * 1_000_000

R = TypeVar("R")


class Answer(Protocol):
    """What a mutation answers with (the edge's message): kept as bytes for a repeat."""

    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...


A = TypeVar("A", bound=Answer)


@dataclass(frozen=True)
class Call(Generic[R, A]):
    """A mutation as the edge hands it over: its method, request id and body as sent, and how
    the use case's result becomes the answer (answer) and is read back for a repeat (load)."""

    method: str
    request_id: str
    body: bytes
    answer: Callable[[R], A]
    load: Callable[[bytes], A]


async def once(rt: Runtime, call: Call[R, A], work: Callable[[Conn], R]) -> A:
    """Run a mutation once per request id, in the writer's transaction (the shared
    idempotency.Once); its answer is stored with the change and returned again for a repeat."""
    run = idempotency.Once(
        call.method, call.request_id, idempotency.caller_fingerprint(call.body), call.answer
    )
    answer = await rt.db.write(run.job(work, rt.clock.now_us()))
    return call.load(answer) if isinstance(answer, bytes) else answer  # type: ignore[return-value]


def case_name(case_id: int) -> str:
    return f"cases/{case_id}"


def log(
    conn: Conn,
    principal: Principal,
    method: str,
    name: str,
    request_id: str,
    outcome: str,
    now_us: int,
    campaign_id: str = "",
    kind: int = changes.UPDATED,
    rows: Sequence[audit.Rows] = (),
) -> None:
    changes.append(conn, kind, name, principal.department, campaign_id, now_us)
    audit.append(conn, principal, method, name, request_id, outcome, now_us, rows)


def event(
    conn: Conn,
    principal: Principal,
    case: Case,
    kind: EventKind,
    detail: str,
    now_us: int,
    fields: list[str] | None = None,
    from_state: int = 0,
    to_state: int = 0,
) -> int:
    return store.add_event(
        conn,
        Event(
            0,
            case.id,
            kind,
            now_us,
            principal.operator,
            principal.department,
            detail,
            fields or [],
            from_state,
            to_state,
        ),
    )


def restate(
    conn: Conn,
    before: tuple[Case, list[Party]] | None,
    after: tuple[Case, list[Party]],
) -> None:
    old = contributions(*before) if before else []
    for rollup, deltas in difference(old, contributions(*after)).items():
        rollups.apply(conn, rollup, deltas)


def count(conn: Conn, rollup: str, key: tuple[str, str, str, str, str], day: str) -> None:
    """One more of something counted once (a step, a publication), on its day."""
    rollups.apply(conn, rollup, [(None, key, day, 1)])


def get_case(conn: Conn, case_id: int) -> Case:
    case = store.get_case(conn, case_id)
    if case is None:
        raise NotFound(f"{case_name(case_id)} not found")
    return case


def dated(
    conn: Conn,
    campaign_id: str,
    special_action: str,
    time_us: int | None,
    time_field: str,
    now_us: int,
    prefix: str = "",
) -> None:
    """A record's campaign exists (here, its owner) with that special action, and the time
    it happened (None: not dated) is not in the future and lies within the campaign."""
    v = Violations()
    if time_us is not None and not v.check(
        time_us <= now_us + CLOCK_SKEW_US, f"{prefix}{time_field}", "must not lie in the future"
    ):
        time_us = None  # said once
    c = store.campaign_by_slug(conn, campaign_id) if campaign_id else None
    actions = frozenset(s for s, _ in c.special_actions) if c else frozenset()
    known = {c.slug: campaign_rules.Campaign(c.slug, c.start_us, c.end_us, actions)} if c else {}
    campaign_rules.check(v, known, campaign_id, special_action, time_us, time_field, prefix)
    v.raise_if_any()


def check_etag(etag: str, revision: int) -> None:
    if etag and etag != str(revision):
        raise EtagMismatch("the record changed since it was read; read it again")


def refuse_real_names(
    conn: Conn, case: Case, texts: dict[str, str], more: list[str] | None = None
) -> None:
    """Text that others read must not contain a party's real name."""
    names = [*store.real_names(conn, case.id), *(more or [])]
    bad = real_name_in({k: v for k, v in texts.items() if v}, names)
    if bad:
        raise FailedPrecondition(
            f"{bad} contains a party's real name: use the masked form", reason="REAL_NAME_IN_TEXT"
        )


def text(
    v: Violations, value: str, field: str, limit: int = MAX_TEXT, required: bool = True
) -> None:
    v.check(
        (bool(value) or not required) and len(value) <= limit,
        field,
        f"{'required, ' if required else ''}at most {limit} characters",
    )


def mask_fields(mask: list[str], allowed: tuple[str, ...], v: Violations) -> tuple[str, ...]:
    v.check(bool(mask), "update_mask", "name the fields to change")
    bad = [p for p in mask if p not in allowed]
    v.check(
        not bad, "update_mask", f"cannot change {', '.join(bad)}; allowed: {', '.join(allowed)}"
    )
    return tuple(dict.fromkeys(p for p in mask if p in allowed))
