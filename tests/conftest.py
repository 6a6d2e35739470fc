"""Shared fixtures: real servers on 127.0.0.1:0 with a temporary database, real channels."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from services.common.clock import ManualClock
from services.common.server import RunningServer, ServiceSpec, start
from tests.support import stores
from tests.support.servers import START_US, CampaignOwner, Tokens, service_settings

os.environ.setdefault("NETNET_LOG_FORMAT", "json")


@pytest.fixture(scope="session")
def campaign_owner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignOwner]:
    owner = CampaignOwner(tmp_path_factory.mktemp("campaigns"))
    yield owner
    owner.close()


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[stores.SessionDatabase]:
    """The session's own database on the PostgreSQL server, dropped at the end; where no
    server can be had, what needs it skips, saying why."""
    why = stores.unreachable()
    if why:
        pytest.skip(f"PostgreSQL half skipped: {why}")
    database = stores.SessionDatabase()
    yield database
    database.drop()


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
        shared: dict[str, object] = {**campaign_owner.keys(), "cases_addr": campaign_owner.addr}
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
