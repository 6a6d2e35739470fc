from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from netnet.accounts.v1 import accounts_pb2_grpc as pb_grpc
from services.accounts.__main__ import SPEC
from services.common.server import RunningServer
from tests.support.servers import channel_to


@pytest.fixture
async def server(serve) -> RunningServer:  # type: ignore[no-untyped-def]
    return await serve(SPEC)


@pytest.fixture
async def stub(server: RunningServer) -> AsyncIterator[pb_grpc.AccountServiceStub]:
    channel = await channel_to(server.port)
    yield pb_grpc.AccountServiceStub(channel)
    await channel.close()
