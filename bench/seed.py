"""The seed's scale: accounts with natural text keys (platform + uid, as a real export has
them) written to a CSV file, imported through `netnet import accounts` into a fresh stack,
then checked against the file's brute-force count. Not part of `make test`:
`python -m bench --seed [--seed-records N]` (default 8,000,000)."""

from __future__ import annotations

import asyncio
import csv
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import servers
from bench.backend import Backend
from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.client.tokens import ensure_key_pair
from netnet.common.v1 import common_pb2
from services.common.auth import issue_token

PLATFORMS = ("weibo", "douyin", "kuaishou", "qq", "bilibili")
ACTIONS = ("warn", "restrict", "ban", "ban", "ban")
CATEGORIES = ("obscene", "vulgar", "illegal_publication", "fraud")
DEPARTMENT = "cac"
COLUMNS = ("platform", "platform_uid", "kind", "action", "category", "department",
           "campaign_id", "effective_time")  # fmt: skip
IMPORT_TIMEOUT = 3600.0


@dataclass(frozen=True)
class SeedResult:
    records: int
    seconds: float
    by_action: dict[str, int]
    counted: dict[str, int]
    distinct: int
    rss_mb: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def write_csv(path: Path, n: int, now_us: int, seed: int = 11) -> Counter[str]:
    """n actions, each on an account of its own (uids never repeat); their count by action."""
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for i in range(n):
            action = ACTIONS[i % len(ACTIONS)]
            counts[action] += 1
            when = (now_us - rng.randrange(60_000_000, 20 * 86_400_000_000)) / 1e6
            out.writerow(
                (
                    PLATFORMS[i % len(PLATFORMS)],
                    f"seed-user-{i:09d}",
                    "user",
                    action,
                    CATEGORIES[i % len(CATEGORIES)],
                    DEPARTMENT,
                    "qinglang-2021",
                    datetime.fromtimestamp(when, UTC).isoformat(),
                )
            )
    return counts


def rss_mb(pid: int) -> float:
    """A process's resident memory (MB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(workdir: Path, n: int, backend: Backend | None = None) -> SeedResult:
    at = (backend or Backend()).database_url  # a fresh schema each (on PostgreSQL)
    now_us = time.time_ns() // 1000
    data = workdir / "seed.csv"
    print(f"  writing {n:,} rows to {data} ...", flush=True)
    by_action = await asyncio.to_thread(write_csv, data, n, now_us)
    owner, cases_addr = await servers.campaign_owner(workdir, at("seed_campaigns"))
    server = servers.service_process(
        workdir, "accounts", cases_addr, database_url=at("seed_accounts")
    )
    try:
        port = await server.start()
        key = ensure_key_pair(servers.key_file(workdir))
        token = issue_token(
            key, operator="seed", department=DEPARTMENT, roles=["operator"], ttl_seconds=7200
        )
        env = {**os.environ, "NETNET_ACCOUNTS_ADDR": f"127.0.0.1:{port}", "NETNET_TOKEN": token}
        started = time.perf_counter()
        cli = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "netnet.cli", "import", "accounts", str(data)),
            *("--batch-size", "5000"),
            env=env,
            cwd=servers.ROOT,
            stdout=subprocess.DEVNULL,
        )
        try:
            if await asyncio.wait_for(cli.wait(), IMPORT_TIMEOUT) != 0:
                raise RuntimeError(f"netnet import accounts exited with {cli.returncode}")
        finally:
            if cli.returncode is None:  # timed out, or the bench was stopped
                cli.kill()
                await cli.wait()
        seconds = time.perf_counter() - started
        assert server.proc is not None
        rss = rss_mb(server.proc.pid)
        async with AccountsClient(f"127.0.0.1:{port}", token=token) as accounts:
            stats = await accounts.get_stats(
                pb.GetStatsRequest(group_by=[common_pb2.DIMENSION_ACTION])
            )
    finally:
        server.stop()
        owner.stop()
    counted = {r.action: r.count for r in stats.rows}
    return SeedResult(n, seconds, dict(by_action), counted, stats.total.distinct_subjects, rss)


def report(r: SeedResult) -> list[str]:
    same = r.counted == r.by_action and r.distinct == r.records
    return [
        f"Seed: {r.records:,} account actions through `netnet import accounts` (CSV, batches of"
        " 5,000)",
        f"  {r.seconds:,.1f} s, {r.per_second:,.0f} records/s; server RSS {r.rss_mb:,.0f} MB "
        f"(target under 240 s for 8,000,000)",
        f"  stats by action {r.counted}, distinct accounts {r.distinct:,}: "
        + ("equal to the file's count" if same else f"DIFFER from the file's {r.by_action}"),
    ]
