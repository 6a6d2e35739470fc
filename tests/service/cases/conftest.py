from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from netnet.cases.v1 import campaigns_pb2_grpc as cpb_grpc
from netnet.cases.v1 import cases_pb2_grpc as pb_grpc
from services.cases.__main__ import SPEC
from services.common.server import RunningServer
from tests.conftest import channel_to


@pytest.fixture
async def server(serve) -> RunningServer:  # type: ignore[no-untyped-def]
    return await serve(SPEC, handover_ack_seconds=3600.0)


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    channel = await channel_to(server.port)
    yield channel
    await channel.close()


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> pb_grpc.CaseServiceStub:
    return pb_grpc.CaseServiceStub(channel)


@pytest.fixture
def campaigns(channel: grpc.aio.Channel) -> cpb_grpc.CampaignServiceStub:
    return cpb_grpc.CampaignServiceStub(channel)
