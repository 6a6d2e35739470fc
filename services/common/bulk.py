"""Recording many records at once: per-record request ids, outcomes, and the import stream."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from netnet.common.v1 import common_pb2
from services.common import db, metrics
from services.common.campaigns import Campaign
from services.common.clock import Clock
from services.common.context import Principal
from services.common.db import hash64
from services.common.errors import DomainError, FieldViolation, InvalidArgument, Violations

MAX_BATCH = 5000
MAX_REJECTIONS = 100
# Records an import prepares, or writes, between two turns of the event loop: calls that come
# in meanwhile (a status query, say) wait for one step, not for a whole batch.
STEP = 50
In = TypeVar("In")
T = TypeVar("T")
Msg = TypeVar("Msg")


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


def run_through(steps: Generator[None, None, T]) -> T:
    """The result of a stepped job (see Database.write_in_steps), run without pauses."""
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]


def answers(result: BatchResult) -> list[tuple[bool, Outcome | DomainError]]:
    """Each record's outcome, or the error it was refused with (a unary call raises it)."""
    return [(False, o.error) if o.error else (True, o) for o in result.outcomes]


def unary_calls(
    record: Callable[[sqlite3.Connection, Principal, list[tuple[int, In]], int], BatchResult],
) -> Callable[[sqlite3.Connection, list[tuple[Principal, In, int]]], list[tuple[bool, Any]]]:
    """The batch form (for Database.write_batched) of unary record calls of one principal
    (the batch key): items (principal, input, now). record(conn, principal, items, now) must
    report a refused record in its outcome (not raise) and audit each record as a call."""

    def run(
        conn: sqlite3.Connection, items: list[tuple[Principal, In, int]]
    ) -> list[tuple[bool, Any]]:
        inputs = [(i, item) for i, (_, item, _) in enumerate(items)]
        return answers(record(conn, items[0][0], inputs, max(now for *_, now in items)))

    return run


class Reject(Exception):
    """One record refused: raised as its error in a unary call, reported in a bulk one."""

    def __init__(self, error: DomainError, field: str) -> None:
        super().__init__(error.message)
        self.error, self.field = error, field


class RequestKeys:
    """Request ids of a table's records, looked up once per batch and tracked within it."""

    def __init__(self, conn: sqlite3.Connection, table: str, request_ids: list[str]) -> None:
        self.known: dict[int, tuple[str, int, int]] = {}
        self.keys = {r: hash64(r) for r in request_ids}  # each id hashed once
        for key, rid, body, rec in db.rows_in(
            conn,
            f"SELECT request_key, request_id, body_hash, id FROM {table} "
            "WHERE request_key IN ({ids})",
            self.keys.values(),
        ):
            self.known[key] = (rid, body, rec)

    def key(self, request_id: str) -> int:
        """The request id's 64-bit key."""
        key = self.keys.get(request_id)
        return hash64(request_id) if key is None else key

    def prior(
        self, request_id: str, body_hash: int, earlier: Callable[[], int] | None = None
    ) -> int | None:
        """The id recorded under this request id, or None; another body is refused. earlier:
        the body's hash as an earlier release computed it, also accepted."""
        found = self.known.get(self.key(request_id))
        if found is None:
            return None
        if found[0] != request_id or (
            found[1] != body_hash and (earlier is None or found[1] != earlier())
        ):
            raise Reject(
                InvalidArgument(
                    [FieldViolation("request_id", "already used for a different record")],
                    reason="REQUEST_ID_REUSED",
                ),
                "request_id",
            )
        return found[2]

    def add(self, request_id: str, body_hash: int, record_id: int) -> None:
        self.known[self.key(request_id)] = (request_id, body_hash, record_id)


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """The next free id of a table (the single writer hands ids out)."""
    return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])


def take_ids(conn: sqlite3.Connection, table: str) -> int:
    """next_id, looked up once per group commit: a job that takes ids this way gives back the
    next one still free with ids_taken, for the later jobs of the group. Every job that
    inserts into the table must hand out its ids this way."""
    return db.group_value(conn, f"next_id:{table}", partial(next_id, table=table))


def ids_taken(conn: sqlite3.Connection, table: str, next_free: int) -> None:
    db.keep_value(conn, f"next_id:{table}", next_free, None)


@dataclass
class Importer(Generic[Msg, In]):
    """Drives a client-streaming import: per batch, learn the campaigns its records name
    (one look-up per batch, not per record), prepare each record (convert, authorize,
    validate against its campaign), write the valid ones in one transaction, and sum up the
    outcomes."""

    service: str
    clock: Clock
    field: str  # the request message's repeated field of records
    prepare: Callable[[object, int, Violations, Mapping[str, Campaign | None]], In]
    write: Callable[[list[tuple[int, In]], int], Awaitable[BatchResult]]
    on_result: Callable[[BatchResult], None] | None = None
    campaigns: Callable[[Sequence[object]], Awaitable[Mapping[str, Campaign | None]]] | None = None

    async def run(self, batches: AsyncIterator[Msg]) -> common_pb2.ImportSummary:
        """Batch k is written (a stepped job) while batch k+1 is read and checked, one batch
        in flight, so memory stays bounded."""
        summary = common_pb2.ImportSummary()
        index = 0
        in_flight: tuple[asyncio.Future[BatchResult] | None, list[Outcome]] | None = None
        try:
            async for batch in batches:
                now = self.clock.now_us()
                valid, refused, index = await self._prepare(batch, index, now)
                if in_flight is not None:
                    self._tally(summary, *await self._settle(in_flight))
                write = asyncio.ensure_future(self.write(valid, now)) if valid else None
                in_flight = (write, refused)
            if in_flight is not None:
                self._tally(summary, *await self._settle(in_flight))
                in_flight = None
        finally:
            if in_flight is not None:  # the stream broke off
                with contextlib.suppress(Exception):
                    # Its batch commits or fails whole; nobody is told, the metrics are.
                    result, refused = await self._settle(in_flight)
                    self._count([*result.outcomes, *refused])
        return summary

    async def _prepare(
        self, batch: Msg, index: int, now: int
    ) -> tuple[list[tuple[int, In]], list[Outcome], int]:
        records: Sequence[object] = getattr(batch, self.field)
        if len(records) > MAX_BATCH:
            raise InvalidArgument([FieldViolation(self.field, f"at most {MAX_BATCH} a batch")])
        known = await self.campaigns(records) if self.campaigns is not None else {}
        valid: list[tuple[int, In]] = []
        refused: list[Outcome] = []  # failed validation: never reach the write
        for record in records:
            v = Violations()
            try:
                item = self.prepare(record, now, v, known)
            except InvalidArgument as e:  # a field it could not even read: its record only
                v.items.extend(e.violations)
            if v.items:
                refused.append(
                    Outcome(
                        index,
                        getattr(record, "request_id", ""),
                        field=v.items[0].field,
                        reason=v.items[0].description,
                    )
                )
            else:
                valid.append((index, item))
            index += 1
            if index % STEP == 0:
                await asyncio.sleep(0)  # other calls go on (see STEP)
        return valid, refused, index

    @staticmethod
    async def _settle(
        in_flight: tuple[asyncio.Future[BatchResult] | None, list[Outcome]],
    ) -> tuple[BatchResult, list[Outcome]]:
        write, refused = in_flight
        return (await write if write is not None else BatchResult()), refused

    def _tally(
        self, summary: common_pb2.ImportSummary, result: BatchResult, refused: list[Outcome]
    ) -> None:
        # Every item's outcome, in stream order (rejections are noted in that order).
        result.outcomes = sorted([*refused, *result.outcomes], key=lambda o: o.index)
        for kind, n in self._count(result.outcomes).items():
            setattr(summary, kind, getattr(summary, kind) + n)
        for o in result.outcomes:
            if o.rejected:
                _note(summary, o.index, o.request_id, o.field, o.reason)
        if self.on_result is not None:
            self.on_result(result)
        summary.batches += 1

    def _count(self, outcomes: list[Outcome]) -> dict[str, int]:
        """A written batch's records by outcome (the summary's fields), counted in the metrics
        as each batch lands: an import's progress shows while it runs, and a stream that
        breaks off still counts what it wrote."""
        counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
        for o in outcomes:
            kind = "rejected" if o.rejected else "duplicates" if o.duplicate else "accepted"
            counts[kind] += 1
        for kind, n in counts.items():
            metrics.IMPORTED.labels(self.service, kind).inc(n)
        return counts


def _note(
    summary: common_pb2.ImportSummary, index: int, request_id: str, field: str, reason: str
) -> None:
    if len(summary.rejections) < MAX_REJECTIONS:
        summary.rejections.add(index=index, request_id=request_id, field=field, reason=reason)
