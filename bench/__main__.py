"""make bench: the DESIGN §8 targets, each as a ratio to a limit measured in the same run.

python -m bench            # full sizes, best of 3 rounds (~1.5 minutes)
python -m bench --quick    # smaller sizes, one round (~20 seconds)

Each side of a ratio runs in turn, round after round, and each figure is the best round of
its side: on a shared machine, noise only ever slows a run down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from bench import content, gateway, importing, seed, unary
from services.common.importer import MAX_BATCH

IMPORT_TARGET = 0.40
UNARY_TARGET = 0.50
GATEWAY_OVERHEAD_MS = 5.0  # "the slowest source plus a few milliseconds"
SCALE_TARGET = 1.5  # status time, large data over small


@dataclass(frozen=True)
class Sizes:
    records: int
    batch: int
    calls: int
    warmup: int
    levels: tuple[int, ...]
    rounds: int  # each figure is the best of this many runs, the two sides alternating
    content: int  # content dispositions imported
    status_small: int  # account records before the first status timing
    status_large: int  # ... and before the second
    status_rounds: int  # status calls per timing (median)


FULL = Sizes(
    records=100_000,
    batch=1_000,
    calls=3_000,
    warmup=300,
    levels=(16, 64),
    rounds=3,
    content=200_000,
    status_small=10_000,
    status_large=200_000,
    status_rounds=50,
)
QUICK = Sizes(
    records=20_000,
    batch=1_000,
    calls=1_000,
    warmup=100,
    levels=(16, 64),
    rounds=1,
    content=20_000,
    status_small=2_000,
    status_large=20_000,
    status_rounds=20,
)


def ratio_text(ratio: float, target: float) -> str:
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    return f"ratio {ratio:.2f} (target ≥ {target:.2f})  {verdict}"


def _rounds(values: list[float]) -> str:
    return " ".join(f"{v:,.0f}" for v in values)


def import_table(
    r: importing.ImportResult,
    what: str = "ImportActions -> accounts server process",
    name: str = "import",
) -> list[str]:
    rows = [
        f"Import: client-streaming {what.split()[0]}, {r.service.records:,} records in batches of "
        f"{r.batch:,} per message; best of {len(r.services)} round(s), fresh databases each",
        f"  {'case':<44}{'records':>9}{'seconds':>9}{'records/s':>11}   every round (records/s)",
    ]
    for label, best, rates in (
        ("bare executemany (same rows, same schema)", r.baseline, r.baselines),
        (what, r.service, r.services),
    ):
        rows.append(
            f"  {label:<44}{best.records:>9,}{best.seconds:>9.2f}{best.per_second:>11,.0f}"
            f"   {_rounds([x.per_second for x in rates])}"
        )
    rows.append(f"  {name} {ratio_text(r.ratio, IMPORT_TARGET)}")
    for s in r.status:
        rows.append(
            f"  GetStats from another process, during one more import in batches of "
            f"{MAX_BATCH:,}: median {s.median(s.importing) * 1000:.1f} ms, worst "
            f"{s.worst(s.importing) * 1000:.1f} ms ({len(s.importing)} calls); before it: "
            f"median {s.median(s.idle) * 1000:.1f} ms"
        )
    return rows


def unary_table(results: list[unary.UnaryResult], calls: int) -> list[str]:
    rounds = len(results[0].services) if results else 0
    rows = [
        f"Unary: each service's record call against a bare grpc.aio echo server, {calls:,} calls"
        f" per run, servers in their own processes; best of {rounds} round(s)",
        f"  {'concurrency':>11}  {'server':<24}{'calls':>7}{'QPS':>8}{'p50 ms':>8}{'p99 ms':>8}"
        "   every round (QPS)",
    ]
    for level in dict.fromkeys(r.concurrency for r in results):
        at = [r for r in results if r.concurrency == level]
        for label, load, loads in [
            ("bare grpc.aio echo", at[0].echo, at[0].echoes),
            *((r.server, r.service, r.services) for r in at),
        ]:
            rows.append(
                f"  {level:>11}  {label:<24}{load.calls:>7,}{load.qps:>8,.0f}"
                f"{load.percentile(50) * 1000:>8.1f}{load.percentile(99) * 1000:>8.1f}"
                f"   {_rounds([x.qps for x in loads])}"
            )
        for r in at:
            rows.append(f"  {'':>11}  {_unary_name(r)} {ratio_text(r.ratio, UNARY_TARGET)}")
    return rows


def _unary_name(r: unary.UnaryResult) -> str:
    return f"unary@{r.concurrency} {r.server.split()[0]}"


@dataclass(frozen=True)
class Results:
    imp: importing.ImportResult
    unary: list[unary.UnaryResult]
    content: importing.ImportResult
    gateway: gateway.GatewayResult


def gateway_table(g: gateway.GatewayResult, rounds: int) -> list[str]:
    ok = "ok" if g.overhead <= GATEWAY_OVERHEAD_MS else "ABOVE TARGET"
    scale_ok = "ok" if g.scale_ratio <= SCALE_TARGET else "ABOVE TARGET"
    return [
        f"Gateway status: median of {rounds} GetCampaignStatus calls, the four processes as "
        "`make run` starts them; the same fan-out made directly for comparison",
        *(
            f"  {s:<44}{ms:>8.1f} ms"
            for s, ms in ((f"{name}'s share alone", ms) for name, ms in g.sources.items())
        ),
        f"  {'all three together, directly':<44}{g.direct:>8.1f} ms",
        f"  {'GetCampaignStatus through the gateway':<44}{g.gateway:>8.1f} ms",
        f"  gateway over the slowest source: {g.overhead:+.1f} ms (target ≤ "
        f"{GATEWAY_OVERHEAD_MS:.0f} ms)  {ok}",
        f"  gateway over the same fan-out made directly: {g.gateway - g.direct:+.1f} ms "
        "(on 2 cores the three sources slow each other down when asked together)",
        f"  status at {g.records_large:,} records {g.gateway_large:.1f} ms vs at "
        f"{g.records_small:,}: ratio {g.scale_ratio:.2f} (target ≤ {SCALE_TARGET})  {scale_ok}",
    ]


def summary(r: Results) -> list[str]:
    rows = [
        "Summary",
        f"  import     {r.imp.service.per_second:>10,.0f} rec/s vs "
        f"{r.imp.baseline.per_second:>10,.0f}   {ratio_text(r.imp.ratio, IMPORT_TARGET)}",
    ]
    for u in r.unary:
        rows.append(
            f"  {_unary_name(u):<19}{u.service.qps:>8,.0f} QPS vs {u.echo.qps:>8,.0f}"
            f"   {ratio_text(u.ratio, UNARY_TARGET)}"
        )
    rows.append(
        f"  content    {r.content.service.per_second:>10,.0f} rec/s vs "
        f"{r.content.baseline.per_second:>10,.0f}   {ratio_text(r.content.ratio, IMPORT_TARGET)}"
    )
    rows.append(
        f"  gateway    {r.gateway.overhead:>+10.1f} ms over the slowest source "
        f"({r.gateway.slowest:.1f} ms); large/small data {r.gateway.scale_ratio:.2f}"
    )
    met = (
        r.imp.ratio >= IMPORT_TARGET
        and r.content.ratio >= IMPORT_TARGET
        and all(u.ratio >= UNARY_TARGET for u in r.unary)
        and r.gateway.overhead <= GATEWAY_OVERHEAD_MS
        and r.gateway.scale_ratio <= SCALE_TARGET
    )
    rows.append(f"  {'all targets met' if met else 'some targets NOT met'}")
    return rows


def environment() -> str:
    return (
        f"Python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )


async def run(sizes: Sizes, workdir: Path, store: Path | None = None) -> Results:
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
    cont = await content.run(workdir / "content", sizes.content, sizes.batch, sizes.rounds)
    for line in import_table(cont, "ImportDispositions -> sites server process", "content import"):
        print(line, flush=True)
    print(flush=True)
    gw = await gateway.run(
        workdir / "gateway", sizes.status_small, sizes.status_large, sizes.status_rounds, store
    )
    for line in gateway_table(gw, sizes.status_rounds):
        print(line, flush=True)
    print(flush=True)
    return Results(imp, results, cont, gw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one round (~20 s)")
    parser.add_argument(
        "--seed",
        action="store_true",
        help="only the seed's scale: a CSV of accounts through `netnet import accounts`",
    )
    parser.add_argument("--seed-records", type=int, default=8_000_000, metavar="N")
    parser.add_argument(
        "--status-records",
        type=int,
        metavar="N",
        help="account records in the gateway's large store (default 200,000)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        metavar="DIR",
        help="keep the gateway's large store in DIR and reuse it between runs",
    )
    args = parser.parse_args(argv)
    if args.seed:
        print(f"Net Net bench (seed) — {environment()}\n", flush=True)
        with tempfile.TemporaryDirectory(prefix="netnet-seed-") as tmp:
            result = asyncio.run(seed.run(Path(tmp), args.seed_records))
        for line in seed.report(result):
            print(line)
        return 0
    sizes = QUICK if args.quick else FULL
    if args.status_records:
        sizes = replace(sizes, status_large=args.status_records)
    print(f"Net Net bench ({'quick' if args.quick else 'full'}) — {environment()}\n", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netnet-bench-") as tmp:
        results = asyncio.run(run(sizes, Path(tmp), args.store))
    for line in summary(results):
        print(line)
    print(f"  bench took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
