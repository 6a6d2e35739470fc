"""Real servers for tests: settings on port 0, the session's campaign owner, tokens, channels,
restarts on the old port, and waiting on health."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import grpc
import jwt
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.cases.v1 import campaigns_pb2
from netnet.client import CasesClient
from netnet.client.tokens import ensure_key_pair, kid_of, public_keys_file
from services.common.auth import issue_token
from services.common.clock import ManualClock
from services.common.config import Settings, load_settings
from services.common.server import RunningServer, ServiceSpec, start
from tests.support import stores
from tests.support.rpc import Metadata, ts

START_US = 1_625_097_600_000_000  # 2021-07-01T00:00:00Z
STARTUP_SECONDS = 30.0
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


def service_settings(service: str, data_dir: Path, more: dict[str, str] | None = None) -> Settings:
    """Settings of a test's server: on the store of the backend under test (stores.use)."""
    url = stores.database_url(service, data_dir)
    env = {
        **({"NETNET_DATABASE_URL": url} if url else {}),
        "NETNET_DATA_DIR": str(data_dir),
        f"NETNET_{service.upper()}_ADDR": "127.0.0.1:0",
        f"NETNET_{service.upper()}_METRICS_PORT": "0",
        "NETNET_DRAIN_SECONDS": "2",
        "NETNET_GATEWAY_HTTP_ADDR": "0",  # the dashboard only where a test asks for it
        **(more or {}),
    }
    return load_settings(service, env)


def bearer(
    key: Any, department: str = "cac", *roles: str, operator: str = "tester", ttl: int = 3600
) -> Metadata:
    """Call metadata with a token signed with key (roles default to operator)."""
    token = issue_token(
        key,
        operator=operator,
        department=department,
        roles=list(roles or ("operator",)),
        ttl_seconds=ttl,
    )
    return [("authorization", f"Bearer {token}")]


class Tokens:
    """Issues tokens signed with the test deployment's private key."""

    def __init__(self, key_file: Path) -> None:
        self.key = ensure_key_pair(key_file)

    def __call__(
        self, department: str = "cac", *roles: str, operator: str = "tester", ttl: int = 3600
    ) -> Metadata:
        return bearer(self.key, department, *roles, operator=operator, ttl=ttl)

    @staticmethod
    def claims(**over: object) -> dict[str, object]:
        """What our issuer puts in a token (an operator of cac, for 10 minutes), with over's
        claims instead (None: left out)."""
        now = int(time.time())
        body: dict[str, object] = {
            "iss": "netnet",
            "aud": "netnet",
            "sub": "eve",
            "dept": "cac",
            "roles": ["operator"],
            "iat": now,
            "exp": now + 600,
            "jti": secrets.token_urlsafe(16),
        }
        body.update(over)
        return {k: v for k, v in body.items() if v is not None}

    def sign(self, claims: dict[str, object], key: Any = None, kid: str | None = None) -> str:
        """claims as they are, signed with EdDSA under key (default: the deployment's), the
        header naming kid (default: the key's own)."""
        key = key or self.key
        kid = kid_of(key.public_key()) if kid is None else kid
        return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def channel_to(port: int) -> grpc.aio.Channel:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    await channel.channel_ready()
    return channel


class CampaignOwner:
    """A cases service for the whole session, on a thread and event loop of its own (a test's
    loop lives for that test only): the owner of the campaigns that the accounts and sites
    services of every test learn from. Tokens of every test are signed with its key."""

    def __init__(self, data_dir: Path) -> None:
        from services.cases.__main__ import SPEC as CASES

        # The issuer's key pair: the servers of every test read its public key set, and the
        # gateways the service token beside it (where NETNET_KEY_FILE's defaults put them).
        self.key_file = data_dir / "signing.key"
        self.key = ensure_key_pair(self.key_file)
        self.public_keys_file = public_keys_file(self.key_file)
        self.gateway_token_file = self.key_file.with_name("gateway.token")
        self.gateway_token_file.write_text(
            issue_token(self.key, operator="gateway", department="office", roles=["service"])
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # On SQLite whatever the backend under test: the campaigns are the session's.
        sqlite = {"NETNET_DATABASE_URL": f"sqlite:///{data_dir / 'cases.db'}"}
        settings = replace(service_settings("cases", data_dir, sqlite), **self.keys())
        self.server = self.run(start(CASES, settings))
        self.addr = f"127.0.0.1:{self.server.port}"
        self.channel = self.run(self._channel())
        self.client = CasesClient(channel=self.channel, token="")
        for slug in SHARED_CAMPAIGNS:
            self.create(slug, SHARED_START_US, SHARED_END_US, SHARED_SPECIAL_ACTIONS)

    def keys(self) -> dict[str, Any]:
        """The settings that name the session's keys (as the server settings' fields)."""
        return {
            "key_file": self.key_file,
            "public_keys_file": self.public_keys_file,
            "gateway_token_file": self.gateway_token_file,
        }

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _channel(self) -> grpc.aio.Channel:
        return await channel_to(self.server.port)

    def admin(self) -> Metadata:
        return bearer(self.key, "office", "admin", operator="owner")

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
                start_time=ts(start_us),
                end_time=ts(end_us),
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

        return self.run(self.client.create_campaign(request, metadata=md)).campaign

    def close(self) -> None:
        self.run(self.channel.close())
        self.run(self.server.stop(0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def restart(server: RunningServer, spec: ServiceSpec, clock: ManualClock) -> RunningServer:
    """A new server for a stopped one: same data directory, same port."""
    settings = replace(server.runtime.settings, addr=f"127.0.0.1:{server.port}")
    again = await start(spec, settings, clock)
    assert again.port == server.port
    return again


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def watch_health(
    channel: grpc.aio.Channel, until: int, service: str = "", within: float = STARTUP_SECONDS
) -> list[int]:
    """The statuses the health Watch stream reports, up to and including `until`."""
    stub = health_pb2_grpc.HealthStub(channel)  # the gRPC health service: not in the SDK
    call = stub.Watch(
        health_pb2.HealthCheckRequest(service=service), wait_for_ready=True, timeout=within
    )
    seen: list[int] = []
    try:
        async for resp in call:
            seen.append(resp.status)
            if resp.status == until:
                return seen
    finally:
        call.cancel()
    raise AssertionError(f"health stream ended before {until}: saw {seen}")
