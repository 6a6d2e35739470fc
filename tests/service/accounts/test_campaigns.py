"""Records checked against their campaign as its owner (the cases service) states it: an
unknown campaign or special action, or a time outside the campaign's period, is refused
naming the field (one by one in an import); an unreachable owner refuses the write."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, CasesClient, NetNetError
from services.accounts.__main__ import SPEC
from services.common.clock import ManualClock
from services.common.server import RunningServer
from tests.service.accounts.helpers import action, record, snapshot, stream
from tests.support.rpc import DAY_US, bad_fields, error_reason, expect_error
from tests.support.servers import START_US, CampaignOwner, Tokens, channel_to

JUNE = int(datetime(2021, 6, 1, tzinfo=UTC).timestamp() * 1_000_000)
SEPTEMBER = int(datetime(2021, 9, 1, tzinfo=UTC).timestamp() * 1_000_000)
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def summer(campaign_owner: CampaignOwner) -> str:
    """A campaign from 1 June to 1 September 2021 (the tests' clock: 1 July 2021)."""
    campaign_owner.create("accounts-summer", JUNE, SEPTEMBER, ["minors"])
    return "accounts-summer"


BAD = [
    ("unknown campaign", {"campaign_id": "nosuch"}, "campaign_id"),
    ("unknown special action", {"special_action": "nosuch"}, "special_action"),
    ("before the campaign", {"effective_us": JUNE - 1}, "effective_time"),
]


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
async def test_a_record_its_campaign_refuses_is_invalid_and_writes_nothing(
    client: AccountsClient, tokens: Tokens, summer: str, changes: dict, field: str
) -> None:
    md = tokens("cac")
    before = await snapshot(client, tokens)
    args = {"campaign_id": summer, "special_action": "minors", **changes}
    err = await expect_error(record(client, md, action("r1", **args)), INVALID)
    assert bad_fields(err) == [f"action.{field}"]
    assert await snapshot(client, tokens) == before


async def test_a_record_within_its_campaign_is_accepted(
    client: AccountsClient, tokens: Tokens, summer: str, clock: ManualClock
) -> None:
    md = tokens("cac")
    for i, when in enumerate((None, JUNE, START_US - 20 * DAY_US)):
        got = await record(
            client, md, action(f"r{i}", f"u{i}", campaign_id=summer, effective_us=when)
        )
        assert got.action.effective_time.ToMicroseconds() == (when or START_US)
    # Entered after the campaign: dated within it, or refused (its end is not in it).
    clock.current = SEPTEMBER + 30 * DAY_US
    await record(client, md, action("late", "u9", campaign_id=summer, effective_us=SEPTEMBER - 1))
    for when in (SEPTEMBER, None):
        err = await expect_error(
            record(client, md, action("late2", "u9", campaign_id=summer, effective_us=when)),
            INVALID,
        )
        assert bad_fields(err) == ["action.effective_time"]


async def test_an_import_rejects_each_record_its_campaign_refuses(
    client: AccountsClient, tokens: Tokens, summer: str
) -> None:
    md = tokens("cac")
    records = [
        action("i0", "u0", campaign_id=summer),
        action("i1", "u1", campaign_id="nosuch"),
        action("i2", "u2", campaign_id=summer, special_action="nosuch"),
        action("i3", "u3", campaign_id=summer, special_action="minors"),
        action("i4", "u4", campaign_id=summer, effective_us=JUNE - DAY_US),
        action("i5", "u5"),  # no campaign: nothing to ask
    ]
    reply = await client.import_actions(stream([records[:3], records[3:]]), metadata=md)
    summary = reply.summary
    assert (summary.accepted, summary.rejected) == (3, 3)
    assert [(r.index, r.request_id, r.field) for r in summary.rejections] == [
        (1, "i1", "campaign_id"),
        (2, "i2", "special_action"),
        (4, "i4", "effective_time"),
    ]
    stats = await client.get_stats(pb.GetStatsRequest(), metadata=tokens("office", "analyst"))
    assert stats.total.count == 3


async def test_an_unreachable_campaign_owner_refuses_the_write_retryably(
    serve, tokens: Tokens, summer: str
) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = await serve(SPEC, cases_addr="127.0.0.1:1")
    channel = await channel_to(server.port)
    client = AccountsClient(channel=channel, token="")
    md = tokens("cac")
    before = await snapshot(client, tokens)
    err = await expect_error(
        record(client, md, action("r1", campaign_id=summer)), grpc.StatusCode.UNAVAILABLE
    )
    assert error_reason(err) == "CAMPAIGNS_UNAVAILABLE"
    with pytest.raises(NetNetError) as e:
        await client.import_actions(stream([[action("i1", campaign_id=summer)]]), metadata=md)
    assert e.value.code == grpc.StatusCode.UNAVAILABLE
    assert await snapshot(client, tokens) == before
    # A record without a campaign needs no campaign owner.
    await record(client, md, action("r2"))
    await channel.close()


async def test_a_known_campaign_is_cached_so_writes_go_on_without_its_owner(
    serve, tokens: Tokens
) -> None:  # type: ignore[no-untyped-def]
    """Once learnt, a campaign answers from the cache (an import asks once per batch, not per
    record); with its owner gone, a campaign never learnt is UNAVAILABLE."""
    from services.cases.__main__ import SPEC as CASES

    cases: RunningServer = await serve(CASES)
    async with CasesClient(f"127.0.0.1:{cases.port}", token="") as owner:
        await owner.create_campaign(
            CampaignOwner.create_request("own-2021", JUNE, SEPTEMBER, ["minors"]),
            metadata=tokens("office", "admin"),
        )
    server: RunningServer = await serve(SPEC, cases_addr=f"127.0.0.1:{cases.port}")
    channel = await channel_to(server.port)
    client = AccountsClient(channel=channel, token="")
    md = tokens("cac")
    await record(client, md, action("r1", campaign_id="own-2021"))
    await cases.stop(0)
    await record(client, md, action("r2", "u2", campaign_id="own-2021", special_action="minors"))
    reply = await client.import_actions(
        stream([[action(f"i{i}", f"v{i}", campaign_id="own-2021") for i in range(50)]]),
        metadata=md,
    )
    assert reply.summary.accepted == 50
    await expect_error(
        record(client, md, action("r3", campaign_id="netnet-2021")), grpc.StatusCode.UNAVAILABLE
    )
    await channel.close()
