"""Servers for the bench in processes of their own, as they are deployed: what a measured
server does is not mixed with what the driving client does."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from bench import data
from netnet.cases.v1 import campaigns_pb2
from netnet.client import CasesClient
from netnet.client.tokens import ensure_key_pair
from services.common.auth import issue_token

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0  # seconds for a server process to listen


class ServerProcess:
    """A server in its own process; its port is read from what it writes once listening."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        port_of: Callable[[str], int | None],
    ) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.port_of = port_of
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def logged_port(self) -> int | None:
        for line in self.log_path.read_text(errors="replace").splitlines():
            port = self.port_of(line)
            if port:
                return port
        return None

    async def start(self) -> int:
        """Spawn the process and wait (bounded) until it says it listens; its port."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            port = self.logged_port()
            if port:
                self.port = port
                return port
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{self.name} server did not start:\n{tail}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def serving_port(line: str) -> int | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("event") == "serving":
        return int(event["port"])
    return None


def key_file(workdir: Path) -> Path:
    """The run's issuer key, whose public set its servers share (a token the accounts
    service forwards to the campaigns' owner must be good there too): made before the first
    server starts, as the servers only read the public set."""
    path = workdir / "signing.key"
    ensure_key_pair(path)
    return path


def service_process(
    workdir: Path,
    service: str,
    cases_addr: str = "",
    name: str = "",
    database_url: str = "",
    extra: dict[str, str] | None = None,
) -> ServerProcess:
    """cases_addr: where accounts and sites learn campaigns (see campaign_owner);
    database_url: its NETNET_DATABASE_URL (else the SQLite file in its data directory);
    extra: more of its environment."""
    prefix = f"NETNET_{service.upper()}"
    name = name or service
    env = {
        **os.environ,
        "NETNET_DATA_DIR": str(workdir / name),
        "NETNET_KEY_FILE": str(key_file(workdir)),
        f"{prefix}_ADDR": "127.0.0.1:0",
        f"{prefix}_METRICS_PORT": "0",
        "NETNET_GATEWAY_HTTP_ADDR": "0",
        "NETNET_LOG_FORMAT": "json",
        "NETNET_DRAIN_SECONDS": "1",
    }
    if cases_addr:
        env["NETNET_CASES_ADDR"] = cases_addr
    env["NETNET_DATABASE_URL"] = database_url  # "" overrides one from the caller's environment
    env.update(extra or {})
    argv = [sys.executable, "-m", f"services.{service}"]
    return ServerProcess(name, argv, env, workdir / f"{name}.log", serving_port)


async def create_campaigns(addr: str, key: Ed25519PrivateKey) -> None:
    """The campaigns the bench's records name, around now (records are dated in the last
    month)."""
    token = issue_token(key, operator="bench", department="office", roles=["admin"])
    now_us = time.time_ns() // 1000
    start, end = Timestamp(), Timestamp()
    start.FromMicroseconds(now_us - 400 * data.DAY_US)
    end.FromMicroseconds(now_us + 30 * data.DAY_US)
    async with CasesClient(addr, token=token) as cases:
        for slug in data.BENCH_CAMPAIGNS:
            await cases.create_campaign(
                request_id=f"bench-{slug}",
                campaign=campaigns_pb2.Campaign(
                    id=slug,
                    title=slug,
                    start_time=start,
                    end_time=end,
                    lead_department="office",
                    special_actions=[
                        campaigns_pb2.SpecialAction(id=a, title=a)
                        for a in data.BENCH_SPECIAL_ACTIONS
                    ],
                ),
            )


async def campaign_owner(workdir: Path, database_url: str = "") -> tuple[ServerProcess, str]:
    """A cases service holding the bench's campaigns, which accounts and sites learn from;
    its address."""
    owner = service_process(workdir, "cases", name="campaigns", database_url=database_url)
    port = await owner.start()
    addr = f"127.0.0.1:{port}"
    try:
        await create_campaigns(addr, ensure_key_pair(key_file(workdir)))
    except BaseException:
        owner.stop()
        raise
    return owner, addr


def credentials(workdir: Path, service: str, department: str) -> list[tuple[str, str]]:
    """A writer's token for a server, signed with the key it will read."""
    key = ensure_key_pair(key_file(workdir))
    token = issue_token(
        key, operator="bench", department=department, roles=["operator"], ttl_seconds=3600
    )
    return [("authorization", f"Bearer {token}")]
