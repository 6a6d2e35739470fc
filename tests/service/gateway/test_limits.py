"""The gateway keeps limits per caller as every service does (the same interceptor): beyond
its rate a status call is refused with RetryInfo, from the gateway itself, before any fan-out.
Limits do not touch the store: SQLite only."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.gateway.v1 import gateway_pb2 as pb
from services.common.clock import ManualClock
from services.common.limits import parse
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.support.servers import Tokens

pytestmark = pytest.mark.sqlite_only("limits are kept in the process, before the store")


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    return {"limits": parse('{"analyst": {"rate": 0.001, "burst": 2}}')}


async def test_the_gateway_refuses_a_caller_beyond_its_rate(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> None:
    await Recorder(stack, tokens, clock).campaign("netnet-2021", "campaign")
    md = tokens("office", "analyst", operator="ann")
    request = pb.GetCampaignStatusRequest(campaign_id="netnet-2021")
    for _ in range(2):
        await stack.gateway.stub.GetCampaignStatus(request, metadata=md)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.gateway.stub.GetCampaignStatus(request, metadata=md)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info) and status.details[1].Unpack(retry)
    assert (info.reason, info.domain) == ("RATE_LIMITED", "gateway.netnet")
    assert retry.retry_delay.seconds > 60
    # The services behind it keep their own (default) limits: the same caller reads there.
    await stack.accounts.stub.GetStats(apb.GetStatsRequest(), metadata=md)
