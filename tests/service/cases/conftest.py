from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from netnet.cases.v1 import campaigns_pb2_grpc as cpb_grpc
from netnet.cases.v1 import cases_pb2_grpc as pb_grpc
from services.cases.__main__ import SPEC
from services.common.server import RunningServer
from tests.support.servers import SHARED_CAMPAIGNS, CampaignOwner, channel_to


@pytest.fixture
async def server(serve, request: pytest.FixtureRequest) -> RunningServer:  # type: ignore[no-untyped-def]
    """A cases service; it holds the campaigns the tests name (a record naming a campaign
    that does not exist is refused), unless the module (OWN_CAMPAIGNS) or the test
    (@pytest.mark.own_campaigns) makes its own."""
    server = await serve(SPEC, handover_ack_seconds=3600.0)
    own = getattr(request.module, "OWN_CAMPAIGNS", False)
    if not own and request.node.get_closest_marker("own_campaigns") is None:
        owner: CampaignOwner = request.getfixturevalue("campaign_owner")
        channel = await channel_to(server.port)
        stub = cpb_grpc.CampaignServiceStub(channel)
        for slug in SHARED_CAMPAIGNS:
            await stub.CreateCampaign(owner.create_request(slug), metadata=owner.admin())
        await channel.close()
    return server


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
