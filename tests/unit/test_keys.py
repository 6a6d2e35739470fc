"""The shared book of natural keys and the ids the writer hands out, on a real database: new
subjects get ids in turn across the jobs of one group commit, a subject made for a refused
record is not stored and its id is given back, and a failing job leaves the ids as it found
them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from services.common.hashing import hash64
from services.common.storage import Conn
from services.common.storage.keys import Book
from services.common.storage.sqlite import Sqlite
from services.common.storage.writer import Database

MIGRATIONS = (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, ident_key INTEGER NOT NULL UNIQUE, "
    "name TEXT NOT NULL, revision INTEGER NOT NULL);\n"
)


@dataclass
class Item:
    id: int
    name: str
    revision: int


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_items.sql").write_text(MIGRATIONS)
    database = Database(Sqlite(tmp_path / "test.db"))
    await database.open([("test", migrations)])
    yield database
    await database.close()


def new_item(name: str, item_id: int) -> Item:
    return Item(item_id, name, 0)


def upsert(names: list[str], refused: frozenset[str] = frozenset()) -> Callable[[Conn], None]:
    """A write of one record per name; a refused record makes its item but does not keep it."""

    def job(conn: Conn) -> None:
        keys = {n: hash64(n) for n in names}
        stored = {
            key: Item(i, name, rev)
            for key, i, name, rev in conn.execute("SELECT ident_key, id, name, revision FROM items")
            if key in keys.values()
        }
        book = Book(conn, "items", stored)
        for name in names:
            item = book.get(keys[name]) or book.make(keys[name], partial(new_item, name))
            if name not in refused:
                book.touch(item)
        new, changed = book.settle()
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [(s.id, key, s.name, s.revision) for key, s in new],
        )
        conn.executemany(
            "UPDATE items SET revision = ? WHERE id = ?", [(s.revision, s.id) for s in changed]
        )

    return job


def stored(path: Path) -> dict[str, tuple[int, int]]:
    with sqlite3.connect(path) as conn:
        return {n: (i, rev) for i, n, rev in conn.execute("SELECT id, name, revision FROM items")}


def _path(db: Database) -> Path:
    assert isinstance(db.backend, Sqlite)
    return db.backend.path


async def test_a_subject_made_for_a_refused_record_is_not_stored(db: Database) -> None:
    await db.write(upsert(["a", "b", "c"], refused=frozenset({"b"})))
    assert stored(_path(db)) == {"a": (1, 1), "c": (3, 1)}
    await db.write(upsert(["a", "d"]))  # a stored one changes; a new one takes the next id
    assert stored(_path(db)) == {"a": (1, 2), "c": (3, 1), "d": (4, 1)}
    await db.write(upsert(["e"], refused=frozenset({"e"})))  # the last id made is given back
    await db.write(upsert(["f"]))
    assert stored(_path(db))["f"] == (5, 1)


async def test_jobs_of_one_group_take_ids_in_turn(db: Database) -> None:
    def failing(conn: Conn) -> None:
        upsert(["x", "y"])(conn)
        raise ValueError("refused after writing")

    results = await asyncio.gather(
        db.write(upsert(["a", "b"])),
        db.write(failing),
        db.write(upsert(["c"])),
        db.write(upsert(["a", "d"])),
        return_exceptions=True,
    )
    assert isinstance(results[1], ValueError)
    # The failing job's ids went back: the jobs after it took them.
    assert stored(_path(db)) == {"a": (1, 2), "b": (2, 1), "c": (3, 1), "d": (4, 1)}
