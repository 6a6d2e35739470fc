"""Content dispositions: the use cases the servicer calls (record one, import, look up a
hash), and the writer jobs they run."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from services.common import audit, changes, paging, rollups
from services.common.catalogue import Catalogue
from services.common.clock import day_of
from services.common.context import Principal
from services.common.errors import Violations
from services.common.hashing import hash64
from services.common.recording import BatchResult, Outcome, Records, log_import, unary_calls
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.staged import Repeats, Requests
from services.common.storage.writer import run_through
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


@dataclass
class DispositionBatch:
    """A batch's validated dispositions as the write takes them: each input by its index,
    and the rows to stage (store.DISPOSITION_STAGE), a disposition whose request id an
    earlier one of the batch holds left out (repeats)."""

    inputs: dict[int, DispositionInput]
    rows: list[tuple[object, ...]]
    repeats: Repeats
    first_request_id: str


def disposition_batch(items: list[tuple[int, DispositionInput]], now_us: int) -> DispositionBatch:
    """Per disposition only its row: read from the input, its keys computed. An import
    makes it before the write (on the event loop, while the batch before is written)."""
    repeats = Repeats()
    rows: list[tuple[object, ...]] = []
    for index, d in items:
        key, body = hash64(d.request_id), d.body_hash()
        if repeats.seen(index, key, d.request_id, body):
            continue
        effective = now_us if d.effective_us is None else d.effective_us
        rows.append(
            (
                index,
                key,
                body,
                d.request_id,
                *store.site_row(d.site),
                d.locator,
                hash64(d.content_sha256),
                d.content_sha256,
                d.perceptual_hash,
                d.category,
                d.measure,
                d.handler,
                d.rollup_action(),
                d.department,
                d.campaign_id,
                d.special_action,
                effective,
                day_of(effective),
            )
        )
    return DispositionBatch(dict(items), rows, repeats, items[0][1].request_id if items else "")


def record_dispositions(
    conn: Conn,
    principal: Principal,
    items: list[tuple[int, DispositionInput]],
    now_us: int,
) -> BatchResult:
    """Unary RecordDisposition calls (DISPOSITION_CALLS), each audited as one."""
    staged = disposition_batch(items, now_us)
    return run_through(_dispositions(conn, principal, staged, now_us, calls=True))


def import_dispositions(
    conn: Conn,
    principal: Principal,
    items: DispositionBatch,
    now_us: int,
) -> Generator[None, None, BatchResult]:
    """An import batch, in steps (Database.write_in_steps), audited once with its counts."""
    return (yield from _dispositions(conn, principal, items, now_us, calls=False))


def _dispositions(
    conn: Conn,
    principal: Principal,
    staged: DispositionBatch,
    now_us: int,
    calls: bool,
) -> Generator[None, None, BatchResult]:
    """Record validated dispositions, set-based (each step one statement over the batch):
    a repeated request is answered as before, a reused request id refused, the rest go in
    with their sites made where new. calls: the items are unary calls, each audited as one;
    otherwise the batch is an import batch. Pauses between steps (a stepped job)."""
    stage, inputs = store.DISPOSITION_STAGE, staged.inputs
    stage.load(conn, staged.rows)
    yield
    requests = Requests(conn, stage, "dispositions", staged.repeats)
    store.count_new_sites(conn, store.create_staged_sites(conn))
    yield
    inserted_after = store.insert_staged_dispositions(conn, principal.operator, now_us)
    yield
    rollups.add_staged(conn, CONTENT_ROLLUP, stage, None)
    accepted = stage.accepted(conn)
    requests.settle({idx: inserted_after + n for n, idx in enumerate(accepted, 1)})
    result = BatchResult(first_request_id=staged.first_request_id)
    sites = store.disposition_sites(conn, list(requests.prior.values()))
    result.note(
        lambda idx: inputs[idx].request_id,
        requests.prior,
        requests.refused,
        lambda row_id: disposition_name(sites[row_id], row_id),
    )
    if calls:
        rows = store.disposition_rows_after(conn, inserted_after)
        covered = store.AUDITED_DISPOSITIONS.each(
            [r[0] for r in rows], (store.DISPOSITION_COLS, rows)
        )
        for idx, row, audited in zip(accepted, rows, covered, strict=True):
            d = DispositionRow(*row)
            name = disposition_name(d.site_id, d.id)
            result.outcomes.append(Outcome(idx, d.request_id, d.id, name=name))
            changes.append(conn, changes.CREATED, name, d.department, d.campaign_id, now_us)
            audit.append(
                conn,
                principal,
                "RecordDisposition",
                name,
                d.request_id,
                "recorded",
                now_us,
                [audited],
            )
    else:
        result.accepted = len(accepted)
        result.written = [
            (idx, inputs[idx].request_id, disposition_name(site_id, row_id))
            for idx, (row_id, site_id) in zip(
                accepted, store.sites_after(conn, inserted_after), strict=True
            )
        ]
        ids = range(inserted_after + 1, inserted_after + len(accepted) + 1)
        log_import(
            conn,
            principal,
            "ImportDispositions",
            "dispositions",
            result,
            store.AUDITED_DISPOSITIONS.rows(ids),
            stage.campaign(conn),
            now_us,
        )
    result.outcomes.sort(key=lambda o: o.index)
    return result


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
            stage=disposition_batch,
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
