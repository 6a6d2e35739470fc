"""Rollup counters kept in the writing transaction, so statistics never scan records.

Tables (runtime migrations): counts per (key, day) and per key alone (what a query not by
day reads), a key being the rollup and its five dimension values; for each subject the keys
it has live records under ("marks"); and distinct subjects. A distinct count is per subset
of the five dimensions, '*' standing for "any value" in the others (a projection of a key):
each subject is counted once under its primary key, the least of its live keys
(rollup_single), which covers the 32 projections of that key; a subject with several keys
is also counted under each projection of its other keys that the primary key's do not
cover (rollup_distinct) -- so a new subject costs one counter, not 32, and a second key
about 16 more. A distinct count adds the primary keys under the projection to its own row.
Distinct counts are exact when the query's dimensions are one subset: not by day, and a
filter with several values only on a dimension that is also grouped by. The tables with a
row per record (counts per day, marks) name a key by its id (key_id), which rollup_keys maps
back to its values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

from services.common.hashing import hash64
from services.common.storage import Conn
from services.common.storage.sql import add_counts, rows_in, upsert_add
from services.common.storage.staged import ACCEPTED, Stage, analyze, reset

DIMS = ("department", "action", "category", "campaign_id", "special_action")
ANY = "*"
Key = tuple[str, str, str, str, str]
MASKS = range(1 << len(DIMS))
# The tables that name keys by id, joined to their keys; CROSS JOIN keeps that order (marks
# are looked up by subject; counts per day by key, the keys picked by the query's filter).
MARKS = "rollup_marks m CROSS JOIN rollup_keys k ON k.id = m.key_id"
DAY_COUNTS = "rollup_keys CROSS JOIN rollup_counts ON rollup_counts.key_id = rollup_keys.id"
# The counter tables, as storage.sql.add_counts names them: key columns, then n.
COUNTS_TABLE = "rollup_counts (key_id, day, n)"
TOTALS_TABLE = f"rollup_totals (rollup, {', '.join(DIMS)}, n)"
MARKS_TABLE = "rollup_marks (subject_id, key_id, n)"
SINGLE_TABLE = f"rollup_single (rollup, {', '.join(DIMS)}, n)"
DISTINCT_TABLE = f"rollup_distinct (rollup, {', '.join(DIMS)}, n)"
# A key already registered is left alone; another key under its id fails the write (the
# update is refused by migration 0006's trigger), so counters of two keys never merge.
_KEY_COLUMNS = ("rollup", *DIMS)
REGISTER_KEY = (
    "INSERT INTO rollup_keys VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    f"rollup = excluded.rollup WHERE ({', '.join(f'rollup_keys.{c}' for c in _KEY_COLUMNS)}) "
    f"<> ({', '.join(f'excluded.{c}' for c in _KEY_COLUMNS)})"
)


@dataclass(frozen=True)
class StatsQuery:
    departments: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    campaign_id: str = ""
    special_action: str = ""
    start_day: str = ""  # inclusive, YYYY-MM-DD
    end_day: str = ""  # exclusive
    group_by: tuple[str, ...] = ()

    def values(self) -> dict[str, tuple[str, ...]]:
        """Filter values per dimension (only dimensions that filter)."""
        given = {
            "department": self.departments,
            "action": self.actions,
            "category": self.categories,
            "campaign_id": (self.campaign_id,) if self.campaign_id else (),
            "special_action": (self.special_action,) if self.special_action else (),
        }
        return {d: v for d, v in given.items() if v}


@dataclass
class StatsRow:
    keys: dict[str, str]
    count: int = 0
    distinct: int | None = None


@dataclass
class StatsResult:
    rows: list[StatsRow] = field(default_factory=list)
    total: StatsRow = field(default_factory=lambda: StatsRow({}))


def _project(key: Key, mask: int) -> Key:
    return tuple(v if mask >> i & 1 else ANY for i, v in enumerate(key))  # type: ignore[return-value]


@lru_cache(maxsize=4096)
def key_id(rollup: str, key: Key) -> int:
    """The id of a key in rollup_keys (as migration 0004 computes it)."""
    return hash64("\x1f".join((rollup, *key)))


@lru_cache(maxsize=4096)
def _projections(rollup: str, key: Key) -> tuple[tuple[str, ...], ...]:
    """The rollup_distinct key (rollup, key under a mask) of every mask, in mask order (a
    batch repeats a few keys many times)."""
    return tuple((rollup, *_project(key, mask)) for mask in MASKS)


@lru_cache(maxsize=4096)
def _projection_set(rollup: str, key: Key) -> frozenset[tuple[str, ...]]:
    return frozenset(_projections(rollup, key))


def _load_marks(conn: Conn, rollup: str, subjects: list[int]) -> dict[int, dict[Key, int]]:
    marks: dict[int, dict[Key, int]] = defaultdict(dict)
    for subject, *dims, n in rows_in(
        conn,
        f"SELECT m.subject_id, {', '.join(f'k.{d}' for d in DIMS)}, m.n FROM {MARKS} "
        "WHERE k.rollup = ? AND m.subject_id IN ({ids})",
        subjects,
        rollup,
    ):
        marks[subject][tuple(dims)] = n
    return marks


def apply(
    conn: Conn,
    rollup: str,
    deltas: Iterable[tuple[int | None, Key, str, int]],
    new_subjects: set[int] | frozenset[int] = frozenset(),
) -> None:
    """Add each (subject or None, dimension key, day, +1/-1) to the counters."""
    counts: dict[tuple[object, ...], int] = {}
    totals: dict[tuple[object, ...], int] = {}
    ids: dict[Key, int] = {}
    per_subject: dict[int, dict[Key, int]] = {}  # plain dicts: most subjects get one change
    for subject, key, day, delta in deltas:
        kid = ids.get(key)
        if kid is None:
            kid = ids[key] = key_id(rollup, key)
        row = (kid, day)
        counts[row] = counts.get(row, 0) + delta
        total = (rollup, *key)
        totals[total] = totals.get(total, 0) + delta
        if subject is not None:
            changes = per_subject.get(subject)
            if changes is None:
                per_subject[subject] = {key: delta}
            else:
                changes[key] = changes.get(key, 0) + delta
    conn.executemany(REGISTER_KEY, [(kid, rollup, *key) for key, kid in ids.items()])
    add_counts(conn, COUNTS_TABLE, counts)
    add_counts(conn, TOTALS_TABLE, totals)
    if not per_subject:
        return
    old = [s for s in per_subject if s not in new_subjects]
    existing = _load_marks(conn, rollup, old) if old else {}
    single: dict[tuple[object, ...], int] = {}  # subjects, by their primary key
    distinct: dict[tuple[object, ...], int] = {}  # ... and what their primary keys miss
    upserts: list[tuple[object, ...]] = []
    deletes: list[tuple[object, ...]] = []
    for subject, changes in per_subject.items():
        before = existing.get(subject)
        if not before and len(changes) == 1:
            ((key, delta),) = changes.items()
            if delta > 0:
                one = (rollup, *key)
                single[one] = single.get(one, 0) + 1
                upserts.append((subject, ids[key], delta))
            continue
        before = before or {}
        after = dict(before)
        for key, delta in changes.items():
            after[key] = after.get(key, 0) + delta
            if after[key] > 0:
                upserts.append((subject, ids[key], delta))
            else:
                deletes.append((subject, ids[key]))
        live_before = {k for k, n in before.items() if n > 0}
        live_after = {k for k, n in after.items() if n > 0}
        if live_before != live_after:
            _share(single, distinct, rollup, live_before, -1)
            _share(single, distinct, rollup, live_after, +1)
    upsert_add(conn, MARKS_TABLE, upserts)  # now: later jobs of the group read the marks
    if deletes:
        conn.executemany("DELETE FROM rollup_marks WHERE subject_id = ? AND key_id = ?", deletes)
    add_counts(conn, SINGLE_TABLE, single)
    add_counts(conn, DISTINCT_TABLE, distinct)


def _share(
    single: dict[tuple[object, ...], int],
    distinct: dict[tuple[object, ...], int],
    rollup: str,
    live: set[Key],
    sign: int,
) -> None:
    """Add (sign +1) or take away (-1) a subject's share of the distinct counts: one under its
    primary key (the least of its live keys), and one under each projection of its other
    keys that no projection of the primary key covers."""
    if not live:
        return
    primary = min(live)
    row = (rollup, *primary)
    single[row] = single.get(row, 0) + sign
    if len(live) == 1:
        return
    covered = _projection_set(rollup, primary)
    for p in {p for k in live if k != primary for p in _projections(rollup, k)} - covered:
        distinct[p] = distinct.get(p, 0) + sign


_DIMS_SQL = ", ".join(DIMS)
_CONFLICT = f"ON CONFLICT (rollup, {_DIMS_SQL}) DO UPDATE SET n = {{table}}.n + excluded.n"
_K_DIMS = ", ".join(f"k.{d}" for d in DIMS)
# Temporary tables of the statements below: a batch's keys (dimension values and id, in one
# rollup), and the subjects whose live keys it changes.
_KEYS = ("staged_keys", f"{', '.join(f'{d} TEXT NOT NULL' for d in DIMS)}, id INTEGER")
_SUBJECTS = ("staged_subjects", "subject_id INTEGER PRIMARY KEY, had INTEGER NOT NULL")


def add_staged(conn: Conn, rollup: str, stage: Stage, subject: str | None, where: str = "") -> None:
    """Count a stage's accepted records (+1 each) in a rollup, in SQL over the batch: its
    keys registered, counts per key and day and per key added by GROUP BY upserts, each
    subject marked under its keys, and the distinct-subject counts of the subjects whose
    live keys grow restated (their share taken away before the marks and added after: see
    the module's note). subject: the stage's subject column (None: the rollup counts no
    subjects); where: which of its records this rollup counts (SQL on the stage's
    columns, the stage named s)."""
    cond = f"s.state = {ACCEPTED}" + (f" AND {where}" if where else "")
    dims = ", ".join(stage.dims)
    keys = [
        (*key, key_id(rollup, key))
        for key in conn.execute(f"SELECT DISTINCT {dims} FROM {stage.table} s WHERE {cond}")
    ]
    if not keys:
        return
    if conn.executemany(REGISTER_KEY, [(kid, rollup, *key) for *key, kid in keys]).rowcount > 0:
        analyze(conn, "rollup_keys")  # the next statements join the keys of one rollup
    reset(conn, *_KEYS, [_DIMS_SQL])
    conn.executemany(f"INSERT INTO staged_keys VALUES ({', '.join('?' * 6)})", keys)
    same = " AND ".join(f"k.{d} = s.{c}" for d, c in zip(DIMS, stage.dims, strict=True))
    conn.execute(
        f"UPDATE {stage.table} AS s SET key_id = k.id FROM staged_keys k WHERE {same} AND " + cond
    )
    conn.execute(
        f"INSERT INTO rollup_counts (key_id, day, n) SELECT key_id, {stage.day}, COUNT(*) "
        f"FROM {stage.table} s WHERE {cond} GROUP BY key_id, {stage.day} "
        "ON CONFLICT (key_id, day) DO UPDATE SET n = rollup_counts.n + excluded.n"
    )
    conn.execute(
        f"INSERT INTO rollup_totals (rollup, {_DIMS_SQL}, n) SELECT ?, {dims}, COUNT(*) "
        f"FROM {stage.table} s WHERE {cond} GROUP BY {dims} "
        + _CONFLICT.format(table="rollup_totals"),
        (rollup,),
    )
    if subject is None:
        return
    reset(conn, *_SUBJECTS)
    conn.execute(
        f"INSERT INTO staged_subjects SELECT DISTINCT s.{subject}, CASE WHEN EXISTS (SELECT 1 "
        f"FROM rollup_marks h CROSS JOIN rollup_keys k ON k.id = h.key_id WHERE h.subject_id = "
        f"s.{subject} AND k.rollup = ?) THEN 1 ELSE 0 END FROM {stage.table} s "
        f"WHERE {cond} AND NOT EXISTS (SELECT 1 FROM rollup_marks m "
        f"WHERE m.subject_id = s.{subject} AND m.key_id = s.key_id)",
        (rollup,),
    )
    had = [i for (i,) in conn.execute("SELECT subject_id FROM staged_subjects WHERE had = 1")]
    before = _load_marks(conn, rollup, had) if had else {}
    conn.execute(
        f"INSERT INTO rollup_marks (subject_id, key_id, n) SELECT {subject}, key_id, COUNT(*) "
        f"FROM {stage.table} s WHERE {cond} GROUP BY {subject}, key_id "
        "ON CONFLICT (subject_id, key_id) DO UPDATE SET n = rollup_marks.n + excluded.n"
    )
    # A new subject under one key (most of a batch's): counted once, under that key.
    live = (
        "FROM staged_subjects t CROSS JOIN rollup_marks m ON m.subject_id = t.subject_id "
        "CROSS JOIN rollup_keys k ON k.id = m.key_id WHERE k.rollup = ? AND m.n > 0"
    )
    firsts = ", ".join(f"MIN(k.{d}) AS {d}" for d in DIMS)
    conn.execute(
        f"INSERT INTO rollup_single (rollup, {_DIMS_SQL}, n) SELECT ?, {_DIMS_SQL}, COUNT(*) "
        f"FROM (SELECT {firsts} {live} AND t.had = 0 GROUP BY t.subject_id "
        f"HAVING COUNT(*) = 1) x GROUP BY {_DIMS_SQL} " + _CONFLICT.format(table="rollup_single"),
        (rollup, rollup),
    )
    # The others (a subject with marks before, or several keys now: a few of a batch's) are
    # restated as apply does, their shares before taken away and after added.
    several = [
        i
        for (i,) in conn.execute(
            "SELECT subject_id FROM staged_subjects WHERE had = 1 UNION "
            f"SELECT {subject} FROM {stage.table} s WHERE {cond} AND {subject} IN "
            f"(SELECT subject_id FROM staged_subjects) GROUP BY {subject} "
            "HAVING COUNT(DISTINCT key_id) > 1"
        )
    ]
    if not several:
        return
    after = _load_marks(conn, rollup, several)
    single: dict[tuple[object, ...], int] = {}
    distinct: dict[tuple[object, ...], int] = {}
    for subject_id in several:
        _share(single, distinct, rollup, set(before.get(subject_id, ())), -1)
        _share(single, distinct, rollup, set(after.get(subject_id, ())), +1)
    add_counts(conn, SINGLE_TABLE, single)
    add_counts(conn, DISTINCT_TABLE, distinct)


def subject_filter(
    rollup: str, subject_column: str, values: dict[str, str]
) -> tuple[str, list[object]]:
    """SQL condition: the subject has live records under all these dimension values."""
    if not values:
        return "1 = 1", []
    conds = " AND ".join(f"k.{d} = ?" for d in values)
    return (
        f"EXISTS (SELECT 1 FROM {MARKS} WHERE k.rollup = ? AND "
        f"m.subject_id = {subject_column} AND {conds})",
        [rollup, *values.values()],
    )


def _in(column: str, values: tuple[str, ...]) -> tuple[str, list[object]]:
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def distinct_available(q: StatsQuery, group_by: tuple[str, ...]) -> bool:
    if "day" in group_by or q.start_day or q.end_day:
        return False
    return all(len(v) == 1 or d in group_by for d, v in q.values().items())


def _counts(conn: Conn, rollup: str, q: StatsQuery) -> dict[tuple[str, ...], int]:
    conds: list[str] = ["rollup = ?"]
    params: list[object] = [rollup]
    for d, values in q.values().items():
        sql, p = _in(d, values)
        conds.append(sql)
        params += p
    if q.start_day:
        conds.append("day >= ?")
        params.append(q.start_day)
    if q.end_day:
        conds.append("day < ?")
        params.append(q.end_day)
    cols = ", ".join(q.group_by)
    select = f"{cols}, SUM(n)" if cols else "SUM(n)"
    group = f"GROUP BY {cols}" if cols else ""
    by_day = q.start_day or q.end_day or "day" in q.group_by
    table = DAY_COUNTS if by_day else "rollup_totals"
    rows = conn.execute(
        f"SELECT {select} FROM {table} WHERE {' AND '.join(conds)} {group}", params
    ).fetchall()
    return {tuple(r[:-1]): r[-1] for r in rows if r[-1]}


def _distinct(
    conn: Conn, rollup: str, q: StatsQuery, group_by: tuple[str, ...]
) -> dict[tuple[str, ...], int]:
    """Distinct subjects per group: the subjects whose primary key falls in the group, plus
    the group's own projection rows (see the module's note and migration 0005)."""
    filters = q.values()
    multi: list[str] = ["rollup = ?"]  # conditions on rollup_distinct
    single: list[str] = ["rollup = ?"]  # ... and on rollup_single
    params: list[object] = [rollup]
    single_params: list[object] = [rollup]
    for d in DIMS:
        if d in group_by or d in filters:
            multi.append(f"{d} != '{ANY}'")
            if d in filters:
                sql, p = _in(d, filters[d])
                multi.append(sql)
                single.append(sql)
                params += p
                single_params += p
        else:
            multi.append(f"{d} = '{ANY}'")
    cols = ", ".join(group_by)
    select = f"{cols}, SUM(n)" if cols else "SUM(n)"
    inner = f"{cols}, n" if cols else "n"
    group = f"GROUP BY {cols}" if cols else ""
    rows = conn.execute(
        f"SELECT {select} FROM (SELECT {inner} FROM rollup_distinct WHERE {' AND '.join(multi)}"
        f" UNION ALL SELECT {inner} FROM rollup_single WHERE {' AND '.join(single)}) AS parts "
        f"{group}",
        params + single_params,
    )
    return {tuple(r[:-1]): r[-1] or 0 for r in rows}


def query(conn: Conn, rollup: str, q: StatsQuery, subjects: bool, minus: str = "") -> StatsResult:
    """The counted rows of a rollup; minus: a rollup holding the records of a part of its
    subjects (a subject in one or the other, never both), whose rows are taken away."""
    result = _query(conn, rollup, q, subjects)
    if not minus:
        return result
    part = _query(conn, minus, q, subjects)
    taken = {tuple(r.keys.values()): r for r in part.rows}
    rows = [_less(r, taken.get(tuple(r.keys.values()))) for r in result.rows]
    return StatsResult([r for r in rows if r.count], _less(result.total, part.total))


def _less(row: StatsRow, part: StatsRow | None) -> StatsRow:
    if part is None:
        return row
    distinct = None if row.distinct is None else row.distinct - (part.distinct or 0)
    return StatsRow(row.keys, row.count - part.count, distinct)


def _query(conn: Conn, rollup: str, q: StatsQuery, subjects: bool) -> StatsResult:
    counts = _counts(conn, rollup, q)
    by_group = subjects and distinct_available(q, q.group_by)
    distinct = _distinct(conn, rollup, q, q.group_by) if by_group else {}
    result = StatsResult()
    for key in sorted(counts):
        result.rows.append(
            StatsRow(
                dict(zip(q.group_by, key, strict=True)),
                counts[key],
                distinct.get(key, 0) if by_group else None,
            )
        )
    result.total.count = sum(counts.values())
    if subjects and distinct_available(q, ()):
        result.total.distinct = _distinct(conn, rollup, q, ()).get((), 0)
    return result


Delta = tuple[int | None, Key, str, int]
# Per rollup, the deltas of the live records it counts (rebuilding it from the records).
Sources = Mapping[str, Callable[[Conn], Iterable[Delta]]]
REBUILD_CHUNK = 20_000


def rebuild_marked(conn: Conn, sources: Sources) -> list[str]:
    """Recount from the records each rollup a migration marked in rollup_rebuilds (a rollup
    new to a store that has records, or one whose keys changed): its counters are dropped and
    its records' deltas applied again, in the caller's transaction. Returns those rebuilt."""
    marked = [r for (r,) in conn.execute("SELECT rollup FROM rollup_rebuilds ORDER BY rollup")]
    for rollup in marked:
        source = sources.get(rollup)
        if source is None:
            raise RuntimeError(f"rollup {rollup!r} is marked for a rebuild but has no source")
        keys = "key_id IN (SELECT id FROM rollup_keys WHERE rollup = ?)"
        for table in ("rollup_counts", "rollup_marks"):
            conn.execute(f"DELETE FROM {table} WHERE {keys}", (rollup,))
        for table in ("rollup_totals", "rollup_single", "rollup_distinct"):
            conn.execute(f"DELETE FROM {table} WHERE rollup = ?", (rollup,))
        deltas = iter(source(conn))
        while chunk := list(islice(deltas, REBUILD_CHUNK)):
            apply(conn, rollup, chunk)
        conn.execute("DELETE FROM rollup_rebuilds WHERE rollup = ?", (rollup,))
    return marked


def departments_of(conn: Conn, rollup: str, subjects: list[int]) -> dict[int, list[str]]:
    """subject -> departments with live records on it (whom to contact about it)."""
    found: dict[int, list[str]] = defaultdict(list)
    for subject, department in rows_in(
        conn,
        f"SELECT DISTINCT m.subject_id, k.department FROM {MARKS} WHERE k.rollup = ? AND "
        "m.subject_id IN ({ids}) ORDER BY 1, 2",
        subjects,
        rollup,
    ):
        found[subject].append(department)
    return found
