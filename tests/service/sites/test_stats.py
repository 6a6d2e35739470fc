"""GetStats from rollup counters equals brute-force counts over the records the test made, for
every subject, grouping and filter (after retractions too)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from tests.service.sites.helpers import (
    ACTION_NAMES,
    APP,
    BAN,
    CLOSE,
    CONFIRM,
    CONTENT_ACTIONS,
    NOTIFY,
    REMOVE,
    RESTORE,
    STATUS_NAMES,
    action,
    app,
    disposition,
    import_stream,
    record,
    web,
)
from tests.support.rpc import DAY_US, HOUR_US, ts
from tests.support.servers import START_US, Tokens

DEPARTMENTS = ("cac", "miit", "mps", "mct")
CATEGORIES = ("obscene", "user_rights", "fraud", "copyright")
CAMPAIGNS = (("", ""), ("netnet-2021", ""), ("netnet-2021", "summer-minors"), ("qingfeng", ""))
DIMS = {
    common_pb2.DIMENSION_DEPARTMENT: 0,
    common_pb2.DIMENSION_ACTION: 1,
    common_pb2.DIMENSION_CATEGORY: 2,
    common_pb2.DIMENSION_CAMPAIGN: 3,
    common_pb2.DIMENSION_SPECIAL_ACTION: 4,
    common_pb2.DIMENSION_DAY: 5,
}
FIELDS = ("department", "action", "category", "campaign_id", "special_action", "day")
ALL = list(DIMS)
DUE = START_US + 10 * DAY_US
# What may follow a status (apps may also be removed from stores).
ALLOWED = {
    "active": (NOTIFY, BAN, CLOSE, REMOVE),
    "notified": (NOTIFY, CONFIRM, BAN, CLOSE, REMOVE),
    "rectified": (NOTIFY, BAN, CLOSE, REMOVE),
    "restored": (NOTIFY, BAN, CLOSE, REMOVE),
    "banned": (RESTORE, CLOSE, REMOVE),
    "closed": (RESTORE, BAN, REMOVE),
    "removed": (RESTORE, BAN, CLOSE),
}
AFTER = {
    NOTIFY: "notified",
    CONFIRM: "rectified",
    BAN: "banned",
    CLOSE: "closed",
    REMOVE: "removed",
    RESTORE: "restored",
}


def day(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Rec:
    """One counted record: its subject (site name, or '' when none) and its six dimensions."""

    subject: str
    key: tuple[str, str, str, str, str, str]
    app: bool = False


@dataclass
class World:
    actions: dict[str, Rec]  # action name -> record (live ones only)
    content: list[Rec]
    batches: list[Rec]
    statuses: Counter[str]  # from ListSites


async def build(client: SitesClient, tokens: Tokens) -> World:
    rnd = random.Random(20210701)
    actions: dict[str, Rec] = {}
    history: dict[str, list[tuple[str, str]]] = defaultdict(list)  # site -> (action, dept)
    n = 0
    for s in range(24):
        is_app = s % 3 != 0
        site = app(f"com.stats.app{s}") if is_app else web(f"site{s}.example.cn")
        status = "active"
        when = START_US - rnd.randrange(15, 25) * DAY_US
        for _ in range(rnd.randrange(1, 6)):
            choices = [a for a in ALLOWED[status] if is_app or a != REMOVE]
            act = rnd.choice(choices)
            dept = rnd.choice(DEPARTMENTS)
            campaign, special = rnd.choice(CAMPAIGNS)
            category = rnd.choice(CATEGORIES)
            when += rnd.randrange(1, 60) * HOUR_US
            r = await record(
                client,
                tokens(dept),
                action(
                    f"a{n}",
                    site,
                    act,
                    dept,
                    category=category,
                    campaign_id=campaign,
                    special_action=special,
                    effective_us=when,
                    due_us=DUE if act == NOTIFY else None,
                ),
            )
            n += 1
            status = AFTER[act]
            assert STATUS_NAMES[r.site.status] == status
            key = (dept, ACTION_NAMES[act], category, campaign, special, day(when))
            actions[r.action.name] = Rec(r.site.name, key, is_app)
            history[r.site.name].append((r.action.name, dept))
    # Retract the newest action of a few sites (always allowed: nothing depends on it).
    for site_name in sorted(history)[::5]:
        name, dept = history[site_name][-1]
        await client.retract_site_action(
            pb.RetractSiteActionRequest(request_id=f"x-{name}", name=name, reason="mistake"),
            metadata=tokens(dept),
        )
        del actions[name]

    # Notice batches: published ones notify their (fresh) apps; a draft counts for nothing.
    batches: list[Rec] = []
    for b, (dept, campaign, special, category, publish) in enumerate(
        [
            ("miit", "netnet-2021", "summer-minors", "user_rights", True),
            ("miit", "netnet-2021", "", "data_security", True),
            ("cac", "qingfeng", "", "obscene", True),
            ("miit", "netnet-2021", "", "user_rights", False),
        ]
    ):
        md = tokens(dept)
        created = await client.create_notice_batch(
            pb.CreateNoticeBatchRequest(
                request_id=f"b{b}",
                batch=pb.NoticeBatch(
                    title=f"batch {b}",
                    department=dept,
                    category=category,
                    campaign_id=campaign,
                    special_action=special,
                    due_time=ts(DUE),
                ),
            ),
            metadata=md,
        )
        name = created.batch.name
        packages = [f"com.batch{b}.app{i}" for i in range(b + 2)]
        await client.add_notice_entries(
            pb.AddNoticeEntriesRequest(
                request_id=f"e{b}",
                batch=name,
                entries=[pb.NoticeEntry(site=app(p), problems=["p"]) for p in packages],
            ),
            metadata=md,
        )
        if not publish:
            continue
        await client.publish_notice_batch(
            pb.PublishNoticeBatchRequest(request_id=f"p{b}", name=name), metadata=md
        )
        batches.append(Rec("", (dept, "published", category, campaign, special, day(START_US))))
        listed = (
            await client.list_sites(pb.ListSitesRequest(kind=APP, page_size=1000), metadata=md)
        ).response
        for site in listed.sites:
            if site.identifier in packages:
                acts = (
                    await client.list_site_actions(
                        pb.ListSiteActionsRequest(parent=site.name), metadata=md
                    )
                ).response
                (a,) = acts.actions
                key = (dept, "notify_rectification", category, campaign, special, day(START_US))
                actions[a.name] = Rec(site.name, key, True)

    # Content: singly and imported, over days, handlers and measures.
    content: list[Rec] = []
    imported: list[pb.DispositionInput] = []
    for i in range(80):
        dept = rnd.choice(DEPARTMENTS)
        measure = rnd.choice(
            [pb.MEASURE_DELETE, pb.MEASURE_BLOCK, pb.MEASURE_DOWN_RANK, pb.MEASURE_LABEL]
        )
        handler = rnd.choice([pb.HANDLER_DIRECT, pb.HANDLER_PLATFORM])
        campaign, special = rnd.choice(CAMPAIGNS)
        category = rnd.choice(CATEGORIES)
        when = START_US - rnd.randrange(0, 20 * 24) * HOUR_US
        d = disposition(
            f"d{i}",
            web(f"site{i % 7}.example.cn"),
            f"content-{i % 50}",
            dept,
            measure=measure,
            handler=handler,
            category=category,
            campaign_id=campaign,
            special_action=special,
            effective_us=when,
        )
        if dept == "mct" and i % 2:
            imported.append(d)
        else:
            await client.record_disposition(
                pb.RecordDispositionRequest(disposition=d), metadata=tokens(dept)
            )
        key = (dept, CONTENT_ACTIONS[(handler, measure)], category, campaign, special, day(when))
        content.append(Rec("", key))
    resp = await client.import_dispositions(import_stream([imported]), metadata=tokens("mct"))
    assert resp.summary.accepted == len(imported) > 0

    sites = (
        await client.list_sites(pb.ListSitesRequest(page_size=1000), metadata=tokens("office"))
    ).response
    statuses = Counter(STATUS_NAMES[s.status] for s in sites.sites)
    return World(actions, content, batches, statuses)


@dataclass(frozen=True)
class Query:
    group_by: tuple[int, ...] = ()
    departments: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    campaign_id: str = ""
    special_action: str = ""
    start_us: int | None = None
    end_us: int | None = None

    def request(self, subject: pb.StatsSubject.ValueType) -> pb.GetStatsRequest:
        f = common_pb2.StatsFilter(
            departments=self.departments,
            actions=self.actions,
            categories=self.categories,
            campaign_id=self.campaign_id,
            special_action=self.special_action,
        )
        if self.start_us is not None:
            f.start_time.CopyFrom(ts(self.start_us))
        if self.end_us is not None:
            f.end_time.CopyFrom(ts(self.end_us))
        return pb.GetStatsRequest(subject=subject, filter=f, group_by=self.group_by)

    def matches(self, r: Rec) -> bool:
        dept, act, category, campaign, special, d = r.key
        return (
            (not self.departments or dept in self.departments)
            and (not self.actions or act in self.actions)
            and (not self.categories or category in self.categories)
            and (not self.campaign_id or campaign == self.campaign_id)
            and (not self.special_action or special == self.special_action)
            and (self.start_us is None or d >= day(self.start_us))
            and (self.end_us is None or d < day(self.end_us))
        )

    def distinct_exact(self) -> bool:
        """When the service can count distinct subjects exactly (see services.common.rollups)."""
        if common_pb2.DIMENSION_DAY in self.group_by or self.start_us or self.end_us:
            return False
        multi = [
            (common_pb2.DIMENSION_DEPARTMENT, self.departments),
            (common_pb2.DIMENSION_ACTION, self.actions),
            (common_pb2.DIMENSION_CATEGORY, self.categories),
        ]
        return all(len(v) <= 1 or d in self.group_by for d, v in multi)


Rows = dict[tuple[str, ...], tuple[int, int | None]]


def brute_force(
    records: list[Rec], q: Query, subjects: bool
) -> tuple[Rows, tuple[int, int | None]]:
    counts: Counter[tuple[str, ...]] = Counter()
    who: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for r in records:
        if q.matches(r):
            group = tuple(r.key[DIMS[d]] for d in q.group_by)
            counts[group] += 1
            who[group].add(r.subject)
    exact = subjects and q.distinct_exact()
    rows = {g: (n, len(who[g]) if exact else None) for g, n in counts.items()}
    everyone = set().union(*who.values()) if who else set()
    total_exact = (
        subjects
        and Query(
            (),
            q.departments,
            q.actions,
            q.categories,
            q.campaign_id,
            q.special_action,
            q.start_us,
            q.end_us,
        ).distinct_exact()
    )
    return rows, (sum(counts.values()), len(everyone) if total_exact else None)


async def served(
    client: SitesClient, tokens: Tokens, subject: pb.StatsSubject.ValueType, q: Query
) -> tuple[Rows, tuple[int, int | None]]:
    resp = await client.get_stats(q.request(subject), metadata=tokens("nppa", "analyst"))
    rows: Rows = {}
    for r in resp.rows:
        group = tuple(getattr(r, FIELDS[DIMS[d]]) for d in q.group_by)
        assert group not in rows, f"group {group} twice"
        # Fields not grouped by are empty.
        for d, i in DIMS.items():
            if d not in q.group_by:
                assert getattr(r, FIELDS[i]) == "", (FIELDS[i], r)
        rows[group] = (r.count, r.distinct_subjects if r.HasField("distinct_subjects") else None)
    total = resp.total
    return rows, (
        total.count,
        total.distinct_subjects if total.HasField("distinct_subjects") else None,
    )


QUERIES = [
    Query(),
    *(Query((d,)) for d in ALL),
    Query((common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_ACTION)),
    Query(tuple(d for d in ALL if d != common_pb2.DIMENSION_DAY)),
    Query(tuple(ALL)),
    Query((common_pb2.DIMENSION_CAMPAIGN, common_pb2.DIMENSION_SPECIAL_ACTION)),
    Query((common_pb2.DIMENSION_DEPARTMENT,), departments=("cac", "miit")),
    Query((common_pb2.DIMENSION_ACTION,), departments=("cac", "miit")),  # distinct not exact
    Query(departments=("mps",)),
    Query((common_pb2.DIMENSION_CATEGORY,), campaign_id="netnet-2021"),
    Query(
        (common_pb2.DIMENSION_DEPARTMENT,),
        campaign_id="netnet-2021",
        special_action="summer-minors",
    ),
    Query((common_pb2.DIMENSION_DEPARTMENT,), categories=("fraud",)),
    Query(
        (common_pb2.DIMENSION_DAY,), start_us=START_US - 12 * DAY_US, end_us=START_US - 5 * DAY_US
    ),
    Query((common_pb2.DIMENSION_DEPARTMENT,), start_us=START_US - 10 * DAY_US),
    Query(end_us=START_US - 7 * DAY_US),
]
SITE_ACTION_QUERIES = [
    *QUERIES,
    Query((common_pb2.DIMENSION_DEPARTMENT,), actions=("ban", "close")),
    Query((common_pb2.DIMENSION_ACTION,), actions=("ban", "close")),
    Query(actions=("notify_rectification",)),
]
CONTENT_QUERIES = [
    *QUERIES,
    Query((common_pb2.DIMENSION_DEPARTMENT,), actions=("direct:delete", "platform:block")),
    Query(actions=("platform:delete",)),
]


@pytest.fixture
async def world(client: SitesClient, tokens: Tokens) -> World:
    return await build(client, tokens)


async def test_site_actions(client: SitesClient, tokens: Tokens, world: World) -> None:
    records = list(world.actions.values())
    assert {r.key[1] for r in records} >= {
        "notify_rectification",
        "ban",
        "restore",
        "remove_from_stores",
    }
    for q in SITE_ACTION_QUERIES:
        assert await served(client, tokens, pb.STATS_SUBJECT_SITE_ACTIONS, q) == brute_force(
            records, q, subjects=True
        ), q


async def test_app_actions(client: SitesClient, tokens: Tokens, world: World) -> None:
    records = [r for r in world.actions.values() if r.app]
    assert 0 < len(records) < len(world.actions)
    for q in SITE_ACTION_QUERIES:
        assert await served(client, tokens, pb.STATS_SUBJECT_APP_ACTIONS, q) == brute_force(
            records, q, subjects=True
        ), q


async def test_content(client: SitesClient, tokens: Tokens, world: World) -> None:
    for q in CONTENT_QUERIES:
        assert await served(client, tokens, pb.STATS_SUBJECT_CONTENT, q) == brute_force(
            world.content, q, subjects=False
        ), q


async def test_notice_batches(client: SitesClient, tokens: Tokens, world: World) -> None:
    assert len(world.batches) == 3
    for q in QUERIES:
        assert await served(client, tokens, pb.STATS_SUBJECT_NOTICE_BATCHES, q) == brute_force(
            world.batches, q, subjects=False
        ), q


async def test_site_status(client: SitesClient, tokens: Tokens, world: World) -> None:
    q = Query((common_pb2.DIMENSION_ACTION,))
    rows, total = await served(client, tokens, pb.STATS_SUBJECT_SITE_STATUS, q)
    assert rows == {(status,): (n, None) for status, n in world.statuses.items()}
    assert total == (sum(world.statuses.values()), None)
    assert len(world.statuses) >= 4
    only = await served(
        client, tokens, pb.STATS_SUBJECT_SITE_STATUS, Query(actions=("banned", "closed"))
    )
    assert only[1][0] == world.statuses["banned"] + world.statuses["closed"]
