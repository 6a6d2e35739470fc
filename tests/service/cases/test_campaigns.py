"""CasesClient: created and changed by admins only, read by everyone, updated by mask and etag."""

from __future__ import annotations

import grpc
import pytest

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.client import CasesClient
from services.common.clock import ManualClock
from tests.service.cases.helpers import create_campaign, mask, snapshot
from tests.support.rpc import DAY_US, bad_fields, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens

OWN_CAMPAIGNS = True  # the tests make the campaigns they name

ACTIONS = (("minors-environment", "Minors' online environment"), ("fan-circle", "Fan-circle chaos"))


async def test_admin_creates_a_campaign_and_everyone_reads_it(
    campaigns: CasesClient, tokens: Tokens
) -> None:
    admin = tokens("office", "admin", operator="director")
    made = await create_campaign(campaigns, admin, "c1", special_actions=ACTIONS)
    assert made.name == "campaigns/netnet-2021"
    assert made.id == "netnet-2021"
    assert made.title == "Net Net 2021"
    assert made.start_time.ToMicroseconds() == START_US - 30 * DAY_US
    assert made.end_time.ToMicroseconds() == START_US + 183 * DAY_US
    assert made.lead_department == "office"
    assert list(made.participating_departments) == ["cpd", "cac", "miit", "mps", "mct", "nrta"]
    assert [(s.id, s.title) for s in made.special_actions] == list(ACTIONS)
    assert made.create_time.ToMicroseconds() == START_US
    assert made.update_time.ToMicroseconds() == START_US
    assert made.etag

    for reader in (tokens("mps"), tokens("cac", "analyst"), tokens("nppa", "auditor")):
        got = (
            await campaigns.get_campaign(
                cpb.GetCampaignRequest(name="campaigns/netnet-2021"), metadata=reader
            )
        ).campaign
        assert got == made
        listed = (
            (await campaigns.list_campaigns(cpb.ListCampaignsRequest(), metadata=reader)).response
        ).campaigns
        assert list(listed) == [made]


@pytest.mark.parametrize("roles", [("operator",), ("analyst",), ("auditor",), ("service",)])
async def test_only_admins_create_campaigns(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, roles: tuple[str, ...]
) -> None:
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        create_campaign(campaigns, tokens("office", *roles), "c1"),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error_reason(err) == "ROLE_REQUIRED"
    assert await snapshot(client, campaigns, tokens) == before
    # The refused request id is not used up.
    await create_campaign(campaigns, tokens("office", "admin"), "c1")


async def test_a_campaign_id_is_unique(campaigns: CasesClient, tokens: Tokens) -> None:
    admin = tokens("office", "admin")
    await create_campaign(campaigns, admin, "c1")
    await expect_error(
        create_campaign(campaigns, admin, "c2", title="Again"), grpc.StatusCode.ALREADY_EXISTS
    )
    await create_campaign(campaigns, admin, "c3", "qinglang-2021")
    listed = (
        (await campaigns.list_campaigns(cpb.ListCampaignsRequest(), metadata=admin)).response
    ).campaigns
    assert [c.id for c in listed] == ["netnet-2021", "qinglang-2021"]


async def test_get_unknown_campaign_is_not_found(campaigns: CasesClient, tokens: Tokens) -> None:
    await expect_error(
        campaigns.get_campaign(cpb.GetCampaignRequest(name="campaigns/nope"), metadata=tokens()),
        grpc.StatusCode.NOT_FOUND,
    )
    err = await expect_error(
        campaigns.get_campaign(cpb.GetCampaignRequest(name="nope"), metadata=tokens()),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == ["name"]


async def test_campaigns_page(campaigns: CasesClient, tokens: Tokens) -> None:
    admin = tokens("office", "admin")
    slugs = [f"c-{i}" for i in range(5)]
    for i, slug in enumerate(slugs):
        await create_campaign(campaigns, admin, f"r{i}", slug)
    seen: list[str] = []
    token = ""
    while True:
        page = (
            await campaigns.list_campaigns(
                cpb.ListCampaignsRequest(page_size=2, page_token=token), metadata=admin
            )
        ).response
        assert len(page.campaigns) <= 2
        seen += [c.id for c in page.campaigns]
        token = page.next_page_token
        if not token:
            break
    assert seen == slugs


async def test_update_changes_only_the_masked_fields(
    campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    admin = tokens("office", "admin")
    made = await create_campaign(campaigns, admin, "c1", special_actions=ACTIONS[:1])
    clock.advance(3600)
    new_actions = [cpb.SpecialAction(id=i, title=t) for i, t in ACTIONS]
    changed = (
        await campaigns.update_campaign(
            cpb.UpdateCampaignRequest(
                request_id="u1",
                campaign=cpb.Campaign(
                    name=made.name,
                    etag=made.etag,
                    title="Net Net 2021 (extended)",
                    lead_department="cac",  # not in the mask: ignored
                    special_actions=new_actions,
                    end_time=ts(START_US + 300 * DAY_US),  # not in the mask: ignored
                ),
                update_mask=mask("title", "special_actions", "participating_departments"),
            ),
            metadata=admin,
        )
    ).campaign
    assert changed.title == "Net Net 2021 (extended)"
    assert list(changed.special_actions) == new_actions
    assert list(changed.participating_departments) == []
    assert changed.lead_department == "office"
    assert changed.end_time == made.end_time and changed.start_time == made.start_time
    assert changed.create_time == made.create_time
    assert changed.update_time.ToMicroseconds() == START_US + 3600 * 1_000_000
    assert changed.etag != made.etag
    got = (
        await campaigns.get_campaign(cpb.GetCampaignRequest(name=made.name), metadata=admin)
    ).campaign
    assert got == changed

    # Only end_time: the stored start_time is kept.
    later = (
        await campaigns.update_campaign(
            cpb.UpdateCampaignRequest(
                request_id="u2",
                campaign=cpb.Campaign(
                    name=made.name, etag=changed.etag, end_time=ts(START_US + 300 * DAY_US)
                ),
                update_mask=mask("end_time"),
            ),
            metadata=admin,
        )
    ).campaign
    assert later.end_time.ToMicroseconds() == START_US + 300 * DAY_US
    assert later.start_time == made.start_time


async def test_update_with_a_stale_etag_is_aborted(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    admin = tokens("office", "admin")
    made = await create_campaign(campaigns, admin, "c1")
    first = (
        await campaigns.update_campaign(
            cpb.UpdateCampaignRequest(
                request_id="u1",
                campaign=cpb.Campaign(name=made.name, etag=made.etag, title="First"),
                update_mask=mask("title"),
            ),
            metadata=admin,
        )
    ).campaign
    before = await snapshot(client, campaigns, tokens)
    await expect_error(
        campaigns.update_campaign(
            cpb.UpdateCampaignRequest(
                request_id="u2",
                campaign=cpb.Campaign(name=made.name, etag=made.etag, title="Second"),
                update_mask=mask("title"),
            ),
            metadata=admin,
        ),
        grpc.StatusCode.ABORTED,
    )
    assert await snapshot(client, campaigns, tokens) == before
    got = (
        await campaigns.get_campaign(cpb.GetCampaignRequest(name=made.name), metadata=admin)
    ).campaign
    assert got.title == "First" and got.etag == first.etag


async def test_operators_cannot_update_campaigns(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    made = await create_campaign(campaigns, tokens("office", "admin"), "c1")
    before = await snapshot(client, campaigns, tokens)
    for md in (tokens("office"), tokens("mps", "operator", "analyst")):
        await expect_error(
            campaigns.update_campaign(
                cpb.UpdateCampaignRequest(
                    request_id="u1",
                    campaign=cpb.Campaign(name=made.name, etag=made.etag, title="Mine"),
                    update_mask=mask("title"),
                ),
                metadata=md,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    assert await snapshot(client, campaigns, tokens) == before


async def test_update_of_an_unknown_campaign_is_not_found(
    campaigns: CasesClient, tokens: Tokens
) -> None:
    await expect_error(
        campaigns.update_campaign(
            cpb.UpdateCampaignRequest(
                request_id="u1",
                campaign=cpb.Campaign(name="campaigns/nope", title="x"),
                update_mask=mask("title"),
            ),
            metadata=tokens("office", "admin"),
        ),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.mark.parametrize(
    ("paths", "campaign", "fields"),
    [
        (("id",), cpb.Campaign(id="other"), ["update_mask"]),
        (("title", "colour"), cpb.Campaign(title="x"), ["update_mask"]),
        ((), cpb.Campaign(title="x"), ["update_mask"]),
        (("title",), cpb.Campaign(title=""), ["campaign.title"]),
        (
            ("lead_department",),
            cpb.Campaign(lead_department="police"),
            ["campaign.lead_department"],
        ),
        (
            ("participating_departments",),
            cpb.Campaign(participating_departments=["mps", "army"]),
            ["campaign.participating_departments"],
        ),
        (
            ("special_actions",),
            cpb.Campaign(special_actions=[cpb.SpecialAction(id="a", title="A")] * 2),
            ["campaign.special_actions"],
        ),
        (
            ("start_time", "end_time"),
            cpb.Campaign(start_time=ts(START_US), end_time=ts(START_US - DAY_US)),
            ["campaign.end_time"],
        ),
        (("end_time",), cpb.Campaign(end_time=ts(START_US - 60 * DAY_US)), ["campaign.end_time"]),
        (
            ("start_time",),
            cpb.Campaign(start_time=ts(START_US + 400 * DAY_US)),
            ["campaign.start_time"],
        ),
    ],
)
async def test_bad_updates_are_invalid_and_change_nothing(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    paths: tuple[str, ...],
    campaign: cpb.Campaign,
    fields: list[str],
) -> None:
    admin = tokens("office", "admin")
    made = await create_campaign(campaigns, admin, "c1")
    before = await snapshot(client, campaigns, tokens)
    request = cpb.Campaign()
    request.CopyFrom(campaign)
    request.name, request.etag = made.name, made.etag
    err = await expect_error(
        campaigns.update_campaign(
            cpb.UpdateCampaignRequest(request_id="u1", campaign=request, update_mask=mask(*paths)),
            metadata=admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == fields
    assert await snapshot(client, campaigns, tokens) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "Net Net"}, "campaign.id"),
        ({"id": ""}, "campaign.id"),
        ({"title": ""}, "campaign.title"),
        ({"title": "x" * 257}, "campaign.title"),
        ({"end_time": ts(START_US - 31 * DAY_US)}, "campaign.end_time"),
        ({"start_time": None}, "campaign.start_time"),
        ({"lead_department": "army"}, "campaign.lead_department"),
        ({"participating_departments": ["mps", "x"]}, "campaign.participating_departments"),
        (
            {"special_actions": [cpb.SpecialAction(id="Bad Id", title="t")]},
            "campaign.special_actions",
        ),
        ({"special_actions": [cpb.SpecialAction(id="ok", title="")]}, "campaign.special_actions"),
    ],
)
async def test_bad_campaigns_are_invalid_and_nothing_is_written(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    change: dict[str, object],
    field: str,
) -> None:
    good = cpb.Campaign(
        id="netnet-2021",
        title="Net Net 2021",
        start_time=ts(START_US - 30 * DAY_US),
        end_time=ts(START_US + 180 * DAY_US),
        lead_department="office",
        participating_departments=["mps"],
    )
    for name, value in change.items():
        if value is None:
            good.ClearField(name)  # type: ignore[arg-type]
        elif isinstance(value, list):
            good.ClearField(name)  # type: ignore[arg-type]
            getattr(good, name).extend(value)
        elif name.endswith("_time"):
            getattr(good, name).CopyFrom(value)
        else:
            setattr(good, name, value)
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        campaigns.create_campaign(
            cpb.CreateCampaignRequest(request_id="c1", campaign=good),
            metadata=tokens("office", "admin"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert field in bad_fields(err)
    assert await snapshot(client, campaigns, tokens) == before


async def test_create_campaign_is_idempotent(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    admin = tokens("office", "admin")
    first = await create_campaign(campaigns, admin, "c1")
    after_first = await snapshot(client, campaigns, tokens)
    clock.advance(60)
    again = await create_campaign(campaigns, admin, "c1")
    assert again == first
    assert await snapshot(client, campaigns, tokens) == after_first
    err = await expect_error(
        create_campaign(campaigns, admin, "c1", "other-2021"), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["request_id"]
    assert await snapshot(client, campaigns, tokens) == after_first
