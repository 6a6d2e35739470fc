"""The RPCs every service has in the same shape: stats, change feed, audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf.message import Message

from netnet.common.v1 import common_pb2
from services.common import audit, changes, convert, idempotency, names, paging, rollups
from services.common.auth import require_role
from services.common.context import Principal, current_principal
from services.common.errors import FieldViolation, InvalidArgument, NotFound, Violations
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


def batch_ids(requested: Sequence[str], collection: str) -> list[int]:
    """The ids of a batch get's names (at most a page of them)."""
    if len(requested) > paging.MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("names", f"at most {paging.MAX_PAGE_SIZE}")])
    return [names.parse(n, f"names[{i}]", collection)[0] for i, n in enumerate(requested)]


def found_and_missing(
    requested: Sequence[str], ids: list[int], found: Mapping[int, R]
) -> tuple[list[R], list[str]]:
    """A batch get's answer in the order asked, and the names that did not resolve."""
    return (
        [found[i] for i in ids if i in found],
        [n for n, i in zip(requested, ids, strict=True) if i not in found],
    )


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


async def once(
    runtime: Runtime,
    request: Message,
    method: str,
    request_id: str,
    work: Callable[[Conn], Message],
    guard: Callable[[Conn], object] | None = None,
) -> bytes:
    """Run a mutation once per request id, in the writer's transaction; the serialized
    response is stored with the change and returned again for a repeat. guard, if given,
    runs first, repeat or not (a check no stored answer may skip)."""
    if not 0 < len(request_id) <= 128:
        raise InvalidArgument([FieldViolation("request_id", "required, at most 128 characters")])
    # The caller is part of the request: another department repeating someone else's request
    # id must not get that answer back (it may hold what only the first caller may see).
    # A regional office is another caller than the same operator name elsewhere (national
    # callers keep the form stored before regions counted, so their retries still match).
    caller = current_principal()
    region = f"{caller.region}\x1f" if caller.region else ""
    body = idempotency.fingerprint(
        f"{caller.department}\x1f{caller.operator}\x1f{region}".encode()
        + request.SerializeToString(deterministic=True)
    )
    now = runtime.clock.now_us()

    def job(c: Conn) -> bytes:
        if guard is not None:
            guard(c)
        return idempotency.run_once(
            c, request_id, method, body, now, lambda: work(c).SerializeToString()
        )

    return await runtime.db.write(job)


async def child_page(
    rt: Runtime,
    request: Any,
    collection: str,
    exists: Callable[[Conn, int], bool],
    children: Callable[[Conn, int, int, int, bool], list[R]],
) -> tuple[list[R], str]:
    """A page of a parent's children, oldest or newest first (request: parent, page_size,
    page_token, newest_first): children(conn, parent id, after id, limit, newest_first) in
    one snapshot; NOT_FOUND when exists(conn, parent id) says the parent is not there."""
    (parent_id,) = names.parse(request.parent, "parent", collection)
    size = paging.page_size(request.page_size)
    bound = [request.parent, request.newest_first]
    after = paging.decode(request.page_token, bound) or 0

    def read(c: Conn) -> list[R] | None:
        if not exists(c, parent_id):
            return None
        return children(c, parent_id, after, size + 1, request.newest_first)

    rows = await rt.db.read(read)
    if rows is None:
        raise NotFound(f"{request.parent} not found")
    return paging.cut(rows, size, bound)


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
