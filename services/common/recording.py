"""Recording many records at once: each record's outcome, and unary calls as a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.common.context import Principal
from services.common.errors import DomainError, Reject
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
    after: Any = None  # its subject as it stood right after it (a new record of a unary call)

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


def answers(result: BatchResult) -> list[tuple[bool, Outcome | DomainError]]:
    """Each record's outcome, or the error it was refused with (a unary call raises it)."""
    return [(False, o.error) if o.error else (True, o) for o in result.outcomes]


def unary_calls(
    record: Callable[[Conn, Principal, list[tuple[int, In]], int], BatchResult],
) -> Callable[[Conn, list[tuple[Principal, In, int]]], list[tuple[bool, Any]]]:
    """The batch form (for Database.write_batched) of unary record calls of one principal
    (the batch key): items (principal, input, now). record(conn, principal, items, now) must
    report a refused record in its outcome (not raise) and audit each record as a call."""

    def run(conn: Conn, items: list[tuple[Principal, In, int]]) -> list[tuple[bool, Any]]:
        inputs = [(i, item) for i, (_, item, _) in enumerate(items)]
        return answers(record(conn, items[0][0], inputs, max(now for *_, now in items)))

    return run
