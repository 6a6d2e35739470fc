"""The database server drops the service's connections (a restart, a failover): the call
that finds its connection gone fails UNAVAILABLE (retryable) and writes nothing; the next
calls get new connections and go on; nothing acknowledged is lost."""

from __future__ import annotations

import psycopg
import pytest

from netnet.client import AccountsClient, Unavailable
from services.common.server import RunningServer
from tests.service.accounts.helpers import action, record
from tests.support import stores
from tests.support.servers import Tokens

pytestmark = pytest.mark.postgresql_only("the connections of a PostgreSQL server")


def _drop_connections(server: RunningServer) -> int:
    """Terminate every connection the service holds (as a server restart would)."""
    name = f"netnet {server.runtime.settings.database_schema}"
    with psycopg.connect(stores.SERVER_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).fetchall()
    return len(rows)


async def test_lost_connections_fail_unavailable_and_the_service_goes_on(
    client: AccountsClient, tokens: Tokens, server: RunningServer
) -> None:
    md = tokens("cac")
    await record(client, md, action("before", "u1"))
    assert _drop_connections(server) >= 2  # the writer and a reader at least
    outcomes, unanswered = [], []
    for n in range(4):
        try:
            await record(client, md, action(f"after-{n}", f"u{n}"))
            outcomes.append("ok")
        except Unavailable as e:
            assert e.reason == "DATABASE_UNAVAILABLE", e
            outcomes.append("unavailable")
            unanswered.append(n)
    assert outcomes[-2:] == ["ok", "ok"], outcomes  # new connections: it goes on
    for n in unanswered:  # what a client does with UNAVAILABLE: the same call again
        await record(client, md, action(f"after-{n}", f"u{n}"))
    # Every record exactly once (a retried one was written by its retry, or is a duplicate).
    stats = None
    for _ in range(3):  # a read that finds its pooled connection gone fails UNAVAILABLE too
        try:
            stats = await client.get_stats(metadata=md)
            break
        except Unavailable:
            continue
    assert stats is not None and stats.total.count == 5
