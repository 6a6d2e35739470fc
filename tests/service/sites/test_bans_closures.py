"""Sites banned or closed, each once (GetStats subject BANS_AND_CLOSURES): the figure equals a
brute-force count of the live ban and close actions read back through the list RPCs (a site
both banned and closed, one closed twice, retractions), and a store written before the figure
existed is counted at start."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.server import start
from services.sites.__main__ import SPEC
from tests.service.sites.helpers import (
    ACTION_NAMES,
    BAN,
    CLOSE,
    NOTIFY,
    RESTORE,
    action,
    app,
    record,
    web,
)
from tests.support.audit import transaction
from tests.support.servers import Tokens, channel_to

C = "netnet"
# key (department or special action; "" for the total) -> (actions, distinct sites)
Counts = dict[tuple[str, str], tuple[int, int]]


async def seed(client: SitesClient, tokens: Tokens) -> None:
    cac, mct, miit = tokens("cac"), tokens("mct"), tokens("miit")
    n = iter(range(1, 1000))

    def a(site: pb.SiteRef, act: Any, dept: str, special: str = "") -> pb.SiteActionInput:
        return action(f"r{next(n)}", site, act, dept, campaign_id=C, special_action=special)

    await record(client, cac, a(web("both.example.com"), CLOSE, "cac", "minors"))
    await record(client, mct, a(web("both.example.com"), BAN, "mct"))  # banned and closed
    await record(client, cac, a(web("twice.example.org"), CLOSE, "cac"))
    await record(client, cac, a(web("twice.example.org"), RESTORE, "cac"))
    await record(client, cac, a(web("twice.example.org"), CLOSE, "cac"))  # closed twice
    await record(client, cac, a(web("banned.example.net"), BAN, "cac", "minors"))
    await record(client, miit, a(app("com.bad.app"), CLOSE, "miit", "minors"))
    await record(client, miit, a(web("notified.example.com"), NOTIFY, "miit"))  # neither
    wrong = await record(client, mct, a(web("wrong.example.com"), BAN, "mct"))
    await client.retract_site_action(
        pb.RetractSiteActionRequest(request_id="x1", name=wrong.action.name, reason="mistaken"),
        metadata=mct,
    )


async def brute_force(client: SitesClient, md: list[tuple[str, str]]) -> tuple[Counts, Counts]:
    """(by department, by special action): live ban and close actions, distinct sites."""
    tables: list[dict[tuple[str, str], list[Any]]] = [
        defaultdict(lambda: [0, set()]),
        defaultdict(lambda: [0, set()]),
    ]
    token = ""
    while True:
        page = (
            await client.list_sites(
                pb.ListSitesRequest(page_size=100, page_token=token), metadata=md
            )
        ).response
        for site in page.sites:
            actions = (
                await client.list_site_actions(
                    pb.ListSiteActionsRequest(parent=site.name, page_size=1000), metadata=md
                )
            ).response
            for x in actions.actions:
                if x.retracted or x.action not in (BAN, CLOSE) or x.campaign_id != C:
                    continue
                for table, key in (
                    (tables[0], (x.department, ACTION_NAMES[x.action])),
                    (tables[0], (x.department, "")),
                    (tables[0], ("", "")),
                    (tables[1], (x.special_action, "")),
                ):
                    table[key][0] += 1
                    table[key][1].add(site.name)
        token = page.next_page_token
        if not token:
            break
    by_dept, by_special = ({k: (c, len(s)) for k, (c, s) in t.items()} for t in tables)
    return by_dept, by_special


async def counted(client: SitesClient, md: list[tuple[str, str]]) -> tuple[Counts, Counts]:
    f = common_pb2.StatsFilter(campaign_id=C)
    subject = pb.STATS_SUBJECT_BANS_AND_CLOSURES
    dept, dept_action, special = (
        await client.batch_get_stats(
            pb.BatchGetStatsRequest(
                requests=[
                    pb.GetStatsRequest(subject=subject, filter=f, group_by=g)
                    for g in (
                        [common_pb2.DIMENSION_DEPARTMENT],
                        [common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_ACTION],
                        [common_pb2.DIMENSION_SPECIAL_ACTION],
                    )
                ]
            ),
            metadata=md,
        )
    ).responses
    by_dept: Counts = {("", ""): (dept.total.count, dept.total.distinct_subjects)}
    for row in dept.rows:
        by_dept[(row.department, "")] = (row.count, row.distinct_subjects)
    for row in dept_action.rows:
        by_dept[(row.department, row.action)] = (row.count, row.distinct_subjects)
    by_special = {(r.special_action, ""): (r.count, r.distinct_subjects) for r in special.rows}
    return by_dept, by_special


async def test_sites_banned_or_closed_are_counted_once(client: SitesClient, tokens: Tokens) -> None:
    await seed(client, tokens)
    md = tokens("office", "analyst")
    want = await brute_force(client, md)
    assert await counted(client, md) == want
    by_dept, by_special = want
    # both, twice, banned and the app: four sites, one of them banned and closed
    assert by_dept[("", "")] == (6, 4)
    assert by_special[("minors", "")] == (3, 3)
    # the parts, as the site actions count them: closed 3, banned 2 (3 + 2 > 4)
    parts = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_SITE_ACTIONS,
            filter=common_pb2.StatsFilter(campaign_id=C, actions=["ban", "close"]),
            group_by=[common_pb2.DIMENSION_ACTION],
        ),
        metadata=md,
    )
    assert {r.action: r.distinct_subjects for r in parts.rows} == {"ban": 2, "close": 3}


async def test_a_store_written_before_the_figure_is_counted_at_start(
    server: Any, client: SitesClient, tokens: Tokens, clock: Any
) -> None:
    await seed(client, tokens)
    md = tokens("office", "analyst")
    want = await brute_force(client, md)
    settings = server.runtime.settings
    await server.stop(0)
    # The store as it stood before: no bans_closures counters, the migration not applied.
    with transaction(settings) as db:
        keys = "key_id IN (SELECT id FROM rollup_keys WHERE rollup = 'bans_closures')"
        db.execute(f"DELETE FROM rollup_counts WHERE {keys}")
        db.execute(f"DELETE FROM rollup_marks WHERE {keys}")
        for table in ("rollup_totals", "rollup_single", "rollup_distinct", "rollup_keys"):
            db.execute(f"DELETE FROM {table} WHERE rollup = 'bans_closures'")
        db.execute("DELETE FROM schema_migrations WHERE name = 'sites/0002_ban_close_rollup.sql'")
    again = await start(SPEC, settings, clock)
    try:
        channel = await channel_to(again.port)
        restarted = SitesClient(channel=channel, token="")
        assert await counted(restarted, md) == want
        await record(
            restarted,
            tokens("cac"),
            action("after", web("banned.example.net"), CLOSE, "cac", campaign_id=C),
        )
        assert await counted(restarted, md) == await brute_force(restarted, md)
        await channel.close()
    finally:
        await again.stop(0)
