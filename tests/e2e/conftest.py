"""The whole stack as `make run` starts it, driven the way a user does."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "accounts", "sites", "cases")


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    env: dict[str, str]
    data_dir: Path
    output: list[str]

    def text(self) -> str:
        return "".join(self.output)


def start_make_run(
    tmp: Path, scale: str = "0.001", more: dict[str, str] | None = None
) -> RunningStack:
    data = tmp / "netnet"
    env = {
        **os.environ,
        "NETNET_DATA_DIR": str(data),
        "NETNET_DEMO_SCALE": scale,
        "NETNET_DRAIN_SECONDS": "2",
        **(more or {}),
    }
    for name in SERVICES:
        env[f"NETNET_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
        env[f"NETNET_{name.upper()}_METRICS_PORT"] = "0"
    env["NETNET_GATEWAY_HTTP_ADDR"] = f"127.0.0.1:{free_port()}"
    env.pop("NETNET_TOKEN", None)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return RunningStack(process, env, data, [])


def wait_for(stack: RunningStack, marker: str, timeout: float = 240) -> str:
    """Read the launcher's output until marker appears (or it exits, or time runs out)."""
    assert stack.process.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(stack.process.stdout.fileno(), False)
    while marker not in stack.text():
        line = stack.process.stdout.readline()
        if line:
            stack.output.append(line)
            continue
        if stack.process.poll() is not None:
            rest = stack.process.stdout.read() or ""
            stack.output.append(rest)
            raise AssertionError(f"make run exited ({stack.process.returncode}):\n{stack.text()}")
        assert time.monotonic() < deadline, f"no {marker!r} in time:\n{stack.text()}"
        time.sleep(0.05)  # waiting on a pipe that has nothing yet, bounded by the deadline
    return stack.text()


def ctrl_c(stack: RunningStack, timeout: float = 60) -> int:
    """What a terminal's Ctrl-C does: SIGINT to the whole foreground process group."""
    os.killpg(stack.process.pid, signal.SIGINT)
    code = stack.process.wait(timeout)
    assert stack.process.stdout is not None
    os.set_blocking(stack.process.stdout.fileno(), True)
    stack.output.append(stack.process.stdout.read() or "")
    return code


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_make_run(tmp_path_factory.mktemp("stack"))
    try:
        wait_for(stack, "Press Ctrl-C to stop.")
        yield stack
    finally:
        if stack.process.poll() is None:
            ctrl_c(stack)
