"""Shared fixtures: real servers on 127.0.0.1:0 with a temporary database, real channels."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from services.common.auth import ensure_key, issue_token
from services.common.clock import ManualClock
from services.common.config import Settings, load_settings
from services.common.server import RunningServer, ServiceSpec, start

START_US = 1_625_097_600_000_000  # 2021-07-01T00:00:00Z

os.environ.setdefault("NETNET_LOG_FORMAT", "json")


def service_settings(service: str, data_dir: Path, more: dict[str, str] | None = None) -> Settings:
    env = {
        "NETNET_DATA_DIR": str(data_dir),
        f"NETNET_{service.upper()}_ADDR": "127.0.0.1:0",
        f"NETNET_{service.upper()}_METRICS_PORT": "0",
        "NETNET_DRAIN_SECONDS": "2",
        **(more or {}),
    }
    return load_settings(service, env)


class Tokens:
    """Issues tokens signed with the test deployment's key."""

    def __init__(self, key_file: Path) -> None:
        self.key = ensure_key(key_file)

    def __call__(
        self, department: str = "cac", *roles: str, operator: str = "tester", ttl: int = 3600
    ) -> list[tuple[str, str]]:
        token = issue_token(
            self.key,
            operator=operator,
            department=department,
            roles=list(roles or ("operator",)),
            ttl_seconds=ttl,
        )
        return [("authorization", f"Bearer {token}")]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def tokens(data_dir: Path) -> Tokens:
    return Tokens(data_dir / "signing.key")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_US)


ServerFactory = Callable[..., "AsyncIterator[RunningServer]"]


@pytest.fixture
async def serve(data_dir: Path, clock: ManualClock) -> AsyncIterator[Callable[..., object]]:
    """serve(spec) starts a real server on an ephemeral port; all are stopped at the end."""
    running: list[RunningServer] = []

    async def _start(spec: ServiceSpec, **overrides: object) -> RunningServer:
        settings = replace(service_settings(spec.name, data_dir), **overrides)  # type: ignore[arg-type]
        server = await start(spec, settings, clock)
        running.append(server)
        return server

    yield _start
    for server in running:
        await server.stop(0)


async def channel_to(port: int) -> grpc.aio.Channel:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    await channel.channel_ready()
    return channel
