"""Two cases servers on one PostgreSQL schema (replicas): of two updates carrying the same
etag, one on each replica at the same moment, exactly one wins and the other is ABORTED; the
audit chain stays one chain."""

from __future__ import annotations

import asyncio

import pytest

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.client import Aborted, CasesClient
from services.cases.__main__ import SPEC
from services.common.server import RunningServer
from tests.service.cases.helpers import create_campaign, mask
from tests.support.servers import Tokens, channel_to

pytestmark = [
    pytest.mark.postgresql_only("replicas share a PostgreSQL schema"),
    pytest.mark.own_campaigns,
]
ROUNDS = 12


async def test_an_etag_race_between_replicas_lets_exactly_one_win(
    serve, server: RunningServer, client: CasesClient, tokens: Tokens
) -> None:  # type: ignore[no-untyped-def]
    other = await serve(SPEC)  # the same data dir: the same schema
    channel = await channel_to(other.port)
    replica = CasesClient(channel=channel, token="")
    admin, auditor = tokens("office", "admin"), tokens("office", "auditor")
    made = await create_campaign(client, admin, "race")
    etag = made.etag
    for n in range(ROUNDS):

        async def update(c: CasesClient, title: str, etag: str = etag) -> str:
            request = cpb.UpdateCampaignRequest(
                request_id=title,
                campaign=cpb.Campaign(name=made.name, etag=etag, title=title),
                update_mask=mask("title"),
            )
            try:
                return (await c.update_campaign(request, metadata=admin)).campaign.etag
            except Aborted:
                return ""

        won = await asyncio.gather(update(client, f"a{n}"), update(replica, f"b{n}"))
        assert sorted(bool(e) for e in won) == [False, True], (n, won)
        etag = next(e for e in won if e)
        got = await replica.get_campaign(cpb.GetCampaignRequest(name=made.name), metadata=admin)
        assert got.campaign.etag == etag
        assert got.campaign.title == ("a", "b")[won.index(etag)] + str(n)
    for c in (client, replica):
        v = (await c.verify_audit_chain(metadata=auditor)).verification
        assert v.ok, v
    await channel.close()
