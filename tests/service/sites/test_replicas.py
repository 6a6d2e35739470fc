"""Two sites servers on one PostgreSQL schema (replicas), both sweeping for overdue notices:
each past-due notice is marked once, by one of them, with one change event."""

from __future__ import annotations

import asyncio

import pytest

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.clock import ManualClock
from services.common.server import RunningServer
from services.sites.__main__ import SPEC
from tests.service.sites.helpers import NOTIFY, action, app, record
from tests.support.servers import Tokens, channel_to

pytestmark = pytest.mark.postgresql_only("replicas share a PostgreSQL schema")
NOTICES = 6


async def test_both_replicas_sweep_and_each_notice_is_marked_once(
    serve, server: RunningServer, client: SitesClient, tokens: Tokens, clock: ManualClock
) -> None:  # type: ignore[no-untyped-def]
    other = await serve(SPEC, overdue_sweep_seconds=0.05)  # the same data dir: the same schema
    assert other.runtime.settings.database_schema == server.runtime.settings.database_schema
    channel = await channel_to(other.port)
    replica = SitesClient(channel=channel, token="")
    md, auditor = tokens("miit"), tokens("office", "auditor")
    for n in range(NOTICES):  # recorded through both replicas
        await record((client, replica)[n % 2], md, action(f"n{n}", app(f"com.late.app{n}"), NOTIFY))
    clock.advance(8 * 86_400)  # every notice past due; both replicas' sweeps run
    for _ in range(200):  # bounded wait for the sweeps
        stats = await replica.get_stats(
            pb.GetStatsRequest(subject=pb.STATS_SUBJECT_SITE_STATUS), metadata=md
        )
        if stats.total.count and all(
            s.status == pb.SITE_STATUS_OVERDUE
            for s in (await client.list_sites(pb.ListSitesRequest(), metadata=md)).response.sites
        ):
            break
        await asyncio.sleep(0.05)  # the sweeps run every 0.05 s
    await asyncio.sleep(0.3)  # several more sweeps on both: they must find nothing left
    events = await _feed(replica, md)
    updated = [e for e in events if e.kind == common_pb2.CHANGE_KIND_UPDATED]
    assert sorted(e.resource for e in updated) == sorted({e.resource for e in updated})
    assert len(updated) == NOTICES
    entries = (
        await replica.list_audit_entries(pb.ListAuditEntriesRequest(), metadata=auditor)
    ).response.entries
    sweeps = [e for e in entries if e.method == "OverdueSweep"]
    assert sum(int(e.outcome.removeprefix("overdue=")) for e in sweeps) == NOTICES
    for c in (client, replica):
        v = await c.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
        assert v.verification.ok, v.verification
    await channel.close()


async def _feed(client: SitesClient, md: list[tuple[str, str]]) -> list[common_pb2.ChangeEvent]:
    """The change feed from its start, until it has nothing more for a second."""
    events: list[common_pb2.ChangeEvent] = []
    stream = aiter(client.watch_changes(pb.WatchChangesRequest(), metadata=md))
    while True:
        try:
            resp = await asyncio.wait_for(anext(stream), 1.0)
        except TimeoutError:
            await stream.aclose()  # type: ignore[attr-defined]
            return events
        events.append(resp.event)
