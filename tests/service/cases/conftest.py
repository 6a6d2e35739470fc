from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from netnet.client import CasesClient
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
        async with CasesClient(f"127.0.0.1:{server.port}", token="") as cases:
            for slug in SHARED_CAMPAIGNS:
                await cases.create_campaign(owner.create_request(slug), metadata=owner.admin())
    return server


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    channel = await channel_to(server.port)
    yield channel
    await channel.close()


@pytest.fixture
def client(channel: grpc.aio.Channel) -> CasesClient:
    """The SDK client; no token of its own (each call brings the token it tests)."""
    return CasesClient(channel=channel, token="")


@pytest.fixture
def campaigns(client: CasesClient) -> CasesClient:
    """The same client: the campaign service lives in the cases process."""
    return client
