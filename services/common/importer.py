"""The client-streaming import: batches of records in, one ImportSummary out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from netnet.common.v1 import common_pb2
from services.common import metrics
from services.common.clock import Clock
from services.common.errors import FieldViolation, InvalidArgument, Violations
from services.common.recording import BatchResult, Intake, Outcome
from services.common.storage.writer import STEP

MAX_BATCH = 5000
MAX_REJECTIONS = 100
In = TypeVar("In")
Msg = TypeVar("Msg")


@dataclass
class Importer(Generic[Msg, In]):
    """Drives a client-streaming import at the protobuf edge: per batch, read each record
    into the use case's input (read), then what the use case's intake says (learn the
    campaigns the records name, one look-up per batch, not per record; check each input;
    write the valid ones in one transaction), and sum up the outcomes."""

    service: str
    clock: Clock
    field: str  # the request message's repeated field of records
    read: Callable[[Any], In]  # a record message -> the use case's input
    intake: Intake[In]
    on_result: Callable[[BatchResult], None] | None = None

    async def run(self, batches: AsyncIterator[Msg]) -> common_pb2.ImportSummary:
        """Batch k is written (a stepped job) while batch k+1 is read, checked and made
        ready for the write, one batch in flight, so memory stays bounded."""
        summary = common_pb2.ImportSummary()
        index = 0
        in_flight: tuple[asyncio.Future[BatchResult] | None, list[Outcome]] | None = None
        try:
            async for batch in batches:
                now = self.clock.now_us()
                valid, refused, index = await self._prepare(batch, index, now)
                staged = self.intake.stage(valid, now) if valid else None
                if in_flight is not None:
                    self._tally(summary, *await self._settle(in_flight))
                write = asyncio.ensure_future(self.intake.write(staged, now)) if valid else None
                in_flight = (write, refused)
            if in_flight is not None:
                self._tally(summary, *await self._settle(in_flight))
                in_flight = None
        finally:
            if in_flight is not None:  # the stream broke off
                with contextlib.suppress(Exception):
                    # Its batch commits or fails whole; nobody is told, the metrics are.
                    result, refused = await self._settle(in_flight)
                    self._count([*result.outcomes, *refused], result.accepted)
        return summary

    async def _prepare(
        self, batch: Msg, index: int, now: int
    ) -> tuple[list[tuple[int, In]], list[Outcome], int]:
        records: Sequence[object] = getattr(batch, self.field)
        if len(records) > MAX_BATCH:
            raise InvalidArgument([FieldViolation(self.field, f"at most {MAX_BATCH} a batch")])
        known = await self.intake.campaigns(records)
        valid: list[tuple[int, In]] = []
        refused: list[Outcome] = []  # failed validation: never reach the write
        for record in records:
            v = Violations()
            try:
                item = self.intake.prepare(self.read(record), now, v, known)
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
        for kind, n in self._count(result.outcomes, result.accepted).items():
            setattr(summary, kind, getattr(summary, kind) + n)
        for o in result.outcomes:
            if o.rejected:
                _note(summary, o.index, o.request_id, o.field, o.reason)
        if self.on_result is not None:
            self.on_result(result)
        summary.batches += 1

    def _count(self, outcomes: list[Outcome], accepted: int) -> dict[str, int]:
        """A written batch's records by outcome (the summary's fields; accepted: those
        accepted without an outcome of their own), counted in the metrics as each batch
        lands: an import's progress shows while it runs, and a stream that breaks off still
        counts what it wrote."""
        counts = {"accepted": accepted, "duplicates": 0, "rejected": 0}
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
