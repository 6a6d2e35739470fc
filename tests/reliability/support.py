"""Helpers of the reliability tests: a deterministic record stream with a brute-force model of
what the service must count, and a real `python -m services.accounts` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.client.tokens import ensure_key_pair
from netnet.common.v1 import common_pb2
from tests.support.servers import free_port, watch_health

REPO = Path(__file__).resolve().parents[2]
SERVICE = "netnet.accounts.v1.AccountService"
DAY_US = 86_400_000_000

CATEGORIES = ("obscene", "vulgar", "illegal_publication", "copyright", "fraud", "other")
CAMPAIGNS = (("", ""), ("netnet-2021", ""), ("netnet-2021", "summer-minors"), ("qingfeng", ""))
DIMENSIONS = {
    common_pb2.DIMENSION_DEPARTMENT: "department",
    common_pb2.DIMENSION_ACTION: "action",
    common_pb2.DIMENSION_CATEGORY: "category",
    common_pb2.DIMENSION_CAMPAIGN: "campaign_id",
    common_pb2.DIMENSION_SPECIAL_ACTION: "special_action",
}
ALL_DIMENSIONS = list(DIMENSIONS)
ACTION_NAMES = {
    pb.ACTION_TYPE_WARN: "warn",
    pb.ACTION_TYPE_RESTRICT: "restrict",
    pb.ACTION_TYPE_SUSPEND: "suspend",
    pb.ACTION_TYPE_BAN: "ban",
    pb.ACTION_TYPE_CLOSE_GROUP: "close_group",
}

Key = tuple[str, str, str, str, str]  # department, action, category, campaign, special action


# --- the record stream and its model ------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A deterministic stream: record i of department `department`, ids prefixed `prefix`.

    Every 97th record has an unknown category and every 101st a bad region (both rejected
    before any write); the rest are valid. No restores, so every action is always allowed."""

    prefix: str
    department: str
    total: int
    batch: int
    accounts: int
    now_us: int  # the server's "now" (suspensions must end after it)

    def is_valid(self, i: int) -> bool:
        return (i + 1) % 97 != 0 and (i + 1) % 101 != 0

    def record(self, i: int) -> pb.ActionInput:
        n = (i * 7919) % self.accounts
        group = n % 5 == 0
        kind = pb.ACCOUNT_KIND_GROUP if group else pb.ACCOUNT_KIND_USER
        actions = (pb.ACTION_TYPE_WARN, pb.ACTION_TYPE_RESTRICT, pb.ACTION_TYPE_SUSPEND)
        action = (*actions, pb.ACTION_TYPE_CLOSE_GROUP if group else pb.ACTION_TYPE_BAN)[i % 4]
        campaign, special = CAMPAIGNS[(i // 3) % len(CAMPAIGNS)]
        a = pb.ActionInput(
            request_id=f"{self.prefix}-{i}",
            account=pb.AccountRef(platform="weibo", platform_uid=f"{self.prefix}-u{n}", kind=kind),
            action=action,
            category=CATEGORIES[(i // 7) % len(CATEGORIES)],
            department=self.department,
            region="110105" if i % 2 else "",
            campaign_id=campaign,
            special_action=special,
        )
        if action == pb.ACTION_TYPE_SUSPEND:
            a.suspend_until.FromMicroseconds(self.now_us + 30 * DAY_US)
        if (i + 1) % 97 == 0:
            a.category = "no-such-category"
        if (i + 1) % 101 == 0:
            a.region = "12345"
        return a

    @property
    def valid_total(self) -> int:
        return sum(1 for i in range(self.total) if self.is_valid(i))

    @property
    def invalid_total(self) -> int:
        return self.total - self.valid_total

    def batches(self) -> Iterable[pb.ImportActionsRequest]:
        for start in range(0, self.total, self.batch):
            end = min(start + self.batch, self.total)
            yield pb.ImportActionsRequest(actions=[self.record(i) for i in range(start, end)])

    async def stream(self) -> AsyncIterator[pb.ImportActionsRequest]:
        """The batches, built lazily one at a time (the whole stream never sits in memory)."""
        for batch in self.batches():
            yield batch


def key_of(a: pb.ActionInput | pb.AccountAction) -> Key:
    return (a.department, ACTION_NAMES[a.action], a.category, a.campaign_id, a.special_action)


@dataclass
class Model:
    """Brute force: every live record by request id, and counts computed from scratch."""

    live: dict[str, tuple[str, Key]] = field(default_factory=dict)  # request id -> (uid, key)

    def add(self, plan: Plan) -> None:
        for i in range(plan.total):
            if plan.is_valid(i):
                a = plan.record(i)
                self.live[a.request_id] = (a.account.platform_uid, key_of(a))

    def retract(self, request_id: str) -> None:
        del self.live[request_id]

    def expected(self, dims: list[int]) -> tuple[dict[tuple[str, ...], tuple[int, int]], int, int]:
        """(group -> (count, distinct accounts)), total count, total distinct accounts."""
        index = [list(DIMENSIONS).index(d) for d in dims]
        counts: dict[tuple[str, ...], int] = defaultdict(int)
        subjects: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for uid, key in self.live.values():
            group = tuple(key[j] for j in index)
            counts[group] += 1
            subjects[group].add(uid)
        everyone = {uid for uid, _ in self.live.values()}
        return (
            {g: (n, len(subjects[g])) for g, n in counts.items()},
            len(self.live),
            len(everyone),
        )


async def stats(
    client: AccountsClient, md: list[tuple[str, str]], dims: list[int]
) -> tuple[dict[tuple[str, ...], tuple[int, int]], int, int]:
    """GetStats in the shape of Model.expected (distinct_subjects must be present)."""
    resp = await client.get_stats(pb.GetStatsRequest(group_by=dims), metadata=md, timeout=30)
    rows: dict[tuple[str, ...], tuple[int, int]] = {}
    for row in resp.rows:
        group = tuple(getattr(row, DIMENSIONS[d]) for d in dims)
        assert group not in rows, f"group {group} reported twice"
        assert row.HasField("distinct_subjects"), f"no distinct count for {group}"
        rows[group] = (row.count, row.distinct_subjects)
    assert resp.total.HasField("distinct_subjects")
    return rows, resp.total.count, resp.total.distinct_subjects


async def assert_stats_match(
    client: AccountsClient, md: list[tuple[str, str]], model: Model
) -> None:
    """All five dimensions together, each alone, and no grouping: exactly the model's counts."""
    for dims in [ALL_DIMENSIONS, *([d] for d in ALL_DIMENSIONS), []]:
        got = await stats(client, md, dims)
        want = model.expected(dims)
        if got != want:
            missing = {g: v for g, v in want[0].items() if got[0].get(g) != v}
            extra = {g: v for g, v in got[0].items() if want[0].get(g) != v}
            raise AssertionError(
                f"stats by {[DIMENSIONS[d] for d in dims]}: totals got {got[1:]} want "
                f"{want[1:]}; groups wrong (want) {list(missing.items())[:5]} "
                f"(got) {list(extra.items())[:5]}"
            )


# --- a real server process -------------------------------------------------------------------


def service_env(
    data_dir: Path, port: int, service: str = "accounts", **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETNET_")}
    env.update(
        {
            "NETNET_DATA_DIR": str(data_dir),
            f"NETNET_{service.upper()}_ADDR": f"127.0.0.1:{port}",
            f"NETNET_{service.upper()}_METRICS_PORT": "0",
            "NETNET_GATEWAY_HTTP_ADDR": "0",
            "NETNET_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    if "NETNET_KEY_FILE" not in extra:
        # The issuer's key pair, beside the data directory (as make run makes one): a server
        # reads only its public set, and starts only with one.
        issuer = data_dir.parent / f"{data_dir.name}-issuer" / "signing.key"
        ensure_key_pair(issuer)
        env["NETNET_KEY_FILE"] = str(issuer)
    return env


def module(service: str) -> str:
    """The module that runs a process: services.<service>, or gateway."""
    return "gateway" if service == "gateway" else f"services.{service}"


def run_service(
    env: dict[str, str], timeout: float = 30.0, service: str = "accounts"
) -> subprocess.CompletedProcess[str]:
    """Run `python -m services.<service>` (or the gateway) to its end (for processes that
    must refuse to start)."""
    return subprocess.run(
        [sys.executable, "-m", module(service)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ServiceProcess:
    """`python -m services.<service>` (accounts unless told; or the gateway) on a data
    directory, logging to files beside it (named after the data directory)."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, service: str = "accounts"
    ) -> None:
        self.data_dir, self.service = data_dir, service
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = service_env(data_dir, self.port, service, **(env or {}))
        # The server reads this key's public set (the deployment's, shared with the campaigns'
        # owner); tests sign with the private key.
        self.key = ensure_key_pair(
            Path(self.env.get("NETNET_KEY_FILE") or data_dir / "signing.key")
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        log = self._log(self.runs)
        with open(f"{log}.out", "wb") as out, open(f"{log}.err", "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module(self.service)],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=err,
            )

    def _log(self, run: int) -> Path:
        name = self.service if self.data_dir.name == "data" else self.data_dir.name
        return self.data_dir.parent / f"{name}-{run}"

    def stderr(self) -> str:
        return Path(f"{self._log(self.runs)}.err").read_text(errors="replace")

    def stdout(self) -> str:
        return Path(f"{self._log(self.runs)}.out").read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, within: float) -> int:
        """The exit code; fails if the process has not exited within that many seconds."""
        assert self.proc is not None
        proc = self.proc
        try:
            return await asyncio.to_thread(proc.wait, within)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.service} still running after {within}s; stderr:\n{self.stderr()}"
            ) from None

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 10)

    async def wait_serving(self, channel: grpc.aio.Channel) -> list[int]:
        """Block on the health Watch stream until SERVING; returns the statuses seen."""
        try:
            seen = await watch_health(channel, until=health_pb2.HealthCheckResponse.SERVING)
        except grpc.aio.AioRpcError as e:
            raise AssertionError(
                f"{self.service} never served ({e.code()}):\n{self.stderr()}"
            ) from e
        assert self.proc is not None and self.proc.poll() is None, self.stderr()
        return seen
