"""The bench at a tiny size, so that its code keeps working (figures are not checked)."""

from __future__ import annotations

from pathlib import Path

from bench import __main__ as cli
from bench import content, gateway, importing, unary


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
