"""SQL for sites, site actions, notice batches and dispositions (no protobuf here)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from services.common import audit, paging, rollups
from services.common.hashing import hash64
from services.common.storage import Conn
from services.common.storage.keys import Book
from services.common.storage.sql import NO_LIMIT, children_of, rows_in
from services.common.storage.staged import ACCEPTED, Stage
from services.sites.domain import (
    SITE_ROLLUP,
    STATUS_ROLLUP,
    TRANSITIONS,
    Action,
    Batch,
    DispositionRow,
    Site,
    SiteActionRow,
    SiteRef,
    Status,
)

SITE_COLS = (
    "id, kind, identifier, display_name, operator_entity, icp_filing, region, status, "
    "due_us, notice_action_id, first_action_us, last_action_us, action_count, revision"
)
ACTION_COLS = (
    "id, site_id, request_id, action, category, department, region, campaign_id, "
    "special_action, case_ref, actor, effective_us, due_us, problems, "
    "notice_batch_id, record_us, retracted_us, retract_reason, retracted_by"
)
BATCH_COLS = (
    "id, title, department, category, campaign_id, special_action, due_us, state, "
    "entry_count, create_us, publish_us, revision"
)
DISPOSITION_COLS = (
    "id, site_id, request_id, locator, content_sha256, perceptual_hash, category, "
    "measure, handler, department, campaign_id, special_action, actor, "
    "effective_us, record_us"
)
# What audit entries commit to: actions and dispositions as recorded (not the lookup keys
# derived from them), and a retraction (its own write).
AUDITED_ACTIONS = audit.covered(
    "site_actions",
    "id, site_id, request_id, action, category, department, region, "
    "campaign_id, special_action, case_ref, actor, effective_us, due_us, problems, "
    "notice_batch_id, record_us",
)
AUDITED_RETRACTIONS = audit.covered(
    "site_actions",
    "id, retracted_us, retract_reason, retracted_by",
    name="site_action_retractions",
    every_row=False,
)
AUDITED_DISPOSITIONS = audit.covered(
    "dispositions",
    "id, site_id, request_id, locator, content_sha256, "
    "perceptual_hash, category, measure, handler, department, campaign_id, special_action, "
    "actor, effective_us, record_us",
)


def _action(row: tuple[object, ...]) -> SiteActionRow:
    values = list(row)
    values[13] = tuple(json.loads(str(values[13])))
    return SiteActionRow(*values)  # type: ignore[arg-type]


def _in(n: int) -> str:
    return ",".join("?" * n)


class SiteBook(Book[Site]):
    """The sites a write touches (the shared Book): loaded once by identity or id, new ones
    created in memory, all saved together at the end of the transaction with the
    sites-by-status counters."""

    def __init__(self, conn: Conn, refs: Iterable[SiteRef] = (), ids: Iterable[int] = ()) -> None:
        stored: dict[int, Site] = {}
        keys = list({r.ident_key() for r in refs})
        for column, values in (("ident_key", keys), ("id", list(ids))):
            sql = f"SELECT ident_key, {SITE_COLS} FROM sites WHERE {column} IN ({{ids}})"
            for key, *cols in rows_in(conn, sql, values):
                stored[key] = Site(*cols)
        super().__init__(conn, "sites", stored)
        self.status_before = {s.id: s.status for s in stored.values()}

    def site(self, ref: SiteRef) -> Site:
        key = ref.ident_key()
        return self.get(key) or self.make(key, partial(_new_site, ref))

    def describe(self, site: Site, ref: SiteRef) -> None:
        """Take the descriptive fields a record gives (once it is accepted: a refused record
        changes nothing)."""
        for attr in ("display_name", "operator_entity", "icp_filing", "region"):
            if getattr(ref, attr):
                setattr(site, attr, getattr(ref, attr))

    def keep(self, site: Site) -> None:
        """Make sure a site created here is saved even though it did not change."""
        if site.revision == 0:
            self.touch(site)

    def save(self) -> set[int]:
        """Write new and changed sites; returns the ids of the new ones."""
        new, changed = self.settle()
        self.conn.executemany(
            f"INSERT INTO sites (ident_key, {SITE_COLS}) VALUES ({_in(15)})",
            [(key, *_site_values(s)) for key, s in new],
        )
        update_sites(self.conn, changed)
        deltas: list[tuple[int | None, rollups.Key, str, int]] = []
        for site in self.touched.values():
            before = self.status_before.get(site.id)
            if before != site.status:
                if before is not None:
                    deltas.append((None, _status_key(before), "", -1))
                deltas.append((None, _status_key(site.status), "", 1))
        rollups.apply(self.conn, STATUS_ROLLUP, deltas)
        return {s.id for _, s in new}


def _new_site(ref: SiteRef, site_id: int) -> Site:
    return Site(
        site_id,
        ref.kind,
        ref.identifier,
        ref.display_name,
        ref.operator_entity,
        ref.icp_filing,
        ref.region,
        Status.ACTIVE,
        None,
        None,
        None,
        None,
        0,
        0,
    )


def _status_key(status: int) -> rollups.Key:
    return ("", Status(status).name.lower(), "", "", "")


def _site_values(s: Site) -> tuple[object, ...]:
    return (
        s.id,
        s.kind,
        s.identifier,
        s.display_name,
        s.operator_entity,
        s.icp_filing,
        s.region,
        s.status,
        s.due_us,
        s.notice_action_id,
        s.first_action_us,
        s.last_action_us,
        s.action_count,
        s.revision,
    )


def update_sites(conn: Conn, sites: Iterable[Site]) -> None:
    conn.executemany(
        "UPDATE sites SET display_name = ?, operator_entity = ?, icp_filing = ?, region = ?, "
        "status = ?, due_us = ?, notice_action_id = ?, first_action_us = ?, last_action_us = ?, "
        "action_count = ?, revision = ? WHERE id = ?",
        [
            (
                s.display_name,
                s.operator_entity,
                s.icp_filing,
                s.region,
                s.status,
                s.due_us,
                s.notice_action_id,
                s.first_action_us,
                s.last_action_us,
                s.action_count,
                s.revision,
                s.id,
            )
            for s in sites
        ],
    )


def retract_action(conn: Conn, action_id: int, now_us: int, reason: str, by: str) -> None:
    conn.execute(
        "UPDATE site_actions SET retracted_us = ?, retract_reason = ?, retracted_by = ? "
        "WHERE id = ?",
        (now_us, reason, by, action_id),
    )


def live_actions(conn: Conn, actions: list[int]) -> Iterator[SiteActionRow]:
    """The actions of these types not retracted, in id order."""
    for row in conn.execute(
        f"SELECT {ACTION_COLS} FROM site_actions WHERE action IN ({_in(len(actions))}) "
        "AND retracted_us IS NULL ORDER BY id",
        actions,
    ):
        yield _action(row)


def get_site(conn: Conn, site_id: int) -> Site | None:
    row = conn.execute(f"SELECT {SITE_COLS} FROM sites WHERE id = ?", (site_id,)).fetchone()
    return Site(*row) if row else None


def get_sites(conn: Conn, ids: list[int]) -> dict[int, Site]:
    sql = f"SELECT {SITE_COLS} FROM sites WHERE id IN ({{ids}})"
    return {row[0]: Site(*row) for row in rows_in(conn, sql, ids)}


def get_action(conn: Conn, action_id: int) -> SiteActionRow | None:
    row = conn.execute(
        f"SELECT {ACTION_COLS} FROM site_actions WHERE id = ?", (action_id,)
    ).fetchone()
    return _action(row) if row else None


def get_actions(conn: Conn, ids: list[int]) -> dict[int, SiteActionRow]:
    sql = f"SELECT {ACTION_COLS} FROM site_actions WHERE id IN ({{ids}})"
    return {row[0]: _action(row) for row in rows_in(conn, sql, ids)}


def actions_of(
    conn: Conn,
    site_id: int,
    after_id: int = 0,
    limit: int = NO_LIMIT,
    newest_first: bool = False,
) -> list[SiteActionRow]:
    """Actions in id order (or newest first), after a keyset position (0: the start)."""
    rows = paging.children_page(
        conn, "site_actions", ACTION_COLS, "site_id", site_id, after_id, limit, newest_first
    )
    return [_action(r) for r in rows]


def list_sites(
    conn: Conn,
    after_id: int,
    limit: int,
    kind: int,
    status: int,
    identifier: str,
    marks: dict[str, str],
) -> list[Site]:
    conds: list[str] = ["s.id > ?"]
    params: list[object] = [after_id]
    for column, value in (("kind", kind), ("status", status), ("identifier", identifier)):
        if value:
            conds.append(f"s.{column} = ?")
            params.append(value)
    sql, p = rollups.subject_filter(SITE_ROLLUP, "s.id", marks)
    conds.append(sql)
    params += p
    cols = ", ".join(f"s.{c}" for c in SITE_COLS.split(", "))
    rows = conn.execute(
        f"SELECT {cols} FROM sites s WHERE {' AND '.join(conds)} ORDER BY s.id LIMIT ?",
        (*params, limit),
    )
    return [Site(*r) for r in rows]


def due_notices(conn: Conn, now_us: int, limit: int) -> list[Site]:
    """Notified sites whose notice is past due (the overdue sweep's work)."""
    rows = conn.execute(
        f"SELECT {SITE_COLS} FROM sites WHERE status = ? AND due_us <= ? ORDER BY due_us LIMIT ?",
        (Status.NOTIFIED, now_us, limit),
    )
    return [Site(*r) for r in rows]


def overdue(
    conn: Conn, now_us: int, after_id: int, limit: int, department: str, batch_id: int
) -> list[tuple[Site, SiteActionRow]]:
    conds: list[str] = ["s.status IN (?, ?)", "s.due_us <= ?", "s.id > ?"]
    params: list[object] = [Status.NOTIFIED, Status.OVERDUE, now_us, after_id]
    if department:
        conds.append("a.department = ?")
        params.append(department)
    if batch_id:
        conds.append("a.notice_batch_id = ?")
        params.append(batch_id)
    site_cols = ", ".join(f"s.{c}" for c in SITE_COLS.split(", "))
    action_cols = ", ".join(f"a.{c}" for c in ACTION_COLS.split(", "))
    rows = conn.execute(
        f"SELECT {site_cols}, {action_cols} FROM sites s JOIN site_actions a "
        f"ON a.id = s.notice_action_id WHERE {' AND '.join(conds)} ORDER BY s.id LIMIT ?",
        (*params, limit),
    )
    n = len(SITE_COLS.split(", "))
    return [(Site(*r[:n]), _action(r[n:])) for r in rows]


def insert_batch(conn: Conn, b: Batch) -> None:
    conn.execute(
        f"INSERT INTO notice_batches ({BATCH_COLS}) VALUES ({_in(12)})",
        (
            b.id,
            b.title,
            b.department,
            b.category,
            b.campaign_id,
            b.special_action,
            b.due_us,
            b.state,
            b.entry_count,
            b.create_us,
            b.publish_us,
            b.revision,
        ),
    )


def update_batch(conn: Conn, b: Batch) -> None:
    conn.execute(
        "UPDATE notice_batches SET state = ?, entry_count = ?, publish_us = ?, "
        "revision = ? WHERE id = ?",
        (b.state, b.entry_count, b.publish_us, b.revision, b.id),
    )


def get_batch(conn: Conn, batch_id: int) -> Batch | None:
    row = conn.execute(
        f"SELECT {BATCH_COLS} FROM notice_batches WHERE id = ?", (batch_id,)
    ).fetchone()
    return Batch(*row) if row else None


def list_batches(
    conn: Conn, after_id: int, limit: int, department: str, campaign_id: str
) -> list[Batch]:
    conds: list[str] = ["id > ?"]
    params: list[object] = [after_id]
    for column, value in (("department", department), ("campaign_id", campaign_id)):
        if value:
            conds.append(f"{column} = ?")
            params.append(value)
    rows = conn.execute(
        f"SELECT {BATCH_COLS} FROM notice_batches WHERE {' AND '.join(conds)} ORDER BY id LIMIT ?",
        (*params, limit),
    )
    return [Batch(*r) for r in rows]


def add_entries(
    conn: Conn,
    batch_id: int,
    first_seq: int,
    entries: list[tuple[SiteRef, tuple[str, ...]]],
) -> None:
    conn.executemany(
        "INSERT INTO notice_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                batch_id,
                first_seq + i,
                r.kind,
                r.identifier,
                r.display_name,
                r.operator_entity,
                r.icp_filing,
                r.region,
                json.dumps(list(problems), ensure_ascii=False),
            )
            for i, (r, problems) in enumerate(entries)
        ],
    )


def entries_of(conn: Conn, batch_id: int) -> list[tuple[SiteRef, tuple[str, ...]]]:
    rows = conn.execute(
        "SELECT kind, identifier, display_name, operator_entity, icp_filing, "
        "region, problems FROM notice_entries WHERE batch_id = ? ORDER BY seq",
        (batch_id,),
    )
    return [(SiteRef(*r[:6]), tuple(json.loads(r[6]))) for r in rows]


INSERTED_DISPOSITION_COLS = f"request_key, body_hash, content_key, {DISPOSITION_COLS}"


def get_dispositions(conn: Conn, ids: list[int]) -> dict[int, DispositionRow]:
    sql = f"SELECT {DISPOSITION_COLS} FROM dispositions WHERE id IN ({{ids}})"
    return {row[0]: DispositionRow(*row) for row in rows_in(conn, sql, ids)}


def by_content(
    conn: Conn, sha256: str, phash: str, after_id: int, limit: int
) -> list[DispositionRow]:
    if sha256:
        rows = conn.execute(
            f"SELECT {DISPOSITION_COLS} FROM dispositions WHERE content_key = ? "
            "AND content_sha256 = ? AND id > ? ORDER BY id LIMIT ?",
            (hash64(sha256), sha256, after_id, limit),
        )
    else:
        rows = conn.execute(
            f"SELECT {DISPOSITION_COLS} FROM dispositions WHERE "
            "perceptual_hash = ? AND id > ? ORDER BY id LIMIT ?",
            (phash, after_id, limit),
        )
    return [DispositionRow(*r) for r in rows]


def content_departments(conn: Conn, sha256: str, phash: str) -> list[str]:
    if sha256:
        rows = conn.execute(
            "SELECT DISTINCT department FROM dispositions WHERE content_key = ? "
            "AND content_sha256 = ? ORDER BY 1",
            (hash64(sha256), sha256),
        )
    else:
        rows = conn.execute(
            "SELECT DISTINCT department FROM dispositions WHERE perceptual_hash = ? ORDER BY 1",
            (phash,),
        )
    return [r[0] for r in rows]


def count_by_content(conn: Conn, sha256s: list[str]) -> dict[str, int]:
    """content sha256 -> dispositions of that content (those with none left out)."""
    counts = rows_in(
        conn,
        "SELECT content_sha256, COUNT(*) FROM dispositions WHERE content_key IN ({ids}) "
        "GROUP BY content_sha256",
        [hash64(sha) for sha in sha256s],
    )
    wanted = set(sha256s)
    return {sha: n for sha, n in counts if sha in wanted}


def disposition_sites(conn: Conn, ids: list[int]) -> dict[int, int]:
    """disposition id -> site id."""
    return dict(rows_in(conn, "SELECT id, site_id FROM dispositions WHERE id IN ({ids})", ids))


# --- a batch of dispositions, set-based (operations.dispositions) ---------------------------

# The site a staged record names (site_row gives the values).
SITE_COLUMNS = (
    "ident_key",
    "site_kind",
    "identifier",
    "display_name",
    "operator_entity",
    "icp_filing",
    "site_region",
)


def site_row(site: SiteRef) -> tuple[object, ...]:
    """A staged record's SITE_COLUMNS."""
    return (
        site.ident_key(),
        site.kind,
        site.identifier,
        site.display_name,
        site.operator_entity,
        site.icp_filing,
        site.region,
    )


# The staged columns that hold text (the others hold integers).
TEXT_COLUMNS = frozenset(
    "request_id identifier display_name operator_entity icp_filing site_region locator "
    "content_sha256 perceptual_hash category rollup_action department region campaign_id "
    "special_action case_ref problems action_name day".split()
)

# A batch's dispositions as read and checked: one row each, then the statements below.
DISPOSITION_STAGE = Stage(
    "staged_dispositions",
    (
        "idx",
        "request_key",
        "body_hash",
        "request_id",
        *SITE_COLUMNS,
        "locator",
        "content_key",
        "content_sha256",
        "perceptual_hash",
        "category",
        "measure",
        "handler",
        "rollup_action",
        "department",
        "campaign_id",
        "special_action",
        "effective_us",
        "day",
    ),
    computed=("site_id INTEGER",),
    dims=("department", "rollup_action", "category", "campaign_id", "special_action"),
    text=TEXT_COLUMNS,
    indexes=("ident_key, idx",),
)
_D = DISPOSITION_STAGE.table
_D_OK = f"state = {ACCEPTED}"
# A site's descriptive fields, as its records give them.
_DESCRIBED = ("display_name", "operator_entity", "icp_filing", "region")


def create_staged_sites(conn: Conn, stage: Stage = DISPOSITION_STAGE) -> int:
    """A site for each identity the batch's accepted records name that none has yet
    (active, no actions; described by the last value each field is given), ids handed out
    in the batch's order; every staged record then holds its site's id. Returns the largest
    id before (the sites made are those above it)."""
    table = stage.table
    (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM sites").fetchone()
    conn.execute(
        f"INSERT INTO sites (id, ident_key, kind, identifier, {', '.join(_DESCRIBED)}, status, "
        "due_us, notice_action_id, first_action_us, last_action_us, action_count, revision) "
        f"SELECT ? + ROW_NUMBER() OVER (ORDER BY idx), ident_key, site_kind, identifier, "
        f"{_described(table, 's')}, {int(Status.ACTIVE)}, NULL, NULL, NULL, NULL, 0, 1 "
        f"FROM {table} s WHERE {_D_OK} AND NOT EXISTS (SELECT 1 FROM {table} f "
        f"WHERE f.ident_key = s.ident_key AND f.{_D_OK} AND f.idx < s.idx) "
        "AND NOT EXISTS (SELECT 1 FROM sites x WHERE x.ident_key = s.ident_key)",
        (before,),
    )
    conn.execute(
        f"UPDATE {table} AS s SET site_id = x.id FROM sites x WHERE x.ident_key = s.ident_key"
    )
    return int(before)


def drop_unused_sites(conn: Conn, stage: Stage, before: int) -> None:
    """Sites made for this batch whose every record was refused are not kept."""
    conn.execute(
        f"DELETE FROM sites WHERE id > ? AND id NOT IN (SELECT site_id FROM {stage.table} "
        f"WHERE {_D_OK})",
        (before,),
    )


def _described(table: str, alias: str, stored: str = "") -> str:
    """Each descriptive field: the last non-empty value the accepted records of a site give
    (alias: the staged row naming the identity), else the site's as stored (stored: the
    alias of its row) or empty (a new site). The stage's columns are the sites' own, but
    for region (site_region: a site action has a region of its own)."""
    return ", ".join(
        f"COALESCE((SELECT l.{_STAGED.get(c, c)} FROM {table} l WHERE l.ident_key = "
        f"{alias}.ident_key AND l.{_D_OK} AND l.{_STAGED.get(c, c)} <> '' "
        f"ORDER BY l.idx DESC LIMIT 1), {f'{stored}.{c}' if stored else repr('')}) AS {c}"
        for c in _DESCRIBED
    )


_STAGED = {"region": "site_region"}


def insert_staged_dispositions(conn: Conn, actor: str, now_us: int) -> int:
    """Insert the accepted dispositions, ids handed out in the batch's order; returns the
    largest id before (those inserted are above it)."""
    (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM dispositions").fetchone()
    conn.execute(
        f"INSERT INTO dispositions ({INSERTED_DISPOSITION_COLS}) SELECT request_key, body_hash, "
        "content_key, ? + ROW_NUMBER() OVER (ORDER BY idx), site_id, request_id, locator, "
        "content_sha256, perceptual_hash, category, measure, handler, department, "
        f"campaign_id, special_action, ?, effective_us, ? FROM {_D} WHERE {_D_OK}",
        (before, actor, now_us),
    )
    return int(before)


def disposition_rows_after(conn: Conn, before: int) -> list[tuple[Any, ...]]:
    """The dispositions above an id, as stored (DISPOSITION_COLS), in id order."""
    return conn.execute(
        f"SELECT {DISPOSITION_COLS} FROM dispositions WHERE id > ? ORDER BY id", (before,)
    ).fetchall()


def sites_after(conn: Conn, before: int) -> list[tuple[int, int]]:
    """(id, site id) of the dispositions above an id, in id order."""
    return conn.execute(
        "SELECT id, site_id FROM dispositions WHERE id > ? ORDER BY id", (before,)
    ).fetchall()


def count_status_moves(conn: Conn, moves: list[tuple[int | None, int, int]]) -> None:
    """Sites-by-status counters: (status before, after, how many sites) each moved."""
    deltas: list[tuple[int | None, rollups.Key, str, int]] = []
    for before, after, n in moves:
        if before != after:
            if before is not None:
                deltas.append((None, _status_key(before), "", -n))
            deltas.append((None, _status_key(after), "", n))
    if deltas:
        rollups.apply(conn, STATUS_ROLLUP, deltas)


def count_new_sites(conn: Conn, before: int) -> None:
    """Count the sites a batch made (those above an id) as active (sites by status)."""
    (made,) = conn.execute("SELECT COUNT(*) FROM sites WHERE id > ?", (before,)).fetchone()
    if made:
        rollups.apply(conn, STATUS_ROLLUP, [(None, _status_key(Status.ACTIVE), "", made)])


# --- a batch of site actions, set-based (operations.sites) ----------------------------------

# A batch's site actions as read and checked: one row each, then the statements below.
ACTION_STAGE = Stage(
    "staged_site_actions",
    (
        "idx",
        "request_key",
        "body_hash",
        "request_id",
        *SITE_COLUMNS,
        "action",
        "action_name",
        "category",
        "department",
        "region",
        "campaign_id",
        "special_action",
        "case_ref",
        "effective_us",
        "due_us",
        "problems",
        "notice_batch_id",
        "day",
    ),
    computed=(
        "site_id INTEGER",
        "late INTEGER NOT NULL DEFAULT 0",
        "action_id INTEGER",
        "status_before INTEGER",
    ),
    dims=("department", "action_name", "category", "campaign_id", "special_action"),
    text=TEXT_COLUMNS,
    indexes=("ident_key, idx", "site_id"),
)
_A = ACTION_STAGE.table
_TRANSITIONS = (
    "transition (status, action, after) AS (VALUES "
    + ", ".join(f"({s}, {a}, {t})" for s, a, t in TRANSITIONS)
    + ")"
)


def _now_status(site: str) -> str:
    """A site's status at a time (?): a notice past due makes it overdue (domain.with_time)."""
    return (
        f"CASE WHEN {site}.status = {int(Status.NOTIFIED)} AND {site}.due_us <= ? "
        f"THEN {int(Status.OVERDUE)} ELSE {site}.status END"
    )


def mark_late_sites(conn: Conn) -> list[int]:
    """Mark the sites the statements below do not move on (each folded on its own, in the
    batch's order, as one call at a time would): several accepted actions of the batch
    (each judged against the state the one before left), or one reaching back before the
    site's last action. Returns them."""
    conn.execute(
        f"UPDATE {_A} SET late = 1 WHERE site_id IN (SELECT site_id FROM {_A} WHERE {_D_OK} "
        "GROUP BY site_id HAVING COUNT(*) > 1) OR site_id IN (SELECT s.site_id FROM "
        f"{_A} s CROSS JOIN sites x ON x.id = s.site_id WHERE s.{_D_OK} "
        "AND s.effective_us < x.last_action_us)"
    )
    return [i for (i,) in conn.execute(f"SELECT DISTINCT site_id FROM {_A} WHERE late = 1")]


def site_histories(conn: Conn, sites: list[int]) -> dict[int, list[SiteActionRow]]:
    """The stored actions of these sites, each in id order."""
    found = children_of(conn, "site_actions", ACTION_COLS, "site_id", sites)
    return {i: [_action(row) for row in rows] for i, rows in found.items()}


def moves_refused(conn: Conn, now_us: int) -> list[tuple[int, int, int | None]]:
    """Accepted actions (sites not late) that the site's status at the time does not allow:
    (idx, that status, its notice's due time)."""
    return conn.execute(
        f"WITH {_TRANSITIONS} SELECT s.idx, {_now_status('x')}, x.due_us FROM {_A} s "
        "CROSS JOIN sites x ON x.id = s.site_id "
        f"WHERE s.{_D_OK} AND s.late = 0 AND NOT EXISTS (SELECT 1 FROM transition t "
        f"WHERE t.status = {_now_status('x')} AND t.action = s.action)",
        (now_us, now_us),
    ).fetchall()


def number_actions(conn: Conn) -> int:
    """Hand the accepted actions their ids, in the batch's order; returns the largest id
    before (those numbered are above it); each site's status before is noted."""
    (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM site_actions").fetchone()
    conn.execute(
        f"UPDATE {_A} AS s SET action_id = n.id FROM (SELECT idx, ? + ROW_NUMBER() OVER "
        f"(ORDER BY idx) AS id FROM {_A} WHERE {_D_OK}) n WHERE n.idx = s.idx",
        (before,),
    )
    conn.execute(
        f"UPDATE {_A} AS s SET status_before = x.status FROM sites x WHERE x.id = s.site_id"
    )
    return int(before)


def move_sites(conn: Conn, now_us: int) -> None:
    """Each site not late on by its one accepted action of the batch: the status the
    transition gives (a notice past due at once: overdue), the notice's due time and id, the
    descriptive fields given, counts, times and revision."""
    after = (
        f"CASE WHEN s.action = {int(Action.NOTIFY_RECTIFICATION)} AND s.due_us <= ? "
        f"THEN {int(Status.OVERDUE)} ELSE t.after END"
    )
    notify = f"s.action = {int(Action.NOTIFY_RECTIFICATION)}"
    conn.execute(
        f"WITH {_TRANSITIONS}, moved AS (SELECT s.site_id, {after} AS status, "
        f"CASE WHEN {notify} THEN s.due_us END AS due_us, "
        f"CASE WHEN {notify} THEN s.action_id END AS notice, s.effective_us, "
        f"{_described(_A, 's', 'x')} FROM {_A} s CROSS JOIN sites x ON x.id = s.site_id "
        f"CROSS JOIN transition t ON t.status = {_now_status('x')} AND t.action = s.action "
        f"WHERE s.{_D_OK} AND s.late = 0) "
        "UPDATE sites SET status = m.status, due_us = m.due_us, notice_action_id = m.notice, "
        + ", ".join(f"{c} = m.{c}" for c in _DESCRIBED)
        + ", first_action_us = COALESCE(sites.first_action_us, m.effective_us), "
        "last_action_us = m.effective_us, action_count = sites.action_count + 1, "
        "revision = sites.revision + 1 FROM moved m WHERE sites.id = m.site_id",
        (now_us, now_us),
    )


def status_moves(conn: Conn) -> list[tuple[int | None, int, int]]:
    """(status before, status now, how many sites) over the sites the batch moved."""
    return conn.execute(
        f"SELECT b.status_before, x.status, COUNT(*) FROM (SELECT DISTINCT site_id, "
        f"status_before FROM {_A} WHERE {_D_OK}) b CROSS JOIN sites x ON x.id = b.site_id "
        "GROUP BY b.status_before, x.status"
    ).fetchall()


def insert_staged_site_actions(conn: Conn, actor: str, now_us: int) -> None:
    """Insert the accepted actions under the ids number_actions gave them."""
    conn.execute(
        f"INSERT INTO site_actions (request_key, body_hash, {ACTION_COLS}) SELECT request_key, "
        "body_hash, action_id, site_id, request_id, action, category, department, region, "
        "campaign_id, special_action, case_ref, ?, effective_us, due_us, problems, "
        f"notice_batch_id, ?, NULL, '', '' FROM {_A} WHERE {_D_OK}",
        (actor, now_us),
    )


def site_action_rows_after(conn: Conn, before: int) -> list[tuple[Any, ...]]:
    """The site actions above an id, as stored (ACTION_COLS), in id order."""
    return conn.execute(
        f"SELECT {ACTION_COLS} FROM site_actions WHERE id > ? ORDER BY id", (before,)
    ).fetchall()


def action_row(row: tuple[Any, ...]) -> SiteActionRow:
    return _action(row)
