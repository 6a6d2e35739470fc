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

from services.common.auth import ensure_key, issue_token

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


def service_process(workdir: Path, service: str) -> ServerProcess:
    prefix = f"NETNET_{service.upper()}"
    env = {
        **os.environ,
        "NETNET_DATA_DIR": str(workdir / service),
        f"{prefix}_ADDR": "127.0.0.1:0",
        f"{prefix}_METRICS_PORT": "0",
        "NETNET_LOG_FORMAT": "json",
        "NETNET_DRAIN_SECONDS": "1",
    }
    argv = [sys.executable, "-m", f"services.{service}"]
    return ServerProcess(service, argv, env, workdir / f"{service}.log", serving_port)


def credentials(workdir: Path, service: str, department: str) -> list[tuple[str, str]]:
    """A writer's token for a server, signed with the key it will read."""
    key = ensure_key(workdir / service / "signing.key")
    token = issue_token(
        key, operator="bench", department=department, roles=["operator"], ttl_seconds=3600
    )
    return [("authorization", f"Bearer {token}")]
