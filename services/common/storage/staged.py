"""Set-based batch writes: a batch's rows staged in a temporary table, then one statement per
step over all of them (resolve keys, find repeated request ids, apply the rules, insert the
records, count them), in the writing transaction.

A stage is a temporary table of the writer's connection (kept in memory): what Python puts
in it per record is only what it read and checked (the row), and `idx` (the record's place
in its stream) names a record in every answer. Statements mark a refused record `state = 1`
and leave it out of every later step; what is left (`state = 0`) is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain

from services.common.errors import FieldViolation, InvalidArgument, Reject
from services.common.storage import TEMP_TABLES, Conn
from services.common.storage.postgres import PgConn

ACCEPTED = 0
REFUSED = 1
LOAD_ROWS = 500  # rows a statement (their values well under SQLite's 32,766 parameters)
# A record's provisional id while its subject is folded one record at a time (ids are handed
# out at insert, in the batch's order, after every stored one): LATE_ID + its idx, which
# orders records of the same time as their ids will.
LATE_ID = 1 << 62


@lru_cache(maxsize=64)
def _rows_sql(table: str, columns: str, width: int, rows: int) -> str:
    row = f"({', '.join('?' * width)})"
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * rows)}"


# Rows a stage on PostgreSQL may hold dead (deleted) before it is truncated: no autovacuum
# visits a temporary table, so dead rows would pile up batch after batch; but TRUNCATE costs
# a few milliseconds (a new file), more than a unary write's whole batch of statements.
DEAD_ROWS = 5000


def reset(conn: Conn, table: str, columns: str, indexes: Sequence[str] = ()) -> None:
    """Empty the temporary table, made (with its indexes) on its first use on this
    connection: by DELETE, and on PostgreSQL by TRUNCATE once DEAD_ROWS rows lie dead."""
    made: dict[str, int] = conn.bound.setdefault(TEMP_TABLES, {})  # table -> dead rows
    if table not in made:
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns})")
        for n, index in enumerate(indexes):
            conn.execute(f"CREATE INDEX IF NOT EXISTS temp.{table}_{n} ON {table} ({index})")
        made[table] = 0
    if made[table] >= DEAD_ROWS and isinstance(conn, PgConn):
        conn.execute(f"TRUNCATE {table}")
        made[table] = 0
    else:
        made[table] += max(conn.execute(f"DELETE FROM {table}").rowcount, 0)


def analyze(conn: Conn, table: str) -> None:
    """On PostgreSQL, the planner's statistics of a table that has just grown new kinds of
    rows (new rollup keys): a table made moments ago has none until autovacuum comes by, and
    the planner, taking a key's rollup for a rare value, drives its joins from the keys (a
    probe per key and subject) instead of from the batch. SQLite plans without them."""
    if isinstance(conn, PgConn):
        conn.execute(f"ANALYZE {table}")


@dataclass(frozen=True)
class Stage:
    """A temporary table of a batch's rows.

    columns: what each staged row holds, in order (`idx` first, then `request_key`,
    `body_hash`, `request_id` when the records carry request ids); computed: the columns
    the statements fill (SQL column definitions); dims: the columns holding a record's
    five rollup dimension values, in rollups.DIMS order; day: its day column; text: the
    columns that hold text (the others hold integers)."""

    table: str
    columns: tuple[str, ...]
    computed: tuple[str, ...] = ()
    dims: tuple[str, ...] = ()
    day: str = "day"
    indexes: tuple[str, ...] = ()  # column lists to index, e.g. "ident_key, idx"
    text: frozenset[str] = frozenset()

    def insert_sql(self, rows: int) -> str:
        """One statement for this many rows: a long stage is loaded in one step each
        LOAD_ROWS rows, not a step (and a hand-over of the GIL) a row."""
        return _rows_sql(self.table, ", ".join(self.columns), len(self.columns), rows)

    @cached_property
    def ddl(self) -> str:
        return ", ".join(
            [
                "idx INTEGER PRIMARY KEY",
                *(
                    f"{c} TEXT" if c in self.text else f"{c} INTEGER"
                    for c in self.columns
                    if c != "idx"
                ),
                f"state INTEGER NOT NULL DEFAULT {ACCEPTED}",
                "key_id INTEGER",
                *self.computed,
            ]
        )

    def load(self, conn: Conn, rows: Sequence[tuple[object, ...]]) -> None:
        """The batch's rows, in place of the last batch's: by COPY on PostgreSQL."""
        reset(conn, self.table, self.ddl, self.indexes)
        if isinstance(conn, PgConn):
            conn.copy_rows(self.table, self.columns, rows)
            return
        for i in range(0, len(rows), LOAD_ROWS):
            chunk = rows[i : i + LOAD_ROWS]
            conn.execute(self.insert_sql(len(chunk)), list(chain.from_iterable(chunk)))

    def refuse(self, conn: Conn, indexes: Iterable[int]) -> None:
        conn.executemany(
            f"UPDATE {self.table} SET state = {REFUSED} WHERE idx = ?", [(i,) for i in indexes]
        )

    def late(self, conn: Conn, subject: str) -> list[tuple[int, int]]:
        """(idx, subject) of the accepted records marked late (their subjects folded one
        record at a time), in the batch's order."""
        return conn.execute(
            f"SELECT idx, {subject} FROM {self.table} WHERE late = 1 AND state = {ACCEPTED} "
            "ORDER BY idx"
        ).fetchall()

    def campaign(self, conn: Conn) -> str:
        """The campaign the accepted records name, if they all name one (else "")."""
        found = conn.execute(
            f"SELECT DISTINCT campaign_id FROM {self.table} WHERE state = {ACCEPTED} LIMIT 2"
        ).fetchall()
        return str(found[0][0]) if len(found) == 1 else ""

    def accepted(self, conn: Conn) -> list[int]:
        """The indexes of the records still accepted, in order."""
        return [
            i
            for (i,) in conn.execute(
                f"SELECT idx FROM {self.table} WHERE state = {ACCEPTED} ORDER BY idx"
            )
        ]


REUSED = Reject(
    InvalidArgument(
        [FieldViolation("request_id", "already used for a different record")],
        reason="REQUEST_ID_REUSED",
    ),
    "request_id",
)


class Repeats:
    """Request ids repeated within one batch, found as its rows are built: a later record
    with an earlier one's request id is a duplicate of it (the same body) or refused (another
    body), and is not staged."""

    def __init__(self) -> None:
        self.first: dict[int, tuple[str, int, int]] = {}  # request key -> (id, body, idx)
        self.of: dict[int, int] = {}  # a duplicate's idx -> the idx of the record it repeats
        self.reused: list[int] = []

    def seen(self, idx: int, key: int, request_id: str, body: int) -> bool:
        """Whether the record repeats an earlier one of the batch (and is not to be staged)."""
        first = self.first.get(key)
        if first is None:
            self.first[key] = (request_id, body, idx)
            return False
        if first[0] == request_id and first[1] == body:
            self.of[idx] = first[2]
        else:
            self.reused.append(idx)
        return True


class Requests:
    """A batch's request ids against the stored records (one join): a staged record whose
    request id a stored one holds is a repeat of it (prior: idx -> that record's id) when
    it is the same request (the same id and body), else refused; either way it is left out
    of the later steps. A repeat within the batch (Repeats) goes as the record it repeats
    went (settle). refused: idx -> why, the later steps adding theirs."""

    def __init__(self, conn: Conn, stage: Stage, records: str, repeats: Repeats) -> None:
        self.repeats = repeats
        self.prior: dict[int, int] = {}
        self.refused: dict[int, Reject] = {idx: REUSED for idx in repeats.reused}
        for idx, record_id, same in conn.execute(
            f"SELECT s.idx, r.id, r.request_id = s.request_id AND r.body_hash = s.body_hash "
            f"FROM {stage.table} s JOIN {records} r ON r.request_key = s.request_key"
        ):
            if same:
                self.prior[idx] = record_id
            else:
                self.refused[idx] = REUSED
        stage.refuse(conn, [*self.prior, *self.refused])

    def refuse(self, conn: Conn, stage: Stage, refused: dict[int, Reject]) -> None:
        """Refuse more of the staged records (a later step's rules)."""
        stage.refuse(conn, refused)
        self.refused.update(refused)

    def settle(self, ids: dict[int, int]) -> None:
        """A repeat within the batch as the record it repeats went, once the accepted ones
        have their ids (ids: idx -> record id)."""
        for idx, first in self.repeats.of.items():
            if first in ids:
                self.prior[idx] = ids[first]
            elif first in self.prior:
                self.prior[idx] = self.prior[first]
            else:
                self.refused[idx] = self.refused.get(first, REUSED)
