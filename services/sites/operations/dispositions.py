"""Content dispositions: the use cases the servicer calls (record one, import, look up a
hash), and the writer jobs they run."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from services.common import audit, changes, paging, rollups
from services.common.catalogue import Catalogue
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import Reject, Violations
from services.common.recording import BatchResult, Outcome, Records, unary_calls
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.keys import RequestKeys, ids_taken, take_ids
from services.common.storage.writer import STEP, run_through
from services.sites import store
from services.sites.domain import (
    CONTENT_ROLLUP,
    DispositionInput,
    DispositionRow,
    validate_disposition,
)


@dataclass(frozen=True)
class DispositionAnswer:
    """A disposition as answered, with how many others of its content there are."""

    disposition: DispositionRow
    duplicate: bool
    earlier_count: int


def disposition_name(site_id: int, disposition_id: int) -> str:
    return f"sites/{site_id}/dispositions/{disposition_id}"


def record_dispositions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, DispositionInput]],
    now_us: int,
) -> BatchResult:
    """Unary RecordDisposition calls (DISPOSITION_CALLS), each audited as one."""
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
    next_row = take_ids(conn, "dispositions")
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
    ids_taken(conn, "dispositions", next_row)
    written = store.insert_dispositions(conn, rows)
    duplicates = [o for o in result.outcomes if o.duplicate]
    sites = store.disposition_sites(conn, [o.record_id for o in duplicates])
    for o in duplicates:
        o.name = disposition_name(sites[o.record_id], o.record_id)
    yield
    rollups.apply(conn, CONTENT_ROLLUP, deltas)
    if calls:
        inserted = store.AUDITED_DISPOSITIONS.each([row.id for _, row in rows], written)
        for (_, row), audited in zip(rows, inserted, strict=True):
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
                [audited],
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


def _disposition_answers(c: Conn, outcomes: list[Outcome]) -> list[DispositionAnswer]:
    """Each disposition with how many others of its content there are (two look-ups for the
    whole batch)."""
    rows = store.get_dispositions(c, [o.record_id for o in outcomes])
    counts = store.count_by_content(c, [r.content_sha256 for r in rows.values()])
    return [
        DispositionAnswer(
            rows[o.record_id], o.duplicate, counts[rows[o.record_id].content_sha256] - 1
        )
        for o in outcomes
    ]


# RecordDisposition calls of one principal waiting at the same moment are written as one
# batch (Database.write_batched).
DISPOSITION_CALLS = unary_calls(record_dispositions, _disposition_answers)


class Dispositions(Records[DispositionInput]):
    """The content-disposition use cases, as the servicer calls them: record (one, as a
    DispositionAnswer) and intake (an import) are those of every record a department writes
    (Records); lookup finds earlier dispositions of the same content."""

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        super().__init__(
            runtime.db,
            runtime.clock,
            runtime.settings.reference,
            catalogue,
            validate_disposition,
            DISPOSITION_CALLS,
            import_dispositions,
        )

    async def lookup(
        self, sha256: str, perceptual_hash: str, page_size: int, page_token: str
    ) -> tuple[list[DispositionRow], list[str], str]:
        """Earlier dispositions of the same content (by either hash), the departments that
        dealt with it, and the next page's token."""
        v = Violations()
        sha, phash = sha256.lower(), perceptual_hash.lower()
        v.check(
            bool(sha) != bool(phash),
            "content_sha256",
            "give either content_sha256 or perceptual_hash",
        )
        v.check(not sha or len(sha) == 64, "content_sha256", "must be 64 hex digits")
        v.check(not phash or len(phash) == 16, "perceptual_hash", "must be 16 hex digits")
        v.raise_if_any()
        size = paging.page_size(page_size)
        bound = [sha, phash]
        after = paging.decode(page_token, bound) or 0

        def read(c: Conn) -> tuple[list[DispositionRow], list[str]]:
            return (
                store.by_content(c, sha, phash, after, size + 1),
                store.content_departments(c, sha, phash),
            )

        rows, departments = await self.db.read(read)
        page, token = paging.cut(rows, size, bound)
        return page, departments, token
