"""Recording many records at once: each record's outcome, and unary calls as a batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from services.common.campaigns import Campaign
from services.common.context import Principal
from services.common.errors import DomainError, Reject, Violations
from services.common.storage import Conn

In = TypeVar("In")


@dataclass
class Outcome:
    """What became of one record of a write."""

    index: int
    request_id: str
    record_id: int = 0
    name: str = ""  # resource name of the record, when the write knows it
    duplicate: bool = False
    field: str = ""
    reason: str = ""
    error: DomainError | None = None  # why it was refused, to raise in a unary call
    # For a unary call's answer: the record as written, its subject as it stood right after
    # it, and whether that subject is new in this write.
    record: Any = None
    after: Any = None
    created: bool = False

    @property
    def rejected(self) -> bool:
        return bool(self.reason)

    def refuse(self, r: Reject) -> None:
        self.field, self.reason, self.error = r.field, r.error.message, r.error


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, kind: str) -> int:
        if kind == "accepted":
            return sum(1 for o in self.outcomes if o.record_id and not o.duplicate)
        if kind == "duplicate":
            return sum(1 for o in self.outcomes if o.duplicate)
        return sum(1 for o in self.outcomes if o.rejected)

    def audit_outcome(self) -> str:
        return (
            f"accepted={self.count('accepted')} duplicate={self.count('duplicate')} "
            f"rejected={self.count('rejected')}"
        )


Out = TypeVar("Out")


def unary_calls(
    record: Callable[[Conn, Principal, list[tuple[int, In]], int], BatchResult],
    answer: Callable[[Conn, list[Outcome]], list[Out]],
) -> Callable[[Conn, list[tuple[Principal, In, int]]], list[tuple[bool, Out | DomainError]]]:
    """The batch form (for Database.write_batched) of unary record calls of one principal
    (the batch key): items (principal, input, now). record(conn, principal, items, now) must
    report a refused record in its outcome (not raise) and audit each record as a call;
    answer(conn, outcomes) answers the accepted ones, all at once, in the writing
    transaction (no read after the write). A refused call gets the error it is refused with."""

    def run(
        conn: Conn, items: list[tuple[Principal, In, int]]
    ) -> list[tuple[bool, Out | DomainError]]:
        inputs = [(i, item) for i, (_, item, _) in enumerate(items)]
        result = record(conn, items[0][0], inputs, max(now for *_, now in items))
        accepted = iter(answer(conn, [o for o in result.outcomes if o.error is None]))
        return [(False, o.error) if o.error else (True, next(accepted)) for o in result.outcomes]

    return run


@dataclass
class Intake(Generic[In]):
    """What an import does with each batch of records, as its use case says: learn the
    campaigns its records name (one look-up per batch), check each record's input (authorize,
    validate: bad fields noted in the Violations), write the valid ones."""

    campaigns: Callable[[Sequence[Any]], Awaitable[Mapping[str, Campaign | None]]]
    prepare: Callable[[In, int, Violations, Mapping[str, Campaign | None]], In]
    write: Callable[[list[tuple[int, In]], int], Awaitable[BatchResult]]
