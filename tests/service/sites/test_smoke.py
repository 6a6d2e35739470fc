from __future__ import annotations

import hashlib

from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from tests.support.rpc import ts
from tests.support.servers import START_US


async def test_notify_overdue_and_content(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    md = tokens("miit")
    day = 86_400_000_000
    r = await client.record_site_action(
        pb.RecordSiteActionRequest(
            action=pb.SiteActionInput(
                request_id="n1",
                site=pb.SiteRef(kind=pb.SITE_KIND_APP, identifier="com.example.app"),
                action=pb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
                category="user_rights",
                department="miit",
                due_time=ts(START_US + 7 * day),
                problems=["collects contacts"],
            )
        ),
        metadata=md,
    )
    assert r.site.status == pb.SITE_STATUS_NOTIFIED
    clock.advance(8 * 86400)
    overdue = (
        await client.list_overdue_sites(pb.ListOverdueSitesRequest(department="miit"), metadata=md)
    ).response
    assert [s.site.identifier for s in overdue.sites] == ["com.example.app"]
    sha = hashlib.sha256(b"x").hexdigest()
    d = await client.record_disposition(
        pb.RecordDispositionRequest(
            disposition=pb.DispositionInput(
                request_id="d1",
                site=pb.SiteRef(
                    kind=pb.SITE_KIND_WEBSITE, identifier="https://WWW.Example.com:8080/a"
                ),
                locator="https://www.example.com/a",
                content_sha256=sha,
                category="obscene",
                measure=pb.MEASURE_DELETE,
                handler=pb.HANDLER_PLATFORM,
                department="miit",
            )
        ),
        metadata=md,
    )
    assert d.disposition.name.startswith("sites/")
    stats = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_CONTENT, group_by=[common_pb2.DIMENSION_ACTION]
        ),
        metadata=md,
    )
    assert [(row.action, row.count) for row in stats.rows] == [("platform:delete", 1)]
