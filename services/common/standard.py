"""The RPCs every service has in the same shape: stats, change feed, audit log."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf.message import Message

from netnet.common.v1 import common_pb2
from services.common import audit, changes, convert, idempotency, paging, rollups
from services.common.auth import require_role
from services.common.context import Principal, current_principal
from services.common.errors import FieldViolation, InvalidArgument, Violations
from services.common.reference import Reference
from services.common.server import Runtime
from services.common.storage import Conn

R = TypeVar("R")
log = structlog.get_logger()


# A GetStats subject -> (rollup, counts distinct subjects), or (rollup, distinct, a rollup
# of a part of its subjects whose counters are taken away: what is left counts the others).
Subjects = Mapping[int, tuple[str, bool] | tuple[str, bool, str]]
Planned = tuple[str, bool, str, rollups.StatsQuery]
StatsAnswer = tuple[list[common_pb2.StatsRow], common_pb2.StatsRow]
MAX_BATCH_STATS = 100


def _stats_query(
    subjects: Subjects, request: Any, v: Violations, ref: Reference, prefix: str = ""
) -> Planned:
    """The rollup a GetStats request reads (its subject picks it), the rollup taken away
    from it (or ""), and the query, its bad fields noted under prefix."""
    subject = getattr(request, "subject", 0)
    v.check(subject in subjects, f"{prefix}subject", "required")
    rollup, distinct, *minus = subjects.get(subject, ("", False))
    q = convert.stats_query(request.filter, list(request.group_by), v, ref, prefix)
    return rollup, distinct, minus[0] if minus else "", q


def _answer(result: rollups.StatsResult) -> StatsAnswer:
    return [convert.stats_row(r) for r in result.rows], convert.stats_row(result.total)


async def stats_of(runtime: Runtime, subjects: Subjects, request: Any) -> StatsAnswer:
    """GetStats: counted rows from the rollups, never a scan of the records."""
    v = Violations()
    rollup, distinct, minus, q = _stats_query(subjects, request, v, runtime.settings.reference)
    v.raise_if_any()
    return _answer(await runtime.db.read(lambda c: rollups.query(c, rollup, q, distinct, minus)))


async def batch_stats(
    runtime: Runtime, subjects: Subjects, requests: Sequence[Any]
) -> list[StatsAnswer]:
    """BatchGetStats: every query answered from one snapshot, in one read."""
    v = Violations()
    v.check(len(requests) <= MAX_BATCH_STATS, "requests", f"at most {MAX_BATCH_STATS}")
    ref = runtime.settings.reference
    queries = [_stats_query(subjects, r, v, ref, f"requests[{i}].") for i, r in enumerate(requests)]
    v.raise_if_any()

    def read(c: Conn) -> list[rollups.StatsResult]:
        return [
            rollups.query(c, rollup, q, distinct, minus) for rollup, distinct, minus, q in queries
        ]

    return [_answer(result) for result in await runtime.db.read(read)]


# Kept here too for the servicers that call them from this module.
batch_ids, found_and_missing = paging.batch_ids, paging.found_and_missing


async def watch(
    runtime: Runtime,
    context: grpc.aio.ServicerContext,
    after_seq: int,
    from_end: bool = False,
    view: changes.View | None = None,
) -> AsyncIterator[common_pb2.ChangeEvent]:
    """The change log from a position, as view lets the caller read it; initial metadata
    goes out at once, so a watcher knows it is connected before the first change."""
    if after_seq < 0:
        raise InvalidArgument([FieldViolation("after_seq", "must not be negative")])
    if from_end:
        after_seq = await runtime.db.read(changes.last_seq)
    await context.send_initial_metadata(())
    async for change in runtime.feed.watch(after_seq, view):
        yield convert.change_event(change)


async def audit_page(
    runtime: Runtime, size: int, token: str
) -> tuple[list[common_pb2.AuditEntry], str]:
    require_role("auditor")
    limit = paging.page_size(size)
    after = paging.decode(token, "audit") or 0
    entries = await runtime.db.read(lambda c: audit.page(c, after, limit + 1))
    page, token = paging.cut(entries, limit, "audit", key=lambda e: e.seq)
    return [convert.audit_entry(e) for e in page], token


MAX_CHECKPOINTS = 10_000


async def verify_audit(
    runtime: Runtime, sent: Sequence[common_pb2.AuditCheckpoint] = ()
) -> common_pb2.AuditVerification:
    """The chain checked with the key, against the checkpoints in the service's own file and
    those sent (other services' skipped)."""
    require_role("auditor")
    if len(sent) > MAX_CHECKPOINTS:
        raise InvalidArgument([FieldViolation("checkpoints", f"at most {MAX_CHECKPOINTS:,}")])
    s = runtime.settings
    path = audit.checkpoint_file(s.audit_checkpoint_dir, s.service)
    kept, bad_lines = await asyncio.to_thread(audit.load_checkpoints, path, s.service)
    if bad_lines:  # e.g. a line cut short by a crash: the others still count
        log.warning("audit checkpoint lines unreadable", file=str(path), lines=bad_lines[:10])
    given = [convert.checkpoint(c) for c in sent if c.service == s.service]
    checkpoints = [*kept, *given]
    return convert.verification(
        await runtime.db.read(lambda c: audit.verify(c, runtime.audit_key, checkpoints))
    )


Handler = Callable[[Any, Any, grpc.aio.ServicerContext, idempotency.Once], Awaitable[Any]]


def idempotent(
    answer: Callable[[Any], Message],
) -> Callable[[Handler], Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Message]]]:
    """A mutation RPC run once per request id. The decorated handler(self, request, context,
    once) hands `once` to its use case, which runs once.job in the writer's transaction:
    answer(the use case's result) is the response, its bytes stored with the change; a
    repeat gets the stored bytes, parsed as the servicer's `messages` module's
    `<method>Response`. The method is the handler's name."""

    def decorate(
        handler: Handler,
    ) -> Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Message]]:
        method = handler.__name__

        @functools.wraps(handler)
        async def run(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Message:
            once = idempotency.Once(method, request.request_id, _fingerprint(request), answer)
            response = await handler(self, request, context, once)
            if isinstance(response, bytes):  # a repeat: the first call's answer
                response = getattr(self.messages, f"{method}Response").FromString(response)
            return response  # type: ignore[no-any-return]

        return run

    return decorate


def _fingerprint(request: Message) -> bytes:
    return idempotency.caller_fingerprint(request.SerializeToString(deterministic=True))


class StandardRpcs:
    """GetStats, BatchGetStats, WatchChanges, ListAuditEntries and VerifyAuditChain, the same
    in every service. A servicer lists this class first, names its generated messages module
    in `messages` and what GetStats counts in `stats`."""

    messages: Any
    stats: Subjects
    rt: Runtime

    def feed_view(self, principal: Principal) -> changes.View | None:
        """What the caller may read of the change feed (None: all of it, as in a service whose
        records every caller reads)."""
        return None

    async def GetStats(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        rows, total = await stats_of(self.rt, self.stats, request)
        return self.messages.GetStatsResponse(rows=rows, total=total)

    async def BatchGetStats(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        answers = await batch_stats(self.rt, self.stats, request.requests)
        return self.messages.BatchGetStatsResponse(
            responses=[self.messages.GetStatsResponse(rows=r, total=t) for r, t in answers]
        )

    async def WatchChanges(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        view = self.feed_view(current_principal())
        async for event in watch(self.rt, context, request.after_seq, request.from_end, view):
            yield self.messages.WatchChangesResponse(event=event)

    async def ListAuditEntries(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        entries, token = await audit_page(self.rt, request.page_size, request.page_token)
        return self.messages.ListAuditEntriesResponse(entries=entries, next_page_token=token)

    async def VerifyAuditChain(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        verification = await verify_audit(self.rt, request.checkpoints)
        return self.messages.VerifyAuditChainResponse(verification=verification)
