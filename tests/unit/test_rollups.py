"""Rollup counters against brute force: random +1/-1 deltas, many groupings and filters."""

from __future__ import annotations

import itertools
import pathlib
import random
import shutil
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from services.common import rollups
from services.common.rollups import DIMS, StatsQuery
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, apply_migrations

VALUES = {
    "department": ("cac", "mps", "mct"),
    "action": ("warn", "ban", "restore"),
    "category": ("fraud", "obscene"),
    "campaign_id": ("", "c1", "c2"),
    "special_action": ("", "sa1"),
}
DAYS = ("2021-06-28", "2021-06-29", "2021-06-30", "2021-07-01")
Record = tuple[int | None, rollups.Key, str]  # subject, dimension key, day


@pytest.fixture
def conn() -> Iterator[SqliteConn]:
    c = sqlite3.connect(":memory:", isolation_level=None, factory=SqliteConn)
    apply_migrations(c, [("runtime", RUNTIME_MIGRATIONS)])
    yield c
    c.close()


def _key(rng: random.Random) -> rollups.Key:
    return tuple(rng.choice(VALUES[d]) for d in DIMS)  # type: ignore[return-value]


def _apply(
    conn: SqliteConn,
    rollup: str,
    deltas: list[tuple[int | None, rollups.Key, str, int]],
    new: set[int],
) -> None:
    conn.execute("BEGIN")
    rollups.apply(conn, rollup, deltas, new)
    conn.execute("COMMIT")


def _random_history(
    conn: SqliteConn, rng: random.Random, rollup: str, steps: int
) -> Counter[Record]:
    """Apply random batches; returns the live records (a multiset)."""
    live: Counter[Record] = Counter()
    seen: set[int] = set()
    next_subject = 1
    for _ in range(steps):
        deltas: list[tuple[int | None, rollups.Key, str, int]] = []
        new: set[int] = set()
        batch_live = Counter(live)
        for _ in range(rng.randrange(1, 12)):
            roll = rng.random()
            if roll < 0.35 and +batch_live:
                # Retract one live record.
                rec = rng.choice(sorted(batch_live.elements(), key=repr))
                batch_live[rec] -= 1
                deltas.append((*rec, -1))
                continue
            if roll < 0.55:
                new.add(next_subject)
                subject: int | None = next_subject
                next_subject += 1
            elif roll < 0.6:
                subject = None  # counted, but not a subject
            elif seen or new:
                subject = rng.choice(sorted(seen | new))
            else:
                subject = None
            rec = (subject, _key(rng), rng.choice(DAYS))
            batch_live[rec] += 1
            deltas.append((*rec, +1))
        rng.shuffle(deltas)
        # new_subjects holds only subjects with no marks before this batch.
        _apply(conn, rollup, deltas, new)
        seen |= new
        live = +batch_live
    return live


def _queries(rng: random.Random) -> list[StatsQuery]:
    groupings = [c for n in range(3) for c in itertools.combinations((*DIMS, "day"), n)]
    groupings += [(*DIMS, "day"), DIMS, ("department", "category", "campaign_id")]
    filters: list[dict[str, object]] = [
        {},
        {"departments": ("cac",)},
        {"departments": ("cac", "mps")},
        {"actions": ("ban",), "categories": ("fraud",)},
        {"categories": ("fraud", "obscene")},
        {"campaign_id": "c1"},
        {"campaign_id": "c1", "special_action": "sa1"},
        {"special_action": "sa1"},
        {"start_day": "2021-06-29"},
        {"end_day": "2021-06-30"},
        {"start_day": "2021-06-29", "end_day": "2021-07-01", "departments": ("mct",)},
        {"departments": ("mps", "mct"), "actions": ("warn", "restore"), "campaign_id": "c2"},
    ]
    out = []
    for f in filters:
        for g in groupings:
            out.append(StatsQuery(group_by=g, **f))  # type: ignore[arg-type]
    rng.shuffle(out)
    return out


def _matches(q: StatsQuery, key: rollups.Key, day: str) -> bool:
    k = dict(zip(DIMS, key, strict=True))
    return (
        (not q.departments or k["department"] in q.departments)
        and (not q.actions or k["action"] in q.actions)
        and (not q.categories or k["category"] in q.categories)
        and (not q.campaign_id or k["campaign_id"] == q.campaign_id)
        and (not q.special_action or k["special_action"] == q.special_action)
        and (not q.start_day or day >= q.start_day)
        and (not q.end_day or day < q.end_day)
    )


def _exact(q: StatsQuery, group_by: tuple[str, ...]) -> bool:
    if "day" in group_by or q.start_day or q.end_day:
        return False
    multi = {
        d
        for d, v in (
            ("department", q.departments),
            ("action", q.actions),
            ("category", q.categories),
        )
        if len(v) > 1
    }
    return multi <= set(group_by)


def brute_force(
    live: Counter[Record], q: StatsQuery
) -> tuple[dict[tuple[str, ...], tuple[int, int | None]], tuple[int, int | None]]:
    counts: Counter[tuple[str, ...]] = Counter()
    subjects: dict[tuple[str, ...], set[int]] = defaultdict(set)
    all_subjects: set[int] = set()
    total = 0
    for (subject, key, day), n in live.items():
        if not _matches(q, key, day):
            continue
        values = {**dict(zip(DIMS, key, strict=True)), "day": day}
        group = tuple(values[g] for g in q.group_by)
        counts[group] += n
        total += n
        if subject is not None:
            subjects[group].add(subject)
            all_subjects.add(subject)
    exact = _exact(q, q.group_by)
    rows = {g: (n, len(subjects[g]) if exact else None) for g, n in counts.items()}
    return rows, (total, len(all_subjects) if _exact(q, ()) else None)


def observed(
    conn: SqliteConn, rollup: str, q: StatsQuery
) -> tuple[dict[tuple[str, ...], tuple[int, int | None]], tuple[int, int | None]]:
    result = rollups.query(conn, rollup, q, subjects=True)
    rows: dict[tuple[str, ...], tuple[int, int | None]] = {}
    for row in result.rows:
        assert list(row.keys) == list(q.group_by)
        group = tuple(row.keys[g] for g in q.group_by)
        assert group not in rows
        rows[group] = (row.count, row.distinct)
    return rows, (result.total.count, result.total.distinct)


def _check_tables(conn: SqliteConn) -> None:
    """No counter is left negative; marks and counts of zero are not kept as live values."""
    for table in ("rollup_counts", "rollup_marks", "rollup_distinct", "rollup_single"):
        (bad,) = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE n < 0").fetchone()
        assert bad == 0, table
    (zero_marks,) = conn.execute("SELECT COUNT(*) FROM rollup_marks WHERE n <= 0").fetchone()
    assert zero_marks == 0


@pytest.mark.parametrize("seed", range(6))
def test_random_deltas_match_brute_force(conn: SqliteConn, seed: int) -> None:
    rng = random.Random(seed)
    live = _random_history(conn, rng, "actions", steps=60)
    other = _random_history(conn, random.Random(seed + 100), "other", steps=10)
    assert sum(live.values()) > 50
    _check_tables(conn)
    for q in _queries(rng):
        assert observed(conn, "actions", q) == brute_force(live, q), q
    # Another rollup in the same tables is counted apart.
    for q in (StatsQuery(), StatsQuery(group_by=("department",))):
        assert observed(conn, "other", q) == brute_force(other, q)


def test_everything_retracted_leaves_nothing(conn: SqliteConn) -> None:
    rng = random.Random(7)
    live = _random_history(conn, rng, "actions", steps=30)
    deltas = [(*rec, -1) for rec in live.elements()]
    rng.shuffle(deltas)
    _apply(conn, "actions", deltas[: len(deltas) // 2], set())
    _apply(conn, "actions", deltas[len(deltas) // 2 :], set())
    _check_tables(conn)
    result = rollups.query(conn, "actions", StatsQuery(group_by=("department",)), subjects=True)
    assert result.rows == []
    assert (result.total.count, result.total.distinct) == (0, 0)
    (marks,) = conn.execute("SELECT COUNT(*) FROM rollup_marks").fetchone()
    assert marks == 0
    for table in ("rollup_distinct", "rollup_single"):
        (distinct,) = conn.execute(f"SELECT COALESCE(SUM(n), 0) FROM {table}").fetchone()
        assert distinct == 0, table


def test_the_migration_derives_the_distinct_counts_from_the_marks(
    conn: SqliteConn,
) -> None:
    """Migration 0005 rebuilds the distinct counters from the marks: run again over a random
    history, it gives the counters the writes kept (and so the same answers)."""
    rng = random.Random(11)
    live = _random_history(conn, rng, "actions", steps=60)
    kept = {t: _rows(conn, t) for t in ("rollup_single", "rollup_distinct")}
    assert all(kept.values())
    conn.executescript((RUNTIME_MIGRATIONS / "0005_rollup_primary.sql").read_text())
    assert {t: _rows(conn, t) for t in kept} == kept
    for q in _queries(rng)[:100]:
        assert observed(conn, "actions", q) == brute_force(live, q), q


def _rows(conn: SqliteConn, table: str) -> list[tuple[object, ...]]:
    return conn.execute(f"SELECT * FROM {table} WHERE n != 0 ORDER BY 1, 2, 3, 4, 5, 6").fetchall()


def test_subject_filter_follows_live_marks(conn: SqliteConn) -> None:
    k1: rollups.Key = ("cac", "ban", "fraud", "c1", "")
    k2: rollups.Key = ("mps", "warn", "obscene", "c1", "sa1")
    _apply(conn, "actions", [(1, k1, DAYS[0], 1), (2, k2, DAYS[0], 1), (2, k1, DAYS[1], 1)], {1, 2})

    def having(**values: str) -> list[int]:
        sql, params = rollups.subject_filter("actions", "s.id", values)
        rows = conn.execute(
            f"SELECT s.id FROM (SELECT 1 AS id UNION SELECT 2 UNION SELECT 3) s WHERE {sql} "
            "ORDER BY s.id",
            params,
        )
        return [r[0] for r in rows]

    assert having() == [1, 2, 3]
    assert having(department="cac") == [1, 2]
    assert having(department="mps", campaign_id="c1") == [2]
    assert having(department="cac", category="obscene") == []
    _apply(conn, "actions", [(2, k1, DAYS[1], -1)], set())
    assert having(department="cac") == [1]
    assert having(campaign_id="c1") == [1, 2]


def test_the_key_migration_keeps_every_counter(conn: SqliteConn, tmp_path: pathlib.Path) -> None:
    """Migration 0004 names keys by id in the counts per day and the marks: a database at
    0003, holding what a random history left (by values), comes out with the rows the writes
    keep now, key ids included, and the same answers."""
    rng = random.Random(5)
    live = _random_history(conn, rng, "actions", steps=40)
    _random_history(conn, random.Random(6), "other", steps=10)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for path in sorted(RUNTIME_MIGRATIONS.glob("000[123]_*.sql")):
        shutil.copy(path, earlier)
    old = sqlite3.connect(":memory:", isolation_level=None, factory=SqliteConn)
    apply_migrations(old, [("runtime", earlier)])
    dims = ", ".join(f"k.{d}" for d in DIMS)
    old.executemany(
        "INSERT INTO rollup_counts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        conn.execute(
            f"SELECT k.rollup, {dims}, c.day, c.n FROM rollup_counts c "
            "JOIN rollup_keys k ON k.id = c.key_id"
        ),
    )
    old.executemany(
        "INSERT INTO rollup_marks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        conn.execute(
            f"SELECT k.rollup, m.subject_id, {dims}, m.n FROM rollup_marks m "
            "JOIN rollup_keys k ON k.id = m.key_id"
        ),
    )
    for table in ("rollup_totals", "rollup_single", "rollup_distinct"):
        old.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)",
            conn.execute(f"SELECT * FROM {table}"),
        )
    assert apply_migrations(old, [("runtime", RUNTIME_MIGRATIONS)])[:3] == [  # and later ones
        "runtime/0004_rollup_keys.sql",
        "runtime/0005_rollup_primary.sql",
        "runtime/0006_rollup_key_collision.sql",
    ]
    # (The writes may also keep keys no counter names any more: a batch's records came and went.)
    used = "id IN (SELECT key_id FROM rollup_counts UNION SELECT key_id FROM rollup_marks)"
    for table, where in (("rollup_keys", used), ("rollup_counts", "1"), ("rollup_marks", "1")):
        rows = f"SELECT * FROM {table} WHERE {where} ORDER BY 1, 2"
        assert old.execute(rows).fetchall() == conn.execute(rows).fetchall(), table
    for q in _queries(rng)[:100]:
        assert observed(old, "actions", q) == brute_force(live, q), q
    old.close()


def test_a_key_under_another_keys_id_fails_the_write(conn: SqliteConn) -> None:
    key: rollups.Key = ("cac", "ban", "fraud", "c1", "")
    _apply(conn, "actions", [(1, key, DAYS[0], 1)], {1})
    _apply(conn, "actions", [(2, key, DAYS[1], 1)], {2})  # the same key again: no conflict
    # As if another key hashed to the id of this one: its row holds the other key's values.
    other: rollups.Key = ("mps", "warn", "obscene", "", "sa1")
    conn.execute("DELETE FROM rollup_keys")
    conn.execute(
        "INSERT INTO rollup_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rollups.key_id("actions", key), "actions", *other),
    )
    tables = ("rollup_counts", "rollup_totals", "rollup_marks", "rollup_single", "rollup_keys")
    before = {t: sorted(conn.execute(f"SELECT * FROM {t}")) for t in tables}
    with pytest.raises(sqlite3.IntegrityError, match="rollup key id collision"):
        _apply(conn, "actions", [(3, key, DAYS[2], 1)], {3})
    conn.execute("ROLLBACK")
    assert {t: sorted(conn.execute(f"SELECT * FROM {t}")) for t in tables} == before
