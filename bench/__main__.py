"""make bench: the DESIGN §8 targets, each as a ratio to a limit measured in the same run.

python -m bench            # full sizes, best of 3 rounds (~1.5 minutes)
python -m bench --quick    # smaller sizes, one round (~20 seconds)

Each side of a ratio runs in turn, round after round, and each figure is the best round of
its side: on a shared machine, noise only ever slows a run down.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog

from bench import importing, unary

IMPORT_TARGET = 0.40
UNARY_TARGET = 0.50


@dataclass(frozen=True)
class Sizes:
    records: int
    batch: int
    calls: int
    warmup: int
    levels: tuple[int, ...]
    rounds: int  # each figure is the best of this many runs, the two sides alternating


FULL = Sizes(records=100_000, batch=1_000, calls=3_000, warmup=300, levels=(16, 64), rounds=3)
QUICK = Sizes(records=20_000, batch=1_000, calls=1_000, warmup=100, levels=(16, 64), rounds=1)


def ratio_text(ratio: float, target: float) -> str:
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    return f"ratio {ratio:.2f} (target ≥ {target:.2f})  {verdict}"


def _rounds(values: list[float]) -> str:
    return " ".join(f"{v:,.0f}" for v in values)


def import_table(r: importing.ImportResult) -> list[str]:
    rows = [
        f"Import: client-streaming ImportActions, {r.service.records:,} records in batches of "
        f"{r.batch:,} per message; best of {len(r.services)} round(s), fresh databases each",
        f"  {'case':<44}{'records':>9}{'seconds':>9}{'records/s':>11}   every round (records/s)",
    ]
    for label, best, rates in (
        ("bare executemany (same rows, same schema)", r.baseline, r.baselines),
        ("ImportActions -> accounts server", r.service, r.services),
    ):
        rows.append(
            f"  {label:<44}{best.records:>9,}{best.seconds:>9.2f}{best.per_second:>11,.0f}"
            f"   {_rounds([x.per_second for x in rates])}"
        )
    rows.append(f"  import {ratio_text(r.ratio, IMPORT_TARGET)}")
    return rows


def unary_table(results: list[unary.UnaryResult], calls: int) -> list[str]:
    rounds = len(results[0].services) if results else 0
    rows = [
        f"Unary: RecordAction against a bare grpc.aio echo server, {calls:,} calls per run, "
        f"servers in their own processes; best of {rounds} round(s)",
        f"  {'concurrency':>11}  {'server':<22}{'calls':>7}{'QPS':>8}{'p50 ms':>8}{'p99 ms':>8}"
        "   every round (QPS)",
    ]
    for r in results:
        for label, load, loads in (
            ("bare grpc.aio echo", r.echo, r.echoes),
            ("accounts RecordAction", r.service, r.services),
        ):
            rows.append(
                f"  {r.concurrency:>11}  {label:<22}{load.calls:>7,}{load.qps:>8,.0f}"
                f"{load.percentile(50) * 1000:>8.1f}{load.percentile(99) * 1000:>8.1f}"
                f"   {_rounds([x.qps for x in loads])}"
            )
        rows.append(f"  {'':>11}  unary@{r.concurrency} {ratio_text(r.ratio, UNARY_TARGET)}")
    return rows


def summary(imp: importing.ImportResult, results: list[unary.UnaryResult]) -> list[str]:
    rows = [
        "Summary",
        f"  import     {imp.service.per_second:>10,.0f} rec/s vs {imp.baseline.per_second:>10,.0f}"
        f"   {ratio_text(imp.ratio, IMPORT_TARGET)}",
    ]
    for r in results:
        rows.append(
            f"  unary@{r.concurrency:<4}{r.service.qps:>10,.0f} QPS   vs {r.echo.qps:>10,.0f}"
            f"   {ratio_text(r.ratio, UNARY_TARGET)}"
        )
    met = imp.ratio >= IMPORT_TARGET and all(r.ratio >= UNARY_TARGET for r in results)
    rows.append(f"  {'all targets met' if met else 'some targets NOT met'}")
    return rows


def environment() -> str:
    return (
        f"Python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )


async def run(
    sizes: Sizes, workdir: Path
) -> tuple[importing.ImportResult, list[unary.UnaryResult]]:
    imp = await importing.run(workdir / "import", sizes.records, sizes.batch, sizes.rounds)
    for line in import_table(imp):
        print(line, flush=True)
    print(flush=True)
    results = await unary.run(
        workdir / "unary", sizes.levels, sizes.calls, sizes.warmup, sizes.rounds
    )
    for line in unary_table(results, sizes.calls):
        print(line, flush=True)
    print(flush=True)
    return imp, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one round (~20 s)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    # The in-process import server logs "serving" at INFO: keep the table readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(f"Net Net bench ({'quick' if args.quick else 'full'}) — {environment()}\n", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netnet-bench-") as tmp:
        imp, results = asyncio.run(run(sizes, Path(tmp)))
    for line in summary(imp, results):
        print(line)
    print(f"  bench took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
