"""Keyed audit chain: append in the writing transaction, checkpoint the head, verify on demand.

Each entry is linked to the one before by an HMAC-SHA256 under the audit key (a key of its own,
apart from the token signing key), and commits to the rows its write produced (a hash of their
columns that never change); it names the token the change was made with (its jti). Without
the key, an edited entry cannot be given a link that verifies, and an edited or deleted row
no longer matches its entry. What a key alone cannot show is an honest-looking earlier state:
the newest entries cut and the head moved back. A checkpoint does: the head's seq and hash,
signed with the key, kept outside the database.

Entries written before the chain was keyed (seq < keyed_from) are checked as they were
written, as plain sha256 links; keyed_from itself is sealed with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from services.common.context import Principal
from services.common.storage import Conn
from services.common.storage.sql import add_row, group_value, keep_value

COLUMNS = (
    "seq, time_us, operator, department, method, resource, request_id, outcome, prev_hash, "
    "hash, data, data_hash, token_id"
)
KEY = "audit_key"  # in Conn.bound


@dataclass(frozen=True)
class Entry:
    seq: int
    time_us: int
    operator: str
    department: str
    method: str
    resource: str
    request_id: str
    outcome: str
    prev_hash: str
    hash: str
    data: str = ""  # the rows committed to: "name:ids;..." (ids as runs, "4-9,12")
    data_hash: str = ""
    token_id: str = ""  # the jti of the token the change was made with ("" before tokens had one)


@dataclass(frozen=True)
class Covered:
    """Rows of an append-only table an entry can commit to: the columns that never change
    once written (a retraction is its own write, covered by its own view of the row)."""

    name: str
    table: str
    columns: str  # the first is the row id
    # Every row of the table (from the first an entry committed to on) is some entry's: a
    # row no entry wrote was put there by other means.
    every_row: bool = True

    def rows(self, ids: Iterable[int], written: Written | None = None) -> Rows:
        return Rows(self, list(ids), written)

    def each(self, ids: Sequence[int], written: Written) -> list[Rows]:
        """One Rows per row of a write that inserted several (unary calls written as one
        batch, an entry each), each hashed as inserted: no read-back per call."""
        columns, values = written
        return [Rows(self, [i], (columns, [v])) for i, v in zip(ids, values, strict=True)]


# The rows as the write inserted them: (the insert's column list, the value tuples), in id
# order. An import batch hashes them as they are, without reading them back.
Written = tuple[str, Sequence[tuple[object, ...]]]


@dataclass(frozen=True)
class Rows:
    covered: Covered
    ids: list[int]
    written: Written | None = None


COVERED: dict[str, Covered] = {}


def covered(table: str, columns: str, name: str = "", every_row: bool = True) -> Covered:
    """Declare (once, at import) rows that entries commit to; verify finds them by name."""
    c = Covered(name or table, table, columns, every_row)
    if COVERED.setdefault(c.name, c) != c:
        raise ValueError(f"{c.name!r} is declared twice, differently")
    return c


@dataclass(frozen=True)
class Checkpoint:
    """The head of a service's chain at a moment, signed with the audit key."""

    service: str
    seq: int
    hash: str
    keyed_from: int
    time_us: int
    mac: str = ""

    def message(self) -> str:
        return _message(
            "checkpoint", self.service, self.seq, self.hash, self.keyed_from, self.time_us
        )

    def json_line(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int = 0
    problem: str = ""
    rows_checked: int = 0
    checkpoints_checked: int = 0
    head_seq: int = 0
    keyed_from: int = 1
    newest_checkpoint_seq: int = 0


def _message(*fields: object) -> str:
    # JSON: no separator a field could hold to shift a boundary between fields.
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def bind_key(conn: Conn, key: bytes) -> None:
    """Give the connection the audit key: the writer links entries with it, and no tool
    without the key can."""
    conn.bound[KEY] = key


def _seal(key: bytes, keyed_from: int) -> str:
    return mac(key, _message("keyed-from", keyed_from))


def seal(conn: Conn, key: bytes) -> None:
    """Sign where the keyed chain starts, at the first start with the key (the entry after
    the head then). Not when keyed entries exist already: a seal gone missing stays missing,
    for verify to report."""
    head_seq, keyed_from, sealed = conn.execute(
        "SELECT seq, keyed_from, keyed_seal FROM audit_head WHERE id = 1"
    ).fetchone()
    if not sealed and keyed_from == head_seq + 1:
        conn.execute("UPDATE audit_head SET keyed_seal = ? WHERE id = 1", (_seal(key, keyed_from),))


def sign(key: bytes, checkpoint: Checkpoint) -> Checkpoint:
    return Checkpoint(**{**asdict(checkpoint), "mac": mac(key, checkpoint.message())})


def _plain_digest(e: Entry) -> str:
    """The link of an entry written before the chain was keyed."""
    fields = (
        str(e.seq),
        str(e.time_us),
        e.operator,
        e.department,
        e.method,
        e.resource,
        e.request_id,
        e.outcome,
        e.prev_hash,
    )
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def _link_message(e: Entry) -> str:
    # The token's id joins the message only when the entry has one: entries written before
    # entries named tokens keep the message they were linked with; blanking a token id
    # changes the message, so the link no longer verifies.
    extra = (e.token_id,) if e.token_id else ()
    return _message(
        e.seq,
        e.time_us,
        e.operator,
        e.department,
        e.method,
        e.resource,
        e.request_id,
        e.outcome,
        e.prev_hash,
        e.data,
        e.data_hash,
        *extra,
    )


def _runs(ids: list[int]) -> str:
    """Ids as runs: [4, 5, 6, 9] -> "4-6,9"."""
    out: list[str] = []
    start = prev = None
    for i in sorted(set(ids)):
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = i
    if start is not None:
        out.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(out)


def _ranges(runs: str) -> Iterator[tuple[int, int]]:
    for run in runs.split(","):
        first, _, last = run.partition("-")
        yield int(first), int(last or first)


def _parts(data: str) -> Iterator[tuple[str, str]]:
    for part in data.split(";") if data else ():
        name, _, runs = part.partition(":")
        yield name, runs


def _read(conn: Conn, c: Covered, runs: str) -> list[tuple[object, ...]]:
    sql = f"SELECT {c.columns} FROM {c.table} WHERE id BETWEEN ? AND ? ORDER BY id"
    rows: list[tuple[object, ...]] = []
    for first, last in _ranges(runs):
        rows += conn.execute(sql, (first, last)).fetchall()
    return rows


def _hash_rows(h: hashlib._Hash, part: str, rows: list[tuple[object, ...]]) -> None:
    # repr: the same text for the same stored values, each typed (1, '1' and None differ).
    h.update(part.encode())
    h.update(b"\n")
    h.update("\n".join(map(repr, rows)).encode())
    h.update(b"\n")


@cache
def _picker(covered_columns: str, inserted: str) -> Callable[[tuple[object, ...]], Any]:
    names = [c.strip() for c in inserted.split(",")]
    return itemgetter(*[names.index(c.strip()) for c in covered_columns.split(",")])


# What a column gives back as it was given (a bool or an enum comes back a plain int).
_AS_STORED = frozenset({int, str, float, bytes, type(None)})


def _as_written(r: Rows) -> list[tuple[object, ...]] | None:
    """The covered columns of the rows as inserted, when they are what a read would give."""
    assert r.written is not None
    columns, values = r.written
    picked = list(map(_picker(r.covered.columns, columns), values))
    if [p[0] for p in picked] != sorted(r.ids):
        return None
    if not set(map(type, chain.from_iterable(picked))) <= _AS_STORED:
        return None
    return picked


def _commit_to(conn: Conn, rows: Sequence[Rows]) -> tuple[str, str]:
    """The data text and hash of the rows a write produced: as inserted when the write
    hands them over (an import batch), else read as stored (the read verify makes: one
    statement per run of ids, not one per row)."""
    parts = [(r, _runs(r.ids)) for r in rows if r.ids]
    if not parts:
        return "", ""
    h = hashlib.sha256()
    for r, runs in parts:
        found = _as_written(r) if r.written else None
        if found is None:
            found = _read(conn, r.covered, runs)
        _hash_rows(h, f"{r.covered.name}:{runs}", found)
    return ";".join(f"{r.covered.name}:{runs}" for r, runs in parts), h.hexdigest()


def _head(conn: Conn) -> tuple[int, str]:
    seq, digest = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return int(seq), str(digest)


def _write_head(conn: Conn, head: tuple[int, str]) -> None:
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head)


def append(
    conn: Conn,
    principal: Principal,
    method: str,
    resource: str,
    request_id: str,
    outcome: str,
    now_us: int,
    rows: Sequence[Rows] = (),
) -> None:
    """Add the next link, committing to rows (written earlier in the same transaction). In a
    group commit the head is read and written once, and the entries inserted together, before
    COMMIT (db.keep_value, db.add_row). The connection holds the key (bind_key)."""
    seq, prev = group_value(conn, "audit_head", _head)
    seq += 1
    data, data_hash = _commit_to(conn, rows)
    e = Entry(
        seq,
        now_us,
        principal.operator,
        principal.department,
        method,
        resource,
        request_id,
        outcome,
        prev,
        "",
        data,
        data_hash,
        principal.token_id,
    )
    digest = mac(conn.bound[KEY], _link_message(e))
    add_row(
        conn,
        f"audit_log ({COLUMNS})",
        (
            e.seq,
            e.time_us,
            e.operator,
            e.department,
            e.method,
            e.resource,
            e.request_id,
            e.outcome,
            e.prev_hash,
            digest,
            e.data,
            e.data_hash,
            e.token_id,
        ),
    )
    keep_value(conn, "audit_head", (seq, digest), _write_head)


def page(conn: Conn, after_seq: int, limit: int) -> list[Entry]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
    ).fetchall()
    return [Entry(*row) for row in rows]


def head(conn: Conn, key: bytes, service: str, now_us: int) -> Checkpoint:
    """The chain's head now, signed."""
    seq, digest, keyed_from = conn.execute(
        "SELECT seq, hash, keyed_from FROM audit_head WHERE id = 1"
    ).fetchone()
    return sign(key, Checkpoint(service, seq, digest, keyed_from, now_us))


# --- checkpoints outside the database ------------------------------------------------------


def checkpoint_file(directory: Path, service: str) -> Path:
    return directory / f"{service}.audit-checkpoints.jsonl"


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Append a line to the checkpoint file (JSON lines), synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(checkpoint.json_line() + "\n")
        f.flush()
        os.fsync(f.fileno())


def parse_checkpoint(line: str) -> Checkpoint:
    """A checkpoint from its JSON line; ValueError when it is not one."""
    try:
        d = json.loads(line)
        c = Checkpoint(
            str(d["service"]),
            int(d["seq"]),
            str(d["hash"]),
            int(d["keyed_from"]),
            int(d["time_us"]),
            str(d["mac"]),
        )
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a checkpoint line") from None
    return c


def load_checkpoints(path: Path, service: str) -> tuple[list[Checkpoint], list[int]]:
    """The service's checkpoints in a file, and the numbers of the lines that are not one."""
    found: list[Checkpoint] = []
    bad: list[int] = []
    if not path.exists():
        return found, bad
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                c = parse_checkpoint(line)
            except ValueError:
                bad.append(n)
                continue
            if c.service == service:
                found.append(c)
    return found, bad


# --- verification --------------------------------------------------------------------------


@dataclass
class _Walk:
    checked: int = 0
    rows: int = 0
    prev: str = ""
    wanted: dict[int, list[Checkpoint]] = field(default_factory=dict)
    # per covered table (every_row): the first id committed to, and how many ids
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)

    def committed(self, c: Covered, ids: list[int]) -> None:
        if c.every_row and ids:
            first, n = self.tables.get(c.table, (ids[0], 0))
            self.tables[c.table] = (min(first, ids[0]), n + len(ids))


def _data_problem(conn: Conn, e: Entry, w: _Walk) -> tuple[str, int]:
    """What is wrong with the rows the entry commits to ("" if nothing), and how many were
    read."""
    h = hashlib.sha256()
    read = 0
    for name, runs in _parts(e.data):
        c = COVERED.get(name)
        if c is None:
            return f"entry {e.seq} commits to rows of {name!r}, unknown here", read
        rows = _read(conn, c, runs)
        read += len(rows)
        want = [i for first, last in _ranges(runs) for i in range(first, last + 1)]
        w.committed(c, want)
        got = [r[0] for r in rows]
        if got != want:
            missing = _runs(sorted(set(want).difference(got)))  # type: ignore[arg-type]
            return f"{c.table} rows {missing} of entry {e.seq} are missing", read
        _hash_rows(h, f"{name}:{runs}", rows)
    if h.hexdigest() != e.data_hash:
        return f"{e.data.replace(';', ', ')}: rows differ from what entry {e.seq} wrote", read
    return "", read


def verify(
    conn: Conn,
    key: bytes,
    checkpoints: Sequence[Checkpoint] = (),
    chunk: int = 2000,
) -> Verification:
    """Walk the chain in order: a gap, an edited field, a link not made with the key, a
    committed row edited or deleted, a head or checkpoint the chain does not reach."""
    head_seq, head_hash, keyed_from, sealed = conn.execute(
        "SELECT seq, hash, keyed_from, keyed_seal FROM audit_head WHERE id = 1"
    ).fetchone()
    w = _Walk()
    newest = max((c.seq for c in checkpoints), default=0)

    def bad(seq: int, problem: str) -> Verification:
        return Verification(
            False,
            w.checked,
            seq,
            problem,
            w.rows,
            len(checkpoints),
            head_seq,
            keyed_from,
            newest,
        )

    if not hmac.compare_digest(sealed, _seal(key, keyed_from)):
        return bad(
            min(keyed_from, head_seq + 1),
            f"where the keyed chain starts (entry {keyed_from}) is not sealed with the audit key",
        )
    for c in checkpoints:
        if not hmac.compare_digest(c.mac, mac(key, c.message())):
            return bad(c.seq, f"the checkpoint of entry {c.seq} is not signed with the audit key")
        if c.keyed_from != keyed_from:
            return bad(
                min(c.keyed_from, keyed_from),
                f"a checkpoint says the chain is keyed from entry {c.keyed_from}, "
                f"the database says {keyed_from}",
            )
        w.wanted.setdefault(c.seq, []).append(c)
    expected = 1
    while True:
        entries = page(conn, expected - 1, chunk)
        for e in entries:
            if e.seq != expected:
                return bad(expected, f"entry {expected} is missing")
            if e.prev_hash != w.prev:
                return bad(e.seq, "link to the previous entry is broken")
            if e.seq < keyed_from:
                if _plain_digest(e) != e.hash:
                    return bad(e.seq, "entry content does not match its hash")
            elif not hmac.compare_digest(mac(key, _link_message(e)), e.hash):
                return bad(e.seq, "entry content does not match its keyed hash")
            if e.data:
                problem, read = _data_problem(conn, e, w)
                w.rows += read
                if problem:
                    return bad(e.seq, problem)
            for c in w.wanted.get(e.seq, ()):
                if c.hash != e.hash:
                    return bad(e.seq, f"entry {e.seq} is not the one a checkpoint signed")
            w.prev, expected, w.checked = e.hash, expected + 1, w.checked + 1
        if len(entries) < chunk:
            break
    if head_seq != w.checked or head_hash != w.prev:
        return bad(
            w.checked + 1, f"chain ends at entry {w.checked} but was written up to {head_seq}"
        )
    if newest > w.checked:
        return bad(
            w.checked + 1,
            f"chain ends at entry {w.checked} but a checkpoint signed entry {newest}: "
            f"entries {w.checked + 1}-{newest} were cut",
        )
    for table, (first, n) in w.tables.items():
        (stored,) = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE id >= ?", (first,)).fetchone()
        if stored != n:
            return bad(0, f"{table}: {stored - n} of its rows from id {first} on no entry wrote")
    return Verification(
        True, w.checked, 0, "", w.rows, len(checkpoints), head_seq, keyed_from, newest
    )
