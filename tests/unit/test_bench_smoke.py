"""The bench at a tiny size, so that its code keeps working (figures are not checked): on
SQLite, and on PostgreSQL (where no server answers, that half skips, saying why)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from bench import __main__ as cli
from bench import content, gateway, importing, replicas, unary
from bench.backend import Backend
from tests.support.stores import SessionDatabase


async def test_bench_runs_at_a_tiny_size(tmp_path: Path) -> None:
    imp = await importing.run(tmp_path / "import", records=2_000, batch=500, rounds=1)
    assert imp.baseline.records == imp.service.records == 2_000
    assert imp.baseline.per_second > 0 and imp.service.per_second > 0
    (status,) = imp.status
    assert status.idle and all(s > 0 for s in status.idle + status.importing)

    results = await unary.run(tmp_path / "unary", levels=(4,), calls=200, warmup=20, rounds=1)
    assert [r.server for r in results] == [
        "accounts RecordAction",
        "sites RecordSiteAction",
        "cases RecordClue",
    ]
    for r in results:
        assert r.echo.calls == r.service.calls == 200
        assert 0 < r.service.percentile(50) <= r.service.percentile(99)

    cont = await content.run(tmp_path / "content", 2_000, batch=500, rounds=1)
    assert cont.baseline.records == cont.service.records == 2_000

    gw = await gateway.run(tmp_path / "gateway", small=200, large=400, rounds=3)
    assert set(gw.sources) == {"accounts", "sites", "cases"} and gw.gateway > 0

    everything = cli.Results(imp, results, cont, gw)
    text = "\n".join(
        cli.import_table(imp)
        + cli.unary_table(results, 200)
        + cli.gateway_table(gw, 3)
        + cli.summary(everything)
    )
    assert "(target ≥ 0.40)" in text and "(target ≥ 0.50)" in text
    assert "gateway over the slowest source" in text and "content" in text
    assert "GetStats from another process" in text


async def test_bench_runs_on_postgresql_at_a_tiny_size(
    tmp_path: Path, postgresql_database: SessionDatabase
) -> None:
    backend = Backend(postgresql_database.url)
    imp = await importing.run(tmp_path / "import", 2_000, 500, 1, backend)
    assert imp.baseline.records == imp.service.records == 2_000

    results = await unary.run(tmp_path / "unary", (4,), 100, 10, 1, backend=backend)
    assert all(r.echo.calls == r.service.calls == 100 for r in results)

    cont = await content.run(tmp_path / "content", 2_000, 500, 1, backend)
    assert cont.baseline.records == cont.service.records == 2_000

    reps = await replicas.run(tmp_path / "replicas", backend, 2_000, 500, (4,), 100, 10)
    assert [r.case for r in reps] == ["import", "RecordAction@4"]
    assert all(t.rate > 0 and 0 <= t.held <= 1 for r in reps for t in r.ones + r.twos)

    gw = await gateway.run(tmp_path / "gateway", 200, 400, 3, database_url=backend.url)
    assert set(gw.sources) == {"accounts", "sites", "cases"} and gw.gateway > 0

    everything = cli.Results(imp, results, cont, gw, reps, backend.name)
    text = "\n".join(
        cli.import_table(imp) + cli.replica_table(reps, 2_000, 100) + cli.summary(everything)
    )
    assert "bare COPY (same rows, same schema)" in text and "fresh schemas each" in text
    assert "Summary (PostgreSQL)" in text and "replicas import ratio" in text
    # Every schema the run made for a side of a round is gone; the service schemas stay
    # for the session database's drop.
    with psycopg.connect(backend.url) as conn:
        schemas = {s for (s,) in conn.execute("SELECT nspname FROM pg_namespace")}
    assert not {s for s in schemas if s.startswith(("import_baseline", "content_service"))}
