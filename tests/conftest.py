"""Shared fixtures: real servers on 127.0.0.1:0 with a temporary database, real channels."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from netnet.cases.v1 import campaigns_pb2, campaigns_pb2_grpc
from services.common.auth import ensure_key, issue_token
from services.common.clock import ManualClock
from services.common.config import Settings, load_settings
from services.common.server import RunningServer, ServiceSpec, start

START_US = 1_625_097_600_000_000  # 2021-07-01T00:00:00Z
T = TypeVar("T")
# Campaigns the accounts and sites tests name, with the special actions they name; their
# period holds every time those tests use (tests of dating make campaigns of their own).
SHARED_CAMPAIGNS = ("netnet-2021", "qinglang-2021", "qinglang", "qingfeng", "netnet", "c1", "c2")
SHARED_SPECIAL_ACTIONS = (
    "minors-environment",
    "summer",
    "minors",
    "summer-minors",
    "summer-sweep",
    "fan-circle",
    "apps",
    "app-user-rights",
    "live-streaming",
    "sa",
    "sa1",
    "sa2",
)
SHARED_START_US = 946_684_800_000_000  # 2000-01-01
SHARED_END_US = 4_102_444_800_000_000  # 2100-01-01

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


def _ts(us: int) -> Timestamp:
    t = Timestamp()
    t.FromMicroseconds(us)
    return t


class CampaignOwner:
    """A cases service for the whole session, on a thread and event loop of its own (a test's
    loop lives for that test only): the owner of the campaigns that the accounts and sites
    services of every test learn from. Tokens of every test are signed with its key."""

    def __init__(self, data_dir: Path) -> None:
        from services.cases.__main__ import SPEC as CASES

        self.key_file = data_dir / "signing.key"
        self.key = ensure_key(self.key_file)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings = replace(service_settings("cases", data_dir), key_file=self.key_file)
        self.server = self.run(start(CASES, settings))
        self.addr = f"127.0.0.1:{self.server.port}"
        self.channel = self.run(self._channel())
        self.stub = campaigns_pb2_grpc.CampaignServiceStub(self.channel)
        for slug in SHARED_CAMPAIGNS:
            self.create(slug, SHARED_START_US, SHARED_END_US, SHARED_SPECIAL_ACTIONS)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _channel(self) -> grpc.aio.Channel:
        return await channel_to(self.server.port)

    def admin(self) -> list[tuple[str, str]]:
        token = issue_token(
            self.key, operator="owner", department="office", roles=["admin"], ttl_seconds=3600
        )
        return [("authorization", f"Bearer {token}")]

    @staticmethod
    def create_request(
        slug: str,
        start_us: int = SHARED_START_US,
        end_us: int = SHARED_END_US,
        special_actions: Iterable[str] = SHARED_SPECIAL_ACTIONS,
    ) -> campaigns_pb2.CreateCampaignRequest:
        return campaigns_pb2.CreateCampaignRequest(
            request_id=f"campaign-{slug}",
            campaign=campaigns_pb2.Campaign(
                id=slug,
                title=slug,
                start_time=_ts(start_us),
                end_time=_ts(end_us),
                lead_department="office",
                special_actions=[
                    campaigns_pb2.SpecialAction(id=i, title=i) for i in special_actions
                ],
            ),
        )

    def create(
        self,
        slug: str,
        start_us: int = SHARED_START_US,
        end_us: int = SHARED_END_US,
        special_actions: Iterable[str] = SHARED_SPECIAL_ACTIONS,
    ) -> campaigns_pb2.Campaign:
        """A campaign (slugs are the session's: each test names its own)."""
        request = self.create_request(slug, start_us, end_us, special_actions)
        md = self.admin()

        async def call() -> campaigns_pb2.CreateCampaignResponse:
            return await self.stub.CreateCampaign(request, metadata=md)  # type: ignore[no-any-return]

        return self.run(call()).campaign

    def close(self) -> None:
        self.run(self.channel.close())
        self.run(self.server.stop(0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def campaign_owner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignOwner]:
    owner = CampaignOwner(tmp_path_factory.mktemp("campaigns"))
    yield owner
    owner.close()


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
def tokens(campaign_owner: CampaignOwner) -> Tokens:
    return Tokens(campaign_owner.key_file)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_US)


ServerFactory = Callable[..., "AsyncIterator[RunningServer]"]


@pytest.fixture
async def serve(
    data_dir: Path, clock: ManualClock, campaign_owner: CampaignOwner
) -> AsyncIterator[Callable[..., object]]:
    """serve(spec) starts a real server on an ephemeral port; all are stopped at the end. The
    servers share the session's signing key, and learn campaigns from its campaign owner
    unless told another cases address (cases_addr=...)."""
    running: list[RunningServer] = []

    async def _start(spec: ServiceSpec, **overrides: object) -> RunningServer:
        shared: dict[str, object] = {
            "key_file": campaign_owner.key_file,
            "cases_addr": campaign_owner.addr,
        }
        settings = replace(
            service_settings(spec.name, data_dir),
            **{**shared, **overrides},  # type: ignore[arg-type]
        )
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
