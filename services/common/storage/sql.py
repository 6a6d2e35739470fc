"""SQL helpers for units of work: IN lists, counter upserts, log rows and values a group of
jobs shares until its commit (see writer.py for the group commit)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from services.common.storage import Conn

T = TypeVar("T")
Counts = Mapping[tuple[object, ...], int]
Flush = Callable[[Conn, Any], None]


@dataclass
class Group:
    """What the jobs of one group commit share, written once before its COMMIT.

    counters: additive counter rows (key columns -> n) the running job adds; summed over the
    group, so thirty jobs touching the same counters cost one upsert per counter, not thirty.
    rows: rows of append-only logs no job reads back (audit, change feed), per table, in the
    order added; inserted many to a statement.
    values: values the jobs keep for the whole group (e.g. the audit chain's head), each with
    the function that writes it. A job that fails adds nothing and leaves the values as it
    found them.
    """

    counters: dict[str, dict[tuple[object, ...], int]] = field(default_factory=dict)
    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    values: dict[str, tuple[Any, Flush | None]] = field(default_factory=dict)

    def write(self, conn: Conn) -> None:
        """Write what the jobs added: log rows, counter sums, kept values."""
        for table, rows in self.rows.items():
            insert_rows(conn, table, rows)
        for table, sums in self.counters.items():
            upsert_add(conn, table, [(*k, n) for k, n in sums.items() if n])
        for kept, flush in self.values.values():
            if flush is not None:
                flush(conn, kept)


_group: ContextVar[Group | None] = ContextVar("group", default=None)


@contextmanager
def grouped(state: Group) -> Iterator[Group]:
    """The jobs run inside the block add to state (the helpers below) instead of writing."""
    token = _group.set(state)
    try:
        yield state
    finally:
        _group.reset(token)


NO_LIMIT = (1 << 63) - 1  # a LIMIT that keeps every row (both dialects take it)
IN_CHUNK = 500  # values per IN (...) list: well under SQLite's parameter limit


def rows_in(conn: Conn, sql: str, values: Iterable[object], *before: object) -> Iterator[Any]:
    """The rows of sql, whose `{ids}` stands for an IN list of the values (distinct, asked
    IN_CHUNK at a time); the parameters before them go first."""
    unique = list(dict.fromkeys(values))
    for i in range(0, len(unique), IN_CHUNK):
        chunk = unique[i : i + IN_CHUNK]
        yield from conn.execute(sql.replace("{ids}", ",".join("?" * len(chunk))), (*before, *chunk))


def children_of(
    conn: Conn, table: str, columns: str, parent: str, parents: list[int]
) -> dict[int, list[Any]]:
    """The rows (columns) of these parents (parent: the column naming one), each parent's in
    id order: one statement per IN_CHUNK parents."""
    found: dict[int, list[Any]] = {p: [] for p in parents}
    sql = f"SELECT {parent}, {columns} FROM {table} WHERE {parent} IN ({{ids}}) ORDER BY id"
    for key, *row in rows_in(conn, sql, parents):
        found[key].append(tuple(row))
    return found


def add_counts(conn: Conn, table: str, counts: Counts) -> None:
    """Add each n to the counter row of its key (the key columns): at the group's commit
    inside a group commit, at once otherwise. table: as upsert_add's."""
    group = _group.get()
    if group is None:
        upsert_add(conn, table, [(*k, n) for k, n in counts.items() if n])
        return
    sums = group.counters.get(table)
    if sums is None:
        group.counters[table] = dict(counts)
        return
    for k, n in counts.items():
        sums[k] = sums.get(k, 0) + n


def add_row(conn: Conn, table: str, row: tuple[object, ...]) -> None:
    """Insert a row of an append-only log that no job reads back: at the group's commit (after
    the rows of the jobs before) inside a group commit, at once otherwise. table: the table
    with its column list, e.g. "log (a, b)"."""
    group = _group.get()
    if group is None:
        insert_rows(conn, table, [row])
    else:
        group.rows.setdefault(table, []).append(row)


def insert_rows(conn: Conn, table: str, rows: list[tuple[object, ...]]) -> None:
    """Insert rows in order (table: its name and column list, e.g. "log (a, b)")."""
    if rows:
        conn.executemany(_values_sql(f"INSERT INTO {table}", len(rows[0])), rows)


def group_value(conn: Conn, key: str, load: Callable[[Conn], T]) -> T:
    """The value kept under key in this group commit (loaded on first use), or load(conn)
    outside one."""
    group = _group.get()
    if group is None:
        return load(conn)
    kept = group.values.get(key)
    if kept is None:
        value = load(conn)
        group.values[key] = (value, None)
        return value
    return kept[0]  # type: ignore[no-any-return]


def keep_value(conn: Conn, key: str, value: object, flush: Flush | None) -> None:
    """Set the value under key: flush(conn, value) writes it (if it is to be written), once
    before the group's COMMIT inside a group commit, at once otherwise."""
    group = _group.get()
    if group is None:
        if flush is not None:
            flush(conn, value)
    else:
        group.values[key] = (value, flush)


@cache
def _values_sql(head: str, width: int, tail: str = "") -> str:
    return f"{head} VALUES ({', '.join('?' * width)}){tail}"


def upsert_add(conn: Conn, table: str, rows: list[tuple[object, ...]]) -> None:
    """Add each row's n to the counter with its key, now. table: the counter table and its
    columns, the key's and then n, e.g. "counts (key_id, day, n)"."""
    if rows:
        conn.executemany(_upsert_sql(table, len(rows[0])), rows)


@cache
def _upsert_sql(table: str, width: int) -> str:
    name, columns = table.split(" ", 1)
    key = ", ".join(c.strip() for c in columns.strip("()").split(",")[:-1])
    return _values_sql(
        f"INSERT INTO {table}",
        width,
        f" ON CONFLICT ({key}) DO UPDATE SET n = {name}.n + excluded.n",
    )
