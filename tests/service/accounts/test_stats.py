"""GetStats against a brute-force count of what the test recorded."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass

import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.common.v1 import common_pb2
from services.common.clock import day_of
from tests.service.accounts.helpers import action, stream
from tests.support.rpc import DAY_US, HOUR_US, ts
from tests.support.servers import START_US, Tokens

FIELDS = ("department", "action", "category", "campaign_id", "special_action", "day")
DIMENSION = {
    "department": common_pb2.DIMENSION_DEPARTMENT,
    "action": common_pb2.DIMENSION_ACTION,
    "category": common_pb2.DIMENSION_CATEGORY,
    "campaign_id": common_pb2.DIMENSION_CAMPAIGN,
    "special_action": common_pb2.DIMENSION_SPECIAL_ACTION,
    "day": common_pb2.DIMENSION_DAY,
}
ACTION_NAMES = {
    pb.ACTION_TYPE_WARN: "warn",
    pb.ACTION_TYPE_RESTRICT: "restrict",
    pb.ACTION_TYPE_SUSPEND: "suspend",
    pb.ACTION_TYPE_BAN: "ban",
}
DEPARTMENTS = ("cac", "mps", "mct", "nppa")


@dataclass
class Rec:
    department: str
    action: str
    category: str
    campaign_id: str
    special_action: str
    day: str
    account: str
    name: str = ""
    live: bool = True


@dataclass(frozen=True)
class Filter:
    departments: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    campaign_id: str = ""
    special_action: str = ""
    start_us: int | None = None
    end_us: int | None = None

    def pb(self) -> common_pb2.StatsFilter:
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
        return f

    def matches(self, r: Rec) -> bool:
        return (
            (not self.departments or r.department in self.departments)
            and (not self.actions or r.action in self.actions)
            and (not self.categories or r.category in self.categories)
            and (not self.campaign_id or r.campaign_id == self.campaign_id)
            and (not self.special_action or r.special_action == self.special_action)
            and (self.start_us is None or r.day >= day_of(self.start_us))
            and (self.end_us is None or r.day < day_of(self.end_us))
        )

    def exact_distinct(self, group_by: tuple[str, ...]) -> bool:
        """Distinct subjects are exact unless counted by day, or a dimension filtered by
        several values is not grouped by."""
        if "day" in group_by or self.start_us is not None or self.end_us is not None:
            return False
        multi = {
            d
            for d, values in (
                ("department", self.departments),
                ("action", self.actions),
                ("category", self.categories),
            )
            if len(values) > 1
        }
        return multi <= set(group_by)


Expected = dict[tuple[str, ...], tuple[int, int | None]]


def brute_force(
    recs: list[Rec], f: Filter, group_by: tuple[str, ...]
) -> tuple[Expected, tuple[int, int | None]]:
    groups: dict[tuple[str, ...], list[Rec]] = defaultdict(list)
    matching = [r for r in recs if r.live and f.matches(r)]
    for r in matching:
        groups[tuple(getattr(r, d) if d in group_by else "" for d in FIELDS)].append(r)
    exact = f.exact_distinct(group_by)
    rows = {
        k: (len(rs), len({r.account for r in rs}) if exact else None) for k, rs in groups.items()
    }
    total = (len(matching), len({r.account for r in matching}) if f.exact_distinct(()) else None)
    return rows, total


def observed(resp: pb.GetStatsResponse) -> tuple[Expected, tuple[int, int | None]]:
    rows: Expected = {}
    for row in resp.rows:
        key = tuple(getattr(row, d) for d in FIELDS)
        assert key not in rows, f"group {key} listed twice"
        rows[key] = (
            row.count,
            row.distinct_subjects if row.HasField("distinct_subjects") else None,
        )
    t = resp.total
    return rows, (t.count, t.distinct_subjects if t.HasField("distinct_subjects") else None)


async def _populate(client: AccountsClient, tokens: Tokens, seed: int) -> list[Rec]:
    """About 150 actions by four departments on 15 accounts, some imported, some retracted."""
    rng = random.Random(seed)
    recs: list[Rec] = []
    by_dept: dict[str, list[pb.ActionInput]] = defaultdict(list)
    for i in range(150):
        dept = rng.choice(DEPARTMENTS)
        act = rng.choice(list(ACTION_NAMES))
        campaign = rng.choice(("", "c1", "c2"))
        special = rng.choice(("", "sa1", "sa2")) if campaign else ""
        effective = START_US - rng.randrange(6) * DAY_US - rng.randrange(1, 23) * HOUR_US
        a = action(
            f"r{i}",
            f"u{rng.randrange(15)}",
            act,
            dept,
            category=rng.choice(("obscene", "fraud", "vulgar")),
            campaign_id=campaign,
            special_action=special,
            effective_us=effective,
            suspend_until_us=START_US + DAY_US if act == pb.ACTION_TYPE_SUSPEND else None,
        )
        rec = Rec(
            dept,
            ACTION_NAMES[act],
            a.category,
            campaign,
            special,
            day_of(effective),
            a.account.platform_uid,
        )
        recs.append(rec)
        if i % 3:
            r = await client.record_action(pb.RecordActionRequest(action=a), metadata=tokens(dept))
            rec.name = r.action.name
        else:
            by_dept[dept].append(a)
    for dept, actions in by_dept.items():
        summary = (await client.import_actions(stream([actions]), metadata=tokens(dept))).summary
        assert summary.accepted == len(actions)
    # Retract a few of the unary ones (no restores, so any may be retracted).
    for rec in rng.sample([r for r in recs if r.name], 20):
        await client.retract_action(
            pb.RetractActionRequest(request_id=f"x-{rec.name}", name=rec.name, reason="mistake"),
            metadata=tokens(rec.department),
        )
        rec.live = False
    return recs


async def _check(
    client: AccountsClient, tokens: Tokens, recs: list[Rec], f: Filter, group_by: tuple[str, ...]
) -> None:
    resp = await client.get_stats(
        pb.GetStatsRequest(filter=f.pb(), group_by=[DIMENSION[d] for d in group_by]),
        metadata=tokens("office", "analyst"),
    )
    assert observed(resp) == brute_force(recs, f, group_by), (f, group_by)


ALL_GROUPINGS = [
    combo for n in range(len(FIELDS) + 1) for combo in itertools.combinations(FIELDS, n)
]
T0 = START_US - 4 * DAY_US + 12 * HOUR_US
FILTERS = [
    Filter(departments=("cac",)),
    Filter(departments=("cac", "mps")),
    Filter(actions=("ban",)),
    Filter(actions=("ban", "warn"), categories=("fraud",)),
    Filter(categories=("fraud", "obscene")),
    Filter(campaign_id="c1"),
    Filter(campaign_id="c1", special_action="sa1"),
    Filter(special_action="sa2"),
    Filter(start_us=T0),
    Filter(end_us=T0),
    Filter(start_us=T0, end_us=T0 + 2 * DAY_US),
    Filter(departments=("mps", "mct"), categories=("vulgar", "fraud"), campaign_id="c2"),
    Filter(departments=("nrta",)),
]
SOME_GROUPINGS = [
    (),
    ("department",),
    ("action",),
    ("category",),
    ("day",),
    ("department", "category"),
    ("campaign_id", "special_action"),
    ("department", "action", "category"),
    ("department", "category", "day"),
]


@pytest.mark.parametrize("seed", [1, 2])
async def test_stats_match_brute_force(client: AccountsClient, tokens: Tokens, seed: int) -> None:
    recs = await _populate(client, tokens, seed)
    assert len({r.day for r in recs}) >= 5
    for group_by in ALL_GROUPINGS:
        await _check(client, tokens, recs, Filter(), group_by)
    for f in FILTERS:
        for group_by in SOME_GROUPINGS:
            await _check(client, tokens, recs, f, group_by)
    # Group-by order does not change the answer.
    await _check(client, tokens, recs, Filter(), ("day", "category", "department"))


async def test_distinct_subjects_is_unset_where_not_exact(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    for i, (uid, category) in enumerate([("u1", "fraud"), ("u1", "obscene"), ("u2", "fraud")]):
        await client.record_action(
            pb.RecordActionRequest(action=action(f"r{i}", uid, category=category)), metadata=md
        )

    async def get(
        f: common_pb2.StatsFilter, *group_by: common_pb2.Dimension.ValueType
    ) -> pb.GetStatsResponse:
        return await client.get_stats(pb.GetStatsRequest(filter=f, group_by=group_by), metadata=md)

    both = common_pb2.StatsFilter(categories=["fraud", "obscene"])
    r = await get(both)
    assert r.total.count == 3 and not r.total.HasField("distinct_subjects")
    r = await get(both, common_pb2.DIMENSION_CATEGORY)
    assert {x.category: x.distinct_subjects for x in r.rows} == {"fraud": 2, "obscene": 1}
    assert not r.total.HasField("distinct_subjects")
    r = await get(common_pb2.StatsFilter(categories=["fraud"]))
    assert (r.total.count, r.total.distinct_subjects) == (2, 2)
    r = await get(common_pb2.StatsFilter(), common_pb2.DIMENSION_DAY)
    assert [(x.day, x.count) for x in r.rows] == [("2021-07-01", 3)]
    assert not r.rows[0].HasField("distinct_subjects")
    assert r.total.distinct_subjects == 2
    r = await get(common_pb2.StatsFilter(start_time=ts(START_US)))
    assert r.total.count == 3 and not r.total.HasField("distinct_subjects")
