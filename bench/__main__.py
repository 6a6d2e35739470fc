"""make bench: the DESIGN §8 targets, each as a ratio to a limit measured in the same run.

python -m bench            # full sizes, best of 3 rounds (~1.5 minutes)
python -m bench --quick    # smaller sizes, one round (~20 seconds)
python -m bench --backend postgresql   # the services and the limits on PostgreSQL

Each side of a ratio runs in turn, round after round, and each figure is the best round of
its side: on a shared machine, noise only ever slows a run down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import grpc

from bench import content, gateway, importing, replicas, seed, unary
from bench.backend import (
    DEFAULT_SERVER,
    POSTGRESQL_NAME,
    Backend,
    ensure_database,
    run_database,
    server_version,
)
from services.common.importer import MAX_BATCH

IMPORT_TARGET = 0.40
UNARY_TARGET = 0.50
GATEWAY_OVERHEAD_MS = 5.0  # "the slowest source plus a few milliseconds"
SCALE_TARGET = 1.5  # status time, large data over small
REPLICA_TARGET = 1.5  # two replicas over one process, the same work
T = TypeVar("T")


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
    postgresql = r.backend == POSTGRESQL_NAME
    rows = [
        f"Import: client-streaming {what.split()[0]}, {r.service.records:,} records in batches of "
        f"{r.batch:,} per message; best of {len(r.services)} round(s), fresh "
        f"{'schemas' if postgresql else 'databases'} each",
        f"  {'case':<44}{'records':>9}{'seconds':>9}{'records/s':>11}   every round (records/s)",
    ]
    bare = "bare COPY" if postgresql else "bare executemany"
    for label, best, rates in (
        (f"{bare} (same rows, same schema)", r.baseline, r.baselines),
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


def replica_table(results: list[replicas.ReplicaResult], records: int, calls: int) -> list[str]:
    rounds = len(results[0].ones) if results else 0
    rows = [
        f"Replicas: two accounts processes on one PostgreSQL schema against one process, the "
        f"same work; best of {rounds} round(s)",
        f"  import: {records:,} records in two streams (two departments) sent at once; "
        f"RecordAction: {calls:,} calls per run over two channels",
        "  [held/waited]: the share of a run's pg_locks samples (every 20 ms) in which a writer "
        "held the write lock / one waited for it",
        f"  {'case':<44}{'figure':>9}  {'unit':<6}  every round [held/waited]",
    ]
    for r in results:
        streams = r.case == "import"
        for label, best, turns in (
            (f"{r.case}: one process" + (", both streams" if streams else ""), r.one, r.ones),
            (f"{r.case}: two replicas" + (", a stream each" if streams else ""), r.two, r.twos),
        ):
            every = "  ".join(f"{t.rate:,.0f} [{t.held:.0%}/{t.waited:.0%}]" for t in turns)
            rows.append(f"  {label:<44}{best.rate:>9,.0f}  {r.unit:<6}  {every}")
        rows.append(f"  {_replica_name(r)} {ratio_text(r.ratio, REPLICA_TARGET)}")
    return rows


def _replica_name(r: replicas.ReplicaResult) -> str:
    return "replicas import" if r.case == "import" else f"replicas@{r.case.split('@')[1]}"


@dataclass(frozen=True)
class Results:
    imp: importing.ImportResult
    unary: list[unary.UnaryResult]
    content: importing.ImportResult
    gateway: gateway.GatewayResult
    replicas: list[replicas.ReplicaResult] = field(default_factory=list)  # PostgreSQL only
    backend: str = ""  # named in the summary's header ("": SQLite, the default)


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
        f"Summary ({r.backend})" if r.backend else "Summary",
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
    for p in r.replicas:
        rows.append(
            f"  {_replica_name(p):<19}{p.two.rate:>8,.0f} {p.unit:<5} vs {p.one.rate:>8,.0f}"
            f"   {ratio_text(p.ratio, REPLICA_TARGET)}"
        )
    rows.append(
        f"  gateway    {r.gateway.overhead:>+10.1f} ms over the slowest source "
        f"({r.gateway.slowest:.1f} ms); large/small data {r.gateway.scale_ratio:.2f}"
    )
    met = (
        r.imp.ratio >= IMPORT_TARGET
        and r.content.ratio >= IMPORT_TARGET
        and all(u.ratio >= UNARY_TARGET for u in r.unary)
        and all(p.ratio >= REPLICA_TARGET for p in r.replicas)
        and r.gateway.overhead <= GATEWAY_OVERHEAD_MS
        and r.gateway.scale_ratio <= SCALE_TARGET
    )
    rows.append(f"  {'all targets met' if met else 'some targets NOT met'}")
    return rows


def environment(backend: Backend | None = None) -> str:
    server = (
        f"PostgreSQL {server_version(backend.url)} (server), " if backend and backend.url else ""
    )
    # The transport the servers are started with (they inherit this environment).
    transport = "plaintext"
    if os.environ.get("NETNET_TLS_CERT"):
        transport = "mutual TLS" if os.environ.get("NETNET_TLS_CLIENT_CA") else "TLS"
    return (
        f"Python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, {server}{os.cpu_count()} CPUs, {transport}"
    )


async def run(
    sizes: Sizes,
    workdir: Path,
    store: Path | None = None,
    backend: Backend | None = None,
    store_url: str = "",
) -> Results:
    """store (a directory), and on PostgreSQL store_url (a database): where the gateway's
    large store is kept between runs."""
    backend = backend or Backend()
    imp = await importing.run(workdir / "import", sizes.records, sizes.batch, sizes.rounds, backend)
    for line in import_table(imp):
        print(line, flush=True)
    print(flush=True)
    results = await unary.run(
        workdir / "unary", sizes.levels, sizes.calls, sizes.warmup, sizes.rounds, backend=backend
    )
    for line in unary_table(results, sizes.calls):
        print(line, flush=True)
    print(flush=True)
    cont = await content.run(workdir / "content", sizes.content, sizes.batch, sizes.rounds, backend)
    for line in import_table(cont, "ImportDispositions -> sites server process", "content import"):
        print(line, flush=True)
    print(flush=True)
    reps: list[replicas.ReplicaResult] = []
    if backend.postgresql:
        reps = await replicas.run(
            workdir / "replicas",
            backend,
            sizes.records,
            sizes.batch,
            sizes.levels,
            sizes.calls,
            sizes.warmup,
            sizes.rounds,
        )
        for line in replica_table(reps, sizes.records, sizes.calls):
            print(line, flush=True)
        print(flush=True)
    if store_url and store is None:
        store = workdir / "store"  # the keys and logs of a store kept in a database
    gw = await gateway.run(
        workdir / "gateway",
        sizes.status_small,
        sizes.status_large,
        sizes.status_rounds,
        store,
        backend.url,
        store_url,
    )
    for line in gateway_table(gw, sizes.status_rounds):
        print(line, flush=True)
    print(flush=True)
    return Results(imp, results, cont, gw, reps, backend.name if backend.postgresql else "")


async def terminable(work: Coroutine[Any, Any, T]) -> T:
    """work, cancelled on SIGTERM as on Ctrl-C: its servers stopped, the run's database
    dropped."""
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM,
        asyncio.current_task().cancel,  # type: ignore[union-attr]
    )
    return await work


@contextmanager
def backend_of(args: argparse.Namespace) -> Iterator[Backend]:
    """SQLite, or a PostgreSQL database of the run's own (dropped at the end, also on error)."""
    if args.backend == "sqlite":
        yield Backend()
        return
    with run_database(args.database_url) as backend:
        yield backend


_DATABASE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one round (~20 s)")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the services and the bare limits keep their data (default sqlite)",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        metavar="URL",
        help="with --backend postgresql: a database on the server to connect to; the run "
        f"makes a database of its own there and drops it at the end (default {DEFAULT_SERVER})",
    )
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
        help="keep the gateway's large store in DIR and reuse it between runs (on "
        "PostgreSQL: the store's keys and logs; see --store-database)",
    )
    parser.add_argument(
        "--store-database",
        metavar="NAME",
        help="with --backend postgresql: keep the gateway's large store in database NAME on "
        "the server (made when missing, never dropped) and reuse it between runs",
    )
    args = parser.parse_args(argv)
    if args.store_database and args.backend != "postgresql":
        parser.error("--store-database needs --backend postgresql")
    if args.store and args.backend == "postgresql" and not args.store_database:
        parser.error("on PostgreSQL the large store is kept in a database: --store-database")
    if args.store_database and not _DATABASE.fullmatch(args.store_database):
        parser.error("--store-database: a lower-case SQL name (letters, digits, _)")
    try:
        with backend_of(args) as backend:
            return bench(args, backend)
    except asyncio.CancelledError:  # SIGTERM (see terminable): cleaned up
        print("bench: terminated", file=sys.stderr)
        return 143


def bench(args: argparse.Namespace, backend: Backend) -> int:
    named = f", {backend.name}" if backend.postgresql else ""
    if args.seed:
        print(f"Net Net bench (seed{named}) — {environment(backend)}\n", flush=True)
        with tempfile.TemporaryDirectory(prefix="netnet-seed-") as tmp:
            result = asyncio.run(terminable(seed.run(Path(tmp), args.seed_records, backend)))
        for line in seed.report(result):
            print(line)
        return 0
    sizes = QUICK if args.quick else FULL
    if args.status_records:
        sizes = replace(sizes, status_large=args.status_records)
    store_url = (
        ensure_database(args.database_url, args.store_database) if args.store_database else ""
    )
    size = "quick" if args.quick else "full"
    print(f"Net Net bench ({size}{named}) — {environment(backend)}\n", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netnet-bench-") as tmp:
        results = asyncio.run(terminable(run(sizes, Path(tmp), args.store, backend, store_url)))
    for line in summary(results):
        print(line)
    print(f"  bench took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
