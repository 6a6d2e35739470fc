"""Opaque keyset page tokens, bound to the filter they were issued for."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from services.common import names
from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.common.storage import Conn
from services.common.storage.writer import Database

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _bind(filter_: Any) -> str:
    return hashlib.sha256(json.dumps(filter_, sort_keys=True).encode()).hexdigest()[:16]


def encode(filter_: Any, last_key: Any) -> str:
    raw = json.dumps({"f": _bind(filter_), "k": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, filter_: Any) -> Any:
    """The last key of the previous page, or None for the first page."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        bound, key = data["f"], data["k"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument([FieldViolation("page_token", "is not a valid page token")]) from None
    if bound != _bind(filter_):
        raise InvalidArgument([FieldViolation("page_token", "was issued for a different filter")])
    return key


def children_page(
    conn: Conn,
    table: str,
    columns: str,
    parent_column: str,
    parent_id: int,
    after_id: int,
    limit: int,
    newest_first: bool,
) -> list[Any]:
    """Rows of table belonging to one parent, in id order or newest first, after a keyset
    position (0: from the start)."""
    op, order = ("<", "DESC") if newest_first else (">", "ASC")
    start = after_id or (2**63 - 1 if newest_first else 0)
    return conn.execute(
        f"SELECT {columns} FROM {table} WHERE {parent_column} = ? AND id {op} ? "
        f"ORDER BY id {order} LIMIT ?",
        (parent_id, start, limit),
    ).fetchall()


def cut(
    rows: list[T], size: int, bound: Any, key: Callable[[T], Any] | None = None
) -> tuple[list[T], str]:
    """A page read one row past its size: the page, and the token of the next page (empty
    when this one is the last), keyed by key(row) or else row.id."""
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], encode(bound, key(last) if key else last.id)  # type: ignore[attr-defined]


def batch_ids(requested: Sequence[str], collection: str) -> list[int]:
    """The ids of a batch get's names (at most a page of them)."""
    if len(requested) > MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("names", f"at most {MAX_PAGE_SIZE}")])
    return [names.parse(n, f"names[{i}]", collection)[0] for i, n in enumerate(requested)]


def found_and_missing(
    requested: Sequence[str], ids: list[int], found: Mapping[int, R]
) -> tuple[list[R], list[str]]:
    """A batch get's answer in the order asked, and the names that did not resolve."""
    return (
        [found[i] for i in ids if i in found],
        [n for n, i in zip(requested, ids, strict=True) if i not in found],
    )


async def child_page(
    db: Database,
    parent: str,
    size: int,
    token: str,
    newest_first: bool,
    collection: str,
    exists: Callable[[Conn, int], bool],
    children: Callable[[Conn, int, int, int, bool], list[T]],
) -> tuple[list[T], str]:
    """A page of a parent's children, oldest or newest first: children(conn, parent id, after
    id, limit, newest_first) in one snapshot; NOT_FOUND when exists(conn, parent id) says the
    parent is not there."""
    (parent_id,) = names.parse(parent, "parent", collection)
    limit = page_size(size)
    bound = [parent, newest_first]
    after = decode(token, bound) or 0

    def read(c: Conn) -> list[T] | None:
        if not exists(c, parent_id):
            return None
        return children(c, parent_id, after, limit + 1, newest_first)

    rows = await db.read(read)
    if rows is None:
        raise NotFound(f"{parent} not found")
    return cut(rows, limit, bound)
