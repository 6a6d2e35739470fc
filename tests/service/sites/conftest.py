from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from netnet.sites.v1 import sites_pb2_grpc as pb_grpc
from services.common.server import RunningServer
from services.sites.__main__ import SPEC
from tests.support.servers import channel_to


@pytest.fixture
async def server(serve) -> RunningServer:  # type: ignore[no-untyped-def]
    return await serve(SPEC, overdue_sweep_seconds=0.05)


@pytest.fixture
async def stub(server: RunningServer) -> AsyncIterator[pb_grpc.SiteServiceStub]:
    channel = await channel_to(server.port)
    yield pb_grpc.SiteServiceStub(channel)
    await channel.close()
