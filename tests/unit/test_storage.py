"""The writer's group commit, on a real database file: jobs and batched items waiting at once
share a transaction, and a failing one undoes only itself."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest

from services.common.storage.sql import add_counts
from services.common.storage.writer import Database

MIGRATIONS = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_items.sql").write_text(MIGRATIONS)
    database = Database(tmp_path / "test.db")
    await database.open([("test", migrations)])
    yield database
    await database.close()


def names(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM items ORDER BY name")]


def counters(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT department, n FROM rollup_totals WHERE rollup = 'test' ORDER BY 1"
        )
        return dict(rows)


def insert(name: str) -> Any:
    def job(conn: sqlite3.Connection) -> int:
        cursor = conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
        add_counts(conn, "rollup_totals", {("test", name, "", "", "", ""): 1})
        if name.startswith("bad"):
            raise ValueError(f"{name} refused")
        return int(cursor.lastrowid or 0)

    return job


class Batches:
    """A batch run that records how it was called; 'no-*' items are refused, 'boom' makes the
    whole call raise."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, conn: sqlite3.Connection, items: list[str]) -> list[tuple[bool, Any]]:
        self.calls.append(list(items))
        if "boom" in items and len(items) > 1:
            conn.execute("INSERT INTO items (name) VALUES ('half-written')")
            raise RuntimeError("the batch broke")
        out: list[tuple[bool, Any]] = []
        for name in items:
            if name.startswith("no-") or name == "boom":
                out.append((False, ValueError(f"{name} refused")))
                continue
            conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
            out.append((True, name.upper()))
        return out


async def test_items_waiting_at_once_go_in_one_batch_each_answered(db: Database) -> None:
    run = Batches()
    answers = await asyncio.gather(*(db.write_batched(run, f"item-{i}", "k") for i in range(20)))
    assert answers == [f"ITEM-{i}" for i in range(20)]
    assert len(run.calls) < 20  # gathered, not one call per item
    assert sorted(x for call in run.calls for x in call) == sorted(f"item-{i}" for i in range(20))
    assert names(db.path) == sorted(f"item-{i}" for i in range(20))


async def test_items_of_other_keys_are_batched_apart(db: Database) -> None:
    run = Batches()
    await asyncio.gather(*(db.write_batched(run, f"{k}-{i}", k) for i in range(5) for k in "ab"))
    for call in run.calls:
        assert len({name[0] for name in call}) == 1


async def test_a_refused_item_gets_its_error_and_the_others_land(db: Database) -> None:
    run = Batches()
    results = await asyncio.gather(
        *(db.write_batched(run, name, "k") for name in ["a", "no-b", "c"]),
        return_exceptions=True,
    )
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError) and "no-b refused" in str(results[1])
    assert names(db.path) == ["a", "c"]


async def test_a_batch_that_raises_is_run_again_item_by_item(db: Database) -> None:
    run = Batches()
    results = await asyncio.gather(
        *(db.write_batched(run, name, "k") for name in ["a", "boom", "c"]),
        return_exceptions=True,
    )
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError)
    assert ["a"] in run.calls and ["c"] in run.calls  # each alone after the broken batch
    assert names(db.path) == ["a", "c"]  # nothing of the broken call is left


async def test_a_failing_job_among_others_undoes_only_itself(db: Database) -> None:
    results = await asyncio.gather(
        *(db.write(insert(name)) for name in ["x", "bad-y", "z"]), return_exceptions=True
    )
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert names(db.path) == ["x", "z"]
    assert counters(db.path) == {"x": 1, "z": 1}  # the failed job's counter is gone too


async def test_a_lone_failing_job_writes_nothing(db: Database) -> None:
    with pytest.raises(ValueError, match="bad-lone refused"):
        await db.write(insert("bad-lone"))
    assert names(db.path) == []
    assert counters(db.path) == {}
    assert await db.write(insert("after")) > 0  # the writer goes on
    assert names(db.path) == ["after"]


async def test_jobs_and_batches_mixed_in_one_group(db: Database) -> None:
    run = Batches()
    results = await asyncio.gather(
        db.write(insert("job-1")),
        db.write_batched(run, "batched-1", "k"),
        db.write(insert("bad-job")),
        db.write_batched(run, "batched-2", "k"),
        return_exceptions=True,
    )
    assert isinstance(results[2], ValueError)
    assert results[1] == "BATCHED-1" and results[3] == "BATCHED-2"
    assert names(db.path) == ["batched-1", "batched-2", "job-1"]


class Held:
    """A stepped job that inserts its names one step at a time and stays paused after the
    first until released; 'bad-*' names make it fail at that step."""

    def __init__(self, *names: str, hold: bool = True) -> None:
        self.names, self.released, self.started = names, asyncio.Event(), asyncio.Event()
        if not hold:
            self.released.set()

    def __call__(self, conn: sqlite3.Connection) -> Generator[None, None, int]:
        for i, name in enumerate(self.names):
            insert(name)(conn)
            self.started.set()
            deadline = time.monotonic() + 30  # a guard: a loop that never went on hangs here
            while i == 0 and not self.released.is_set():
                assert time.monotonic() < deadline, "never released"
                yield
            yield
        return len(self.names)


async def test_a_stepped_job_lets_the_loop_serve_reads_and_holds_back_writes(
    db: Database,
) -> None:
    job = Held("s-1", "s-2", "s-3")
    stepped = asyncio.ensure_future(db.write_in_steps(job))
    await job.started.wait()
    # Mid-transaction, the event loop goes on: a read is answered, from the last commit.
    read = await db.read(lambda c: c.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    assert read == 0
    later = asyncio.ensure_future(db.write(insert("after")))
    await asyncio.sleep(0.05)
    assert not later.done()  # the writer is the stepped job's until it commits
    job.released.set()
    assert await stepped == 3
    await later
    assert names(db.path) == ["after", "s-1", "s-2", "s-3"]
    assert counters(db.path) == {"after": 1, "s-1": 1, "s-2": 1, "s-3": 1}


async def test_a_failing_stepped_job_writes_nothing_and_the_writer_goes_on(
    db: Database,
) -> None:
    with pytest.raises(ValueError, match="bad-2 refused"):
        await db.write_in_steps(Held("s-1", "bad-2", "s-3", hold=False))
    assert names(db.path) == []
    assert counters(db.path) == {}
    results = await asyncio.gather(
        db.write(insert("x")), db.write_in_steps(Held("y", hold=False)), db.write(insert("z"))
    )
    assert results[1] == 1
    assert names(db.path) == ["x", "y", "z"]


async def test_writes_after_close_are_refused_cleanly(tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    database = Database(tmp_path / "closed.db")
    await database.open([("test", migrations)])
    await database.close()
    with pytest.raises(Exception, match="not open"):
        await database.write(lambda conn: None)


async def test_the_wal_is_checkpointed_and_starts_over(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints run between groups (here after every one): the WAL file stays small however
    much is written, and every write lands."""
    monkeypatch.setattr("services.common.storage.writer.CHECKPOINT_SECONDS", 0.0)
    blob = "x" * 65_536
    for i in range(40):  # 2.5 MB in all
        await db.write(insert(f"{i:03d}{blob}"))
    wal = db.path.with_name(db.path.name + "-wal")
    assert wal.stat().st_size < 1_000_000
    assert len(names(db.path)) == 40
    with sqlite3.connect(db.path) as conn:  # the database file itself has them
        (frames, checkpointed) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1:]
        assert frames == checkpointed
