from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from netnet.client import AccountsClient
from services.accounts.__main__ import SPEC
from services.common.server import RunningServer
from tests.support.servers import channel_to


@pytest.fixture
async def server(serve) -> RunningServer:  # type: ignore[no-untyped-def]
    return await serve(SPEC)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[AccountsClient]:
    """The SDK client; no token of its own (each call brings the token it tests)."""
    channel = await channel_to(server.port)
    yield AccountsClient(channel=channel, token="")
    await channel.close()
