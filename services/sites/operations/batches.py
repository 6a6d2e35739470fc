"""Notice batches: the use cases the servicer calls (create, add entries, publish, reads),
and the writer jobs they run. Publishing records every entry's notice as a site action."""

from __future__ import annotations

from dataclasses import dataclass

from services.common import audit, campaigns, changes, names, paging, rollups
from services.common.auth import require_role, require_writer_for
from services.common.catalogue import Catalogue, Metadata
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import (
    EtagMismatch,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Violations,
)
from services.common.idempotency import Answered, Once
from services.common.recording import WRITERS
from services.common.reference import is_slug
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.keys import ids_taken, take_ids
from services.sites import store
from services.sites.domain import (
    BATCH_PUBLISHED,
    BATCH_ROLLUP,
    CLOCK_SKEW_US,
    EARLIEST_US,
    Action,
    ActionInput,
    Batch,
    BatchState,
    SiteRef,
    validate_problems,
    validate_ref,
)
from services.sites.operations.sites import check_request_id, record_actions

DRAFT, PUBLISHED = int(BatchState.DRAFT), int(BatchState.PUBLISHED)
Entries = list[tuple[SiteRef, tuple[str, ...]]]


@dataclass(frozen=True)
class Draft:
    """A batch as its creator gives it."""

    title: str
    department: str
    category: str
    campaign_id: str
    special_action: str
    due_us: int | None


def batch_name(batch_id: int) -> str:
    return f"noticeBatches/{batch_id}"


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
    batch_id = take_ids(conn, "notice_batches")
    ids_taken(conn, "notice_batches", batch_id + 1)
    batch = Batch(
        batch_id,
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


class NoticeBatches:
    """The notice-batch use cases, as the servicer calls them: each authorizes its caller,
    checks its input and reads or writes in one transaction, taking and returning domain
    objects."""

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        self.rt, self.db, self.catalogue = runtime, runtime.db, catalogue

    async def create(self, b: Draft, credentials: Metadata, once: Once) -> Answered:
        """The answer (see Once) of creating a draft batch: the batch."""
        principal = require_writer_for(b.department)
        now = self.rt.clock.now_us()
        v = Violations()
        check_request_id(once.request_id, v)
        v.check(0 < len(b.title) <= 256, "batch.title", "required, at most 256 characters")
        v.check(
            b.category in self.rt.settings.reference.categories,
            "batch.category",
            "unknown category",
        )
        v.check(not b.campaign_id or is_slug(b.campaign_id), "batch.campaign_id", "must be a slug")
        v.check(
            not b.special_action or (is_slug(b.special_action) and bool(b.campaign_id)),
            "batch.special_action",
            "must be a slug, with a campaign_id",
        )
        # A batch published with a past date may have its due time in the past too; the
        # publish refuses a due time not after the publish time.
        v.check(b.due_us is not None and b.due_us > EARLIEST_US, "batch.due_time", "required")
        known = await self.catalogue.resolve([b.campaign_id], credentials)
        campaigns.check(v, known, b.campaign_id, b.special_action, None, "due_time", "batch.")
        v.raise_if_any()

        def work(c: Conn) -> Batch:
            return create_batch(
                c,
                principal,
                b.title,
                b.category,
                b.campaign_id,
                b.special_action,
                b.due_us or 0,
                once.request_id,
                now,
            )

        return await self.db.write(once.job(work, now))

    async def add_entries(self, name: str, entries: Entries, once: Once) -> Answered:
        """The answer (see Once) of adding entries to a draft: the batch."""
        principal = require_role(*WRITERS)
        v = Violations()
        check_request_id(once.request_id, v)
        v.check(0 < len(entries) <= 1000, "entries", "1 to 1000 entries required")
        checked: Entries = []
        for i, (ref, problems) in enumerate(entries):
            checked.append((validate_ref(ref, v, f"entries[{i}].site."), problems))
            validate_problems(problems, v, f"entries[{i}].problems")
        v.raise_if_any()
        (batch_id,) = names.parse(name, "batch", "noticeBatches")
        now = self.rt.clock.now_us()
        return await self.db.write(
            once.job(
                lambda c: add_entries(c, principal, batch_id, checked, once.request_id, now), now
            )
        )

    async def publish(
        self, name: str, etag: str, publish_us: int | None, credentials: Metadata, once: Once
    ) -> Answered:
        """The answer (see Once) of publishing a batch: the batch. publish_us: when
        it was published (now if None)."""
        principal = require_role(*WRITERS)
        v = Violations()
        check_request_id(once.request_id, v)
        now = self.rt.clock.now_us()
        publish = now if publish_us is None else publish_us
        v.check(
            EARLIEST_US <= publish <= now + CLOCK_SKEW_US,
            "publish_time",
            "must not lie in the future",
        )
        v.raise_if_any()
        (batch_id,) = names.parse(name, "name", "noticeBatches")
        stored = await self.db.read(lambda c: store.get_batch(c, batch_id))
        if stored is not None and stored.campaign_id:
            known = await self.catalogue.resolve([stored.campaign_id], credentials)
            campaigns.check(
                v, known, stored.campaign_id, stored.special_action, publish, "publish_time"
            )
            v.raise_if_any()

        def work(c: Conn) -> Batch:
            return publish_batch(c, principal, batch_id, etag, once.request_id, now, publish)

        return await self.db.write(once.job(work, now))

    async def get(self, name: str) -> tuple[Batch, Entries]:
        (batch_id,) = names.parse(name, "name", "noticeBatches")

        def read(c: Conn) -> tuple[Batch | None, Entries]:
            return store.get_batch(c, batch_id), store.entries_of(c, batch_id)

        batch, entries = await self.db.read(read)
        if batch is None:
            raise NotFound(f"{name} not found")
        return batch, entries

    async def list_batches(
        self, page_size: int, page_token: str, department: str, campaign_id: str
    ) -> tuple[list[Batch], str]:
        size = paging.page_size(page_size)
        bound = [department, campaign_id]
        after = paging.decode(page_token, bound) or 0
        rows = await self.db.read(
            lambda c: store.list_batches(c, after, size + 1, department, campaign_id)
        )
        return paging.cut(rows, size, bound)
