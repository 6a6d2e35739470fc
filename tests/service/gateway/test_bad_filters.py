"""Periods and stats filters a caller can get wrong: times out of the range a Timestamp may hold
and overlong filter lists are INVALID_ARGUMENT naming the field, in every service's GetStats
and BatchGetStats and in the gateway's status, watch and bulletin (never INTERNAL)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.common.v1 import common_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.convert import MAX_SECONDS, MIN_SECONDS
from tests.service.accounts.helpers import action, record
from tests.service.gateway.conftest import Stack
from tests.support.rpc import bad_fields, expect_error
from tests.support.servers import CampaignOwner, Tokens

# (field of the period, the bad time)
BAD_TIMES = [
    ("start_time", Timestamp(seconds=2**63 - 1)),
    ("end_time", Timestamp(seconds=10**12)),
    ("start_time", Timestamp(seconds=1_622_505_600, nanos=-1)),
    ("end_time", Timestamp(seconds=1_630_454_400, nanos=1_000_000_000)),
    ("start_time", Timestamp(seconds=-(2**63))),
]
SUBJECTS = {
    "accounts": (apb, apb.STATS_SUBJECT_ACCOUNTS),
    "sites": (spb, spb.STATS_SUBJECT_SITE_ACTIONS),
    "cases": (cpb, cpb.STATS_SUBJECT_CASES),
}


def _request(source: str, f: common_pb2.StatsFilter) -> Any:
    messages, subject = SUBJECTS[source]
    return messages.GetStatsRequest(subject=subject, filter=f)


async def _refused(call: Any) -> list[str]:
    return bad_fields(await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT))


@pytest.mark.parametrize("source", list(SUBJECTS))
@pytest.mark.parametrize(("field", "bad"), BAD_TIMES)
async def test_a_period_out_of_range_is_invalid(
    stack: Stack, tokens: Tokens, source: str, field: str, bad: Timestamp
) -> None:
    client: Any = getattr(stack, source)
    md = tokens("office")
    f = common_pb2.StatsFilter(campaign_id="netnet")
    getattr(f, field).CopyFrom(bad)
    assert await _refused(client.get_stats(_request(source, f), metadata=md)) == [f"filter.{field}"]
    messages, _ = SUBJECTS[source]
    batch = messages.BatchGetStatsRequest(
        requests=[_request(source, common_pb2.StatsFilter()), _request(source, f)]
    )
    assert await _refused(client.batch_get_stats(batch, metadata=md)) == [
        f"requests[1].filter.{field}"
    ]


@pytest.mark.parametrize("source", list(SUBJECTS))
async def test_filter_lists_are_bounded(stack: Stack, tokens: Tokens, source: str) -> None:
    client: Any = getattr(stack, source)
    md = tokens("office")
    huge = common_pb2.StatsFilter(categories=["x" * 1024] * 15_000)
    assert await _refused(client.get_stats(_request(source, huge), metadata=md)) == [
        "filter.categories"
    ]
    bad = common_pb2.StatsFilter(
        departments=["cac", "nosuch"],
        categories=["obscene", "made-up"],
        actions=["ban", "x" * 1024],
        campaign_id="Not A Slug",
    )
    assert await _refused(client.get_stats(_request(source, bad), metadata=md)) == [
        "filter.departments[1]",
        "filter.categories[1]",
        "filter.actions[1]",
        "filter.campaign_id",
    ]
    many = common_pb2.StatsFilter(actions=[f"a{i}" for i in range(101)])
    assert await _refused(client.get_stats(_request(source, many), metadata=md)) == [
        "filter.actions"
    ]
    # Within the bounds: answered.
    fine = common_pb2.StatsFilter(
        departments=["cac"], categories=["obscene"], actions=["ban"] * 100, campaign_id="netnet"
    )
    await client.get_stats(_request(source, fine), metadata=md)


@pytest.mark.parametrize(("field", "bad"), BAD_TIMES)
async def test_the_gateway_refuses_a_period_out_of_range(
    stack: Stack, tokens: Tokens, field: str, bad: Timestamp
) -> None:
    md = tokens("office")
    status = pb.GetCampaignStatusRequest(campaign_id="netnet")
    getattr(status, field).CopyFrom(bad)
    assert await _refused(stack.gateway.get_campaign_status(status, metadata=md)) == [field]

    bulletin = pb.GenerateBulletinRequest(campaign_id="netnet")
    getattr(bulletin, field).CopyFrom(bad)
    assert await _refused(stack.gateway.generate_bulletin(bulletin, metadata=md)) == [field]

    watch = stack.gateway.watch_campaign_status(
        pb.WatchCampaignStatusRequest(query=status), metadata=md
    )
    with pytest.raises(NetNetError) as caught:
        async for _ in watch:
            raise AssertionError("a status was streamed for a bad period")
    assert bad_fields(caught.value) == [f"query.{field}"]


async def test_periods_at_the_edges_of_the_range_are_answered(stack: Stack, tokens: Tokens) -> None:
    """The first and last times a Timestamp may hold are answered, and a period from the
    year 999 counts what lies in it (days compare by their four-digit years)."""
    md = tokens("office")
    await stack.campaigns.create_campaign(
        CampaignOwner.create_request("netnet"), metadata=tokens("office", "admin")
    )
    await record(stack.accounts, tokens("cac"), action("edge-1", campaign_id="netnet"))
    first, last = Timestamp(seconds=MIN_SECONDS), Timestamp(seconds=MAX_SECONDS, nanos=999_999_999)
    for start in (first, Timestamp(seconds=-30_641_760_000)):  # 1 January 1 and 999
        f = common_pb2.StatsFilter(campaign_id="netnet", start_time=start, end_time=last)
        for source in SUBJECTS:
            client: Any = getattr(stack, source)
            await client.get_stats(_request(source, f), metadata=md)
        reply = await stack.accounts.get_stats(_request("accounts", f), metadata=md)
        assert reply.total.count == 1
    status = pb.GetCampaignStatusRequest(campaign_id="netnet", start_time=first, end_time=last)
    await stack.gateway.get_campaign_status(status, metadata=md)
    just_after = Timestamp(seconds=MIN_SECONDS, nanos=1000)
    bulletin = await stack.gateway.generate_bulletin(
        pb.GenerateBulletinRequest(campaign_id="netnet", start_time=first, end_time=just_after),
        metadata=md,
    )
    assert "From 1 January 1 to 1 January 1, " in bulletin.text
