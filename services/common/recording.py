"""Recording records: each record's outcome, unary calls written as a batch, an import's
intake, and the use cases of a kind of record its department writes (Records)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from services.common import audit, changes
from services.common.audit import Rows
from services.common.auth import check_record_department, require_role, require_writer_for
from services.common.campaigns import Campaign
from services.common.catalogue import Catalogue, Metadata
from services.common.clock import Clock
from services.common.context import Principal
from services.common.errors import (
    DomainError,
    FieldViolation,
    InvalidArgument,
    Reject,
    Violations,
)
from services.common.reference import Reference
from services.common.storage import Conn
from services.common.storage.writer import Database

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
    """What became of a batch's records: an outcome for each record a set-based write did
    not simply accept (and for every call of a batch of unary calls), and how many more it
    accepted (counted, not listed)."""

    outcomes: list[Outcome] = field(default_factory=list)
    accepted: int = 0  # accepted records with no outcome of their own
    first_request_id: str = ""  # the batch's first record's, for its audit entry
    # Those accepted records, where the call answers each: (index, request id, name).
    written: list[tuple[int, str, str]] = field(default_factory=list)

    def note(
        self,
        request_id: Callable[[int], str],
        prior: Mapping[int, int],
        refused: Mapping[int, Reject],
        name: Callable[[int], str] | None = None,
    ) -> None:
        """An outcome for each repeated request (prior: idx -> the record it holds; name:
        that record's resource name) and each refused record (idx -> why); request_id: a
        record's, by idx."""
        for idx, record_id in prior.items():
            self.outcomes.append(
                Outcome(
                    idx,
                    request_id(idx),
                    record_id,
                    name=name(record_id) if name else "",
                    duplicate=True,
                )
            )
        for idx, r in refused.items():
            outcome = Outcome(idx, request_id(idx))
            outcome.refuse(r)
            self.outcomes.append(outcome)

    def count(self, kind: str) -> int:
        if kind == "accepted":
            return self.accepted + sum(1 for o in self.outcomes if o.record_id and not o.duplicate)
        if kind == "duplicate":
            return sum(1 for o in self.outcomes if o.duplicate)
        return sum(1 for o in self.outcomes if o.rejected)

    def audit_outcome(self) -> str:
        return (
            f"accepted={self.count('accepted')} duplicate={self.count('duplicate')} "
            f"rejected={self.count('rejected')}"
        )


def log_import(
    conn: Conn,
    principal: Principal,
    method: str,
    collection: str,
    result: BatchResult,
    written: Rows,
    campaign: str,
    now_us: int,
) -> None:
    """An import batch written: one change for its records (collection: their resource
    collection; campaign: the one they all name, or "") and one audit entry with its counts,
    committing to the rows it wrote."""
    if not result.first_request_id:
        return
    if written.ids:
        changes.append(
            conn,
            changes.BULK_IMPORTED,
            collection,
            principal.department,
            campaign,
            now_us,
            len(written.ids),
        )
    audit.append(
        conn,
        principal,
        method,
        collection,
        result.first_request_id,
        result.audit_outcome(),
        now_us,
        [written],
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
    validate: bad fields noted in the Violations), make the valid ones ready for the write
    (stage: while the batch before is written), write them."""

    campaigns: Callable[[Sequence[Any]], Awaitable[Mapping[str, Campaign | None]]]
    prepare: Callable[[In, int, Violations, Mapping[str, Campaign | None]], In]
    stage: Callable[[list[tuple[int, In]], int], Any]
    write: Callable[[Any, int], Awaitable[BatchResult]]


class Record(Protocol):
    """What recording needs of a record's input: the department it is written in the name
    of, and the campaign it names (or "")."""

    @property
    def department(self) -> str: ...

    @property
    def campaign_id(self) -> str: ...


R = TypeVar("R", bound=Record)
# validate(input, now, violations, campaigns, reference, prefix): the input as checked (bad
# fields noted under prefix).
Validate = Callable[[R, int, Violations, Mapping[str, Campaign | None], Reference, str], R]
Calls = Callable[[Conn, list[tuple[Principal, R, int]]], list[tuple[bool, Any]]]
ImportBatch = Callable[..., Generator[None, None, BatchResult]]
WRITERS = ("operator", "admin", "service")


class Records(Generic[R]):
    """The use cases of one kind of record that its department writes, one at a time or
    imported (a service's use cases extend it): the caller writes in its own department's
    name, and each record is valid (validate) against the campaign it names, learnt from the
    catalogue. One at a time: the calls of one principal waiting at once are written as one
    batch (calls, made by unary_calls). Imported: each batch is one stepped job
    (import_batch(conn, principal=, items=, now_us=)), its items made ready for the write
    first by stage(items, now) where given (on the event loop: the batch before is written
    meanwhile). prefix_write_errors: name the bad
    fields the write itself finds under the record's prefix too (accounts do; sites answer
    them as the write names them)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        reference: Reference,
        catalogue: Catalogue,
        validate: Validate[R],
        calls: Calls[R],
        import_batch: ImportBatch | None = None,
        stage: Callable[[list[tuple[int, R]], int], Any] | None = None,
        prefix_write_errors: bool = False,
    ) -> None:
        self.db, self.clock, self.reference, self.catalogue = db, clock, reference, catalogue
        self._validate, self._calls, self._import_batch = validate, calls, import_batch
        self._stage = stage
        self._prefix_write_errors = prefix_write_errors

    async def record(self, record: R, credentials: Metadata, prefix: str) -> Any:
        """One record (its fields named under prefix): its call's answer."""
        principal = require_writer_for(record.department)
        now = self.clock.now_us()
        known = await self.catalogue.resolve([record.campaign_id], credentials)
        v = Violations()
        record = self._validate(record, now, v, known, self.reference, prefix)
        v.raise_if_any()
        try:
            return await self.db.write_batched(self._calls, (principal, record, now), principal)
        except InvalidArgument as e:
            if not self._prefix_write_errors:
                raise
            raise InvalidArgument(
                [FieldViolation(f"{prefix}{f.field}", f.description) for f in e.violations],
                reason=e.reason,
            ) from None

    def intake(self, credentials: Metadata) -> Intake[R]:
        """An import by the caller: each record in the caller's department (another is a
        rejected record, not a refused call), valid against its campaign."""
        principal = require_role(*WRITERS)
        assert self._import_batch is not None
        import_batch = self._import_batch

        def prepare(record: R, now: int, v: Violations, known: Mapping[str, Campaign | None]) -> R:
            check_record_department(principal, record.department, v)
            return self._validate(record, now, v, known, self.reference, "")

        return Intake(
            campaigns=lambda records: self.catalogue.resolve(
                (r.campaign_id for r in records), credentials
            ),
            prepare=prepare,
            stage=self._stage or (lambda items, now: items),
            write=lambda staged, now: self.db.write_in_steps(
                partial(import_batch, principal=principal, items=staged, now_us=now)
            ),
        )
