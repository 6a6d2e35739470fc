"""Sites use cases, each one transaction on the writer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator
from dataclasses import replace

from services.common import audit, changes, rollups
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import (
    EtagMismatch,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Reject,
)
from services.common.recording import BatchResult, Outcome
from services.common.storage import Conn
from services.common.storage.keys import RequestKeys, next_id
from services.common.storage.writer import STEP, run_through
from services.sites import store
from services.sites.domain import (
    APP_ROLLUP,
    BAN_CLOSE_ACTIONS,
    BAN_CLOSE_NAMES,
    BAN_CLOSE_ROLLUP,
    BATCH_PUBLISHED,
    BATCH_ROLLUP,
    CONTENT_ROLLUP,
    SITE_ROLLUP,
    Action,
    ActionInput,
    Batch,
    BatchState,
    DispositionInput,
    DispositionRow,
    Kind,
    Site,
    SiteActionRow,
    SiteRef,
    fold,
    next_state,
    set_state,
    state_of,
)

DRAFT, PUBLISHED = int(BatchState.DRAFT), int(BatchState.PUBLISHED)
SYSTEM = Principal(operator="system", department="office", region="", roles=frozenset())
SWEEP_LIMIT = 1000


def action_name(site_id: int, action_id: int) -> str:
    return f"sites/{site_id}/actions/{action_id}"


def disposition_name(site_id: int, disposition_id: int) -> str:
    return f"sites/{site_id}/dispositions/{disposition_id}"


def batch_name(batch_id: int) -> str:
    return f"noticeBatches/{batch_id}"


def record_actions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, ActionInput]],
    now_us: int,
    strict: bool,
    batch: Batch | None = None,
    calls: bool = False,
) -> BatchResult:
    """Record validated site actions. strict: a refused one raises (and, in a transaction job,
    undoes the whole job); otherwise it is reported and the others go on. calls: the items
    are unary calls (recording.unary_calls), each audited as one."""
    result = BatchResult()
    keys = RequestKeys(conn, "site_actions", [a.request_id for _, a in items])
    book = store.SiteBook(conn, refs=[a.site for _, a in items])
    next_action = next_id(conn, "site_actions")
    in_batch: dict[int, list[SiteActionRow]] = defaultdict(list)
    rows: list[tuple[int, SiteActionRow]] = []
    deltas: list[tuple[int | None, rollups.Key, str, int]] = []
    for index, a in items:
        outcome = Outcome(index, a.request_id)
        result.outcomes.append(outcome)
        body = a.body_hash()
        try:
            prior = keys.prior(a.request_id, body)
            if prior is not None:
                outcome.record_id, outcome.duplicate = prior, True
                continue
            site = book.site(a.site)
            row = SiteActionRow(
                next_action,
                site.id,
                a.request_id,
                a.action,
                a.category,
                a.department,
                a.region,
                a.campaign_id,
                a.special_action,
                a.case,
                principal.operator,
                now_us if a.effective_us is None else a.effective_us,
                a.due_us,
                a.problems,
                batch.id if batch else 0,
                now_us,
            )
            try:
                _advance(conn, site, row, in_batch[site.id], site.revision == 0, now_us)
            except FailedPrecondition as e:
                raise Reject(e, "action") from None
        except Reject as r:
            if strict:
                raise r.error from None
            outcome.refuse(r)
            continue
        book.describe(site, a.site)
        book.touch(site)
        if calls:
            outcome.after = replace(site)
        next_action += 1
        in_batch[site.id].append(row)
        keys.add(a.request_id, body, row.id)
        rows.append((body, row))
        deltas.append((site.id, row.rollup_key(), day_of(row.effective_us), 1))
        outcome.record_id = row.id
    new = book.save()
    store.insert_actions(conn, rows)
    _count(conn, book, deltas, new)
    if (strict and batch is None) or calls:
        for _, row in rows:
            name = action_name(row.site_id, row.id)
            changes.append(conn, changes.CREATED, name, row.department, row.campaign_id, now_us)
            audit.append(
                conn,
                principal,
                "RecordSiteAction",
                name,
                row.request_id,
                "recorded",
                now_us,
                [store.AUDITED_ACTIONS.rows([row.id])],
            )
    return result


def _count(
    conn: Conn,
    book: store.SiteBook,
    deltas: list[tuple[int | None, rollups.Key, str, int]],
    new: set[int],
) -> None:
    """Site-action counters, and the same for apps alone and for bans and closures alone."""
    rollups.apply(conn, SITE_ROLLUP, deltas, new)
    apps = [d for d in deltas if d[0] is not None and book.by_id[d[0]].kind == Kind.APP]
    if apps:
        rollups.apply(conn, APP_ROLLUP, apps, new)
    shut = [d for d in deltas if d[1][1] in BAN_CLOSE_NAMES]
    if shut:
        rollups.apply(conn, BAN_CLOSE_ROLLUP, shut, new)


def ban_close_deltas(conn: Conn) -> Iterator[rollups.Delta]:
    """The bans-and-closures rollup's deltas, from the live ban and close actions."""
    for row in store.live_actions(conn, [int(a) for a in BAN_CLOSE_ACTIONS]):
        yield (row.site_id, row.rollup_key(), day_of(row.effective_us), 1)


def _advance(
    conn: Conn,
    site: Site,
    row: SiteActionRow,
    earlier_in_batch: list[SiteActionRow],
    is_new: bool,
    now_us: int,
) -> None:
    """Move a site on by one action (refolding its history when it arrives out of order)."""
    if site.last_action_us is None or row.effective_us >= site.last_action_us:
        set_state(site, next_state(state_of(site, now_us), row.action, row.id, row.due_us))
        site.action_count += 1
        site.first_action_us = site.first_action_us or row.effective_us
        site.last_action_us = row.effective_us
        return
    history = [] if is_new else store.actions_of(conn, site.id)
    fold(site, [*history, *earlier_in_batch, row], now_us)


def retract_action(
    conn: Conn,
    principal: Principal,
    site_id: int,
    action_id: int,
    reason: str,
    request_id: str,
    now_us: int,
) -> tuple[SiteActionRow, Site]:
    row = store.get_action(conn, action_id)
    if row is None or row.site_id != site_id:
        raise NotFound(f"{action_name(site_id, action_id)} not found")
    if row.department != principal.department:
        raise PermissionDenied(
            f"the action was recorded by {row.department!r}", reason="WRONG_DEPARTMENT"
        )
    if row.retracted_us is not None:
        raise FailedPrecondition("the action is already retracted", reason="ALREADY_RETRACTED")
    book = store.SiteBook(conn, ids=[site_id])
    site = book.by_id[site_id]
    history = store.actions_of(conn, site_id)
    for h in history:
        if h.id == row.id:
            h.retracted_us = now_us
    try:
        fold(site, history, now_us)
    except FailedPrecondition as e:
        raise FailedPrecondition(
            f"retracting it would leave a later action invalid ({e}): retract that one first",
            reason="LATER_ACTION_DEPENDS",
        ) from None
    book.touch(site)
    row.retracted_us, row.retract_reason, row.retracted_by = now_us, reason, principal.operator
    store.retract_action(conn, row.id, now_us, reason, principal.operator)
    book.save()
    _count(conn, book, [(site.id, row.rollup_key(), day_of(row.effective_us), -1)], set())
    name = action_name(site_id, action_id)
    changes.append(conn, changes.RETRACTED, name, row.department, row.campaign_id, now_us)
    audit.append(
        conn,
        principal,
        "RetractSiteAction",
        name,
        request_id,
        "retracted",
        now_us,
        [store.AUDITED_RETRACTIONS.rows([row.id])],
    )
    return row, site


def sweep_overdue(conn: Conn, now_us: int) -> int:
    """Mark notified sites whose notice is past due as overdue; returns how many."""
    due = store.due_notices(conn, now_us, SWEEP_LIMIT)
    if not due:
        return 0
    book = store.SiteBook(conn, ids=[s.id for s in due])
    for site in book.by_id.values():
        set_state(site, state_of(site, now_us))
        book.touch(site)
        notice = store.get_action(conn, site.notice_action_id or 0)
        changes.append(
            conn,
            changes.UPDATED,
            f"sites/{site.id}",
            notice.department if notice else "",
            notice.campaign_id if notice else "",
            now_us,
        )
    book.save()
    audit.append(conn, SYSTEM, "OverdueSweep", "sites", "", f"overdue={len(due)}", now_us)
    return len(due)


def _own_batch(conn: Conn, principal: Principal, batch_id: int, etag: str = "") -> Batch:
    batch = store.get_batch(conn, batch_id)
    if batch is None:
        raise NotFound(f"{batch_name(batch_id)} not found")
    if batch.department != principal.department:
        raise PermissionDenied(
            f"the batch belongs to {batch.department!r}", reason="WRONG_DEPARTMENT"
        )
    if etag and etag != str(batch.revision):
        raise EtagMismatch("the batch changed since it was read")
    if batch.state != DRAFT:
        raise FailedPrecondition("the batch is already published", reason="BATCH_PUBLISHED")
    return batch


def create_batch(
    conn: Conn,
    principal: Principal,
    title: str,
    category: str,
    campaign_id: str,
    special_action: str,
    due_us: int,
    request_id: str,
    now_us: int,
) -> Batch:
    batch = Batch(
        next_id(conn, "notice_batches"),
        title,
        principal.department,
        category,
        campaign_id,
        special_action,
        due_us,
        DRAFT,
        0,
        now_us,
        None,
        1,
    )
    store.insert_batch(conn, batch)
    name = batch_name(batch.id)
    changes.append(conn, changes.CREATED, name, batch.department, campaign_id, now_us)
    audit.append(conn, principal, "CreateNoticeBatch", name, request_id, "created", now_us)
    return batch


def add_entries(
    conn: Conn,
    principal: Principal,
    batch_id: int,
    entries: list[tuple[SiteRef, tuple[str, ...]]],
    request_id: str,
    now_us: int,
) -> Batch:
    batch = _own_batch(conn, principal, batch_id)
    store.add_entries(conn, batch.id, batch.entry_count, entries)
    batch.entry_count += len(entries)
    batch.revision += 1
    store.update_batch(conn, batch)
    name = batch_name(batch.id)
    changes.append(conn, changes.UPDATED, name, batch.department, batch.campaign_id, now_us)
    audit.append(
        conn, principal, "AddNoticeEntries", name, request_id, f"entries+{len(entries)}", now_us
    )
    return batch


def publish_batch(
    conn: Conn,
    principal: Principal,
    batch_id: int,
    etag: str,
    request_id: str,
    now_us: int,
    publish_us: int,
) -> Batch:
    """Every entry's notice in this transaction, or none (any refusal raises); the notices
    and the batch's figures are dated by its publish time."""
    batch = _own_batch(conn, principal, batch_id, etag)
    entries = store.entries_of(conn, batch.id)
    if not entries:
        raise FailedPrecondition("the batch has no entries", reason="EMPTY_BATCH")
    if batch.due_us <= publish_us:
        raise FailedPrecondition(
            "the batch's due time is not after its publish time", reason="DUE_TIME_PASSED"
        )
    name = batch_name(batch.id)
    items = [
        (
            i,
            ActionInput(
                f"{name}/entries/{i}",
                ref,
                Action.NOTIFY_RECTIFICATION,
                batch.category,
                batch.department,
                "",
                batch.campaign_id,
                batch.special_action,
                "",
                publish_us,
                batch.due_us,
                problems,
                batch.id,
            ),
        )
        for i, (ref, problems) in enumerate(entries)
    ]
    try:
        notified = record_actions(conn, principal, items, now_us, strict=True, batch=batch)
    except FailedPrecondition as e:
        raise FailedPrecondition(
            f"entry refused, nothing published: {e}", reason="ENTRY_REFUSED"
        ) from None
    batch.state, batch.publish_us, batch.revision = PUBLISHED, publish_us, batch.revision + 1
    store.update_batch(conn, batch)
    rollups.apply(
        conn,
        BATCH_ROLLUP,
        [
            (
                None,
                (
                    batch.department,
                    BATCH_PUBLISHED,
                    batch.category,
                    batch.campaign_id,
                    batch.special_action,
                ),
                day_of(publish_us),
                1,
            )
        ],
    )
    changes.append(
        conn, changes.UPDATED, name, batch.department, batch.campaign_id, now_us, len(entries)
    )
    audit.append(
        conn,
        principal,
        "PublishNoticeBatch",
        name,
        request_id,
        f"published entries={len(entries)}",
        now_us,
        [store.AUDITED_ACTIONS.rows(o.record_id for o in notified.outcomes if not o.duplicate)],
    )
    return batch


def record_dispositions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, DispositionInput]],
    now_us: int,
) -> BatchResult:
    """Unary RecordDisposition calls (recording.unary_calls), each audited as one."""
    return run_through(_dispositions(conn, principal, items, now_us, calls=True))


def import_dispositions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, DispositionInput]],
    now_us: int,
) -> Generator[None, None, BatchResult]:
    """An import batch, in steps (Database.write_in_steps), audited once with its counts."""
    return (yield from _dispositions(conn, principal, items, now_us, calls=False))


def _dispositions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, DispositionInput]],
    now_us: int,
    calls: bool,
) -> Generator[None, None, BatchResult]:
    """Record validated dispositions: a refused one is reported and the others go on. calls:
    the items are unary calls, each audited as one; otherwise the batch is an import batch.
    Pauses every STEP records (a stepped job)."""
    result = BatchResult()
    keys = RequestKeys(conn, "dispositions", [d.request_id for _, d in items])
    book = store.SiteBook(conn, refs=[d.site for _, d in items])
    next_row = next_id(conn, "dispositions")
    rows: list[tuple[int, DispositionRow]] = []
    deltas: list[tuple[int | None, rollups.Key, str, int]] = []
    for n, (index, d) in enumerate(items, 1):
        if n % STEP == 0:
            yield  # a pause: the event loop may serve other calls (see STEP)
        outcome = Outcome(index, d.request_id)
        result.outcomes.append(outcome)
        body = d.body_hash()
        try:
            prior = keys.prior(d.request_id, body)
        except Reject as r:
            outcome.refuse(r)
            continue
        if prior is not None:
            outcome.record_id, outcome.duplicate = prior, True
            continue
        site = book.site(d.site)
        book.describe(site, d.site)
        book.keep(site)
        effective = now_us if d.effective_us is None else d.effective_us
        row = DispositionRow(
            next_row,
            site.id,
            d.request_id,
            d.locator,
            d.content_sha256,
            d.perceptual_hash,
            d.category,
            d.measure,
            d.handler,
            d.department,
            d.campaign_id,
            d.special_action,
            principal.operator,
            effective,
            now_us,
        )
        next_row += 1
        keys.add(d.request_id, body, row.id)
        rows.append((body, row))
        deltas.append(
            (
                None,
                (d.department, d.rollup_action(), d.category, d.campaign_id, d.special_action),
                day_of(effective),
                1,
            )
        )
        outcome.record_id, outcome.name = row.id, disposition_name(site.id, row.id)
    book.save()
    written = store.insert_dispositions(conn, rows)
    duplicates = [o for o in result.outcomes if o.duplicate]
    sites = store.disposition_sites(conn, [o.record_id for o in duplicates])
    for o in duplicates:
        o.name = disposition_name(sites[o.record_id], o.record_id)
    yield
    rollups.apply(conn, CONTENT_ROLLUP, deltas)
    if calls:
        for _, row in rows:
            name = disposition_name(row.site_id, row.id)
            changes.append(conn, changes.CREATED, name, row.department, row.campaign_id, now_us)
            audit.append(
                conn,
                principal,
                "RecordDisposition",
                name,
                row.request_id,
                "recorded",
                now_us,
                [store.AUDITED_DISPOSITIONS.rows([row.id])],
            )
    elif rows:
        changes.append(
            conn,
            changes.BULK_IMPORTED,
            "dispositions",
            principal.department,
            _one_campaign([r.campaign_id for _, r in rows]),
            now_us,
            len(rows),
        )
    if not calls and result.outcomes:
        audit.append(
            conn,
            principal,
            "ImportDispositions",
            "dispositions",
            result.outcomes[0].request_id,
            result.audit_outcome(),
            now_us,
            [store.AUDITED_DISPOSITIONS.rows((row.id for _, row in rows), written)],
        )
    return result


def _one_campaign(campaigns: list[str]) -> str:
    unique = set(campaigns)
    return unique.pop() if len(unique) == 1 else ""
