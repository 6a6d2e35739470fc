"""The gateway lists the campaigns as their owner lists them to the caller, page by page; a
caller without a valid token is refused by the gateway as by the owner."""

from __future__ import annotations

import pytest

from netnet.client import Unauthenticated
from tests.service.gateway.conftest import Stack
from tests.support.servers import CampaignOwner, Tokens


async def test_campaigns_listed_through_the_gateway_page_by_page(
    stack: Stack, tokens: Tokens
) -> None:
    slugs = [f"campaign-{i}" for i in range(5)]
    for slug in slugs:
        await stack.campaigns.create_campaign(
            CampaignOwner.create_request(slug), metadata=tokens("office", "admin")
        )
    for caller in (tokens("office", "analyst"), tokens("miit")):
        pager = await stack.gateway.list_campaigns(page_size=2, metadata=caller)
        assert len(pager.response.campaigns) == 2 and pager.response.next_page_token
        listed = [c.id async for c in pager]
        owners = [c.id async for c in await stack.campaigns.list_campaigns(metadata=caller)]
        assert sorted(listed) == sorted(owners) == slugs
    with pytest.raises(Unauthenticated):
        await stack.gateway.list_campaigns(metadata=[("authorization", "Bearer nonsense")])
