from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from netnet.client import SitesClient
from services.common.server import RunningServer
from services.sites.__main__ import SPEC
from tests.support.servers import channel_to


@pytest.fixture
async def server(serve) -> RunningServer:  # type: ignore[no-untyped-def]
    return await serve(SPEC, overdue_sweep_seconds=0.05)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[SitesClient]:
    """The SDK client; no token of its own (each call brings the token it tests)."""
    channel = await channel_to(server.port)
    yield SitesClient(channel=channel, token="")
    await channel.close()
