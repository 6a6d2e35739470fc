"""Site actions against a model written here: rounds of calls made at once, each round one
action on each of several sites (so the calls are written as batches, in any order), leave
every site, every answer and the counts as the model (one action at a time) says."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from netnet.client import FailedPrecondition, SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from tests.service.sites.helpers import (
    BAN,
    CLOSE,
    CONFIRM,
    NOTIFY,
    REMOVE,
    RESTORE,
    action,
    app,
    record,
    web,
)
from tests.support.rpc import DAY_US
from tests.support.servers import START_US, Tokens

S = pb.SiteStatus
SHUT = {S.SITE_STATUS_BANNED, S.SITE_STATUS_CLOSED, S.SITE_STATUS_REMOVED}
TARGET = {BAN: S.SITE_STATUS_BANNED, CLOSE: S.SITE_STATUS_CLOSED, REMOVE: S.SITE_STATUS_REMOVED}
HOUR_US = 3_600_000_000


@dataclass
class Model:
    """A site as the model keeps it."""

    status: int = S.SITE_STATUS_ACTIVE
    due_us: int | None = None
    actions: list[tuple[int, str]] = field(default_factory=list)  # (action, category)
    first_us: int | None = None
    last_us: int | None = None

    def now_status(self) -> int:
        overdue = self.status == S.SITE_STATUS_NOTIFIED and self.due_us is not None
        if overdue and self.due_us <= START_US:  # type: ignore[operator]
            return S.SITE_STATUS_OVERDUE
        return self.status

    def apply(self, act: int, due_us: int | None) -> bool:
        """Whether the action is allowed; if so the site moves on."""
        status = self.now_status()
        if act == NOTIFY:
            if status in SHUT:
                return False
            self.status, self.due_us = S.SITE_STATUS_NOTIFIED, due_us
        elif act == CONFIRM:
            if status not in (S.SITE_STATUS_NOTIFIED, S.SITE_STATUS_OVERDUE):
                return False
            self.status, self.due_us = S.SITE_STATUS_RECTIFIED, None
        elif act == RESTORE:
            if status not in SHUT:
                return False
            self.status, self.due_us = S.SITE_STATUS_RESTORED, None
        else:
            if status == TARGET[act]:
                return False
            self.status, self.due_us = TARGET[act], None
        return True


async def test_rounds_of_calls_as_the_model(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("miit")
    rng = random.Random(5)
    refs = [web(f"site{i}.example.com") for i in range(12)]
    refs += [app(f"com.example.app{i}") for i in range(8)]
    models = {r.identifier: Model() for r in refs}
    rounds, n = 14, 0
    for rnd in range(rounds):
        when = START_US - (rounds - rnd) * HOUR_US
        chosen = rng.sample(refs, 9)
        calls, expect = [], []
        for ref in chosen:
            acts = [NOTIFY, NOTIFY, CONFIRM, BAN, CLOSE, RESTORE, RESTORE]
            if ref.kind == pb.SITE_KIND_APP:
                acts.append(REMOVE)
            act = rng.choice(acts)
            due = when + rng.choice([HOUR_US // 2, 3 * DAY_US]) if act == NOTIFY else None
            category = rng.choice(["user_rights", "obscene"])
            n += 1
            a = action(f"s-{n}", ref, act, category=category, effective_us=when, due_us=due)
            m = models[ref.identifier]
            ok = m.apply(act, due)
            if ok:
                m.actions.append((act, category))
                m.first_us = m.first_us or when
                m.last_us = when
            calls.append(record(client, md, a))
            expect.append((ref.identifier, ok))
        answers = await asyncio.gather(*calls, return_exceptions=True)
        for (identifier, ok), answer in zip(expect, answers, strict=True):
            if ok:
                assert isinstance(answer, pb.RecordSiteActionResponse), answer
                assert answer.site.status == models[identifier].now_status()
            else:
                assert isinstance(answer, FailedPrecondition), (identifier, answer)

    listed = {s.identifier: s async for s in await client.list_sites(page_size=100, metadata=md)}
    for identifier, m in models.items():
        if not m.actions:
            assert identifier not in listed  # every action on it was refused: no site
            continue
        s = listed[identifier]
        due = s.notice_due_time.ToMicroseconds() if s.HasField("notice_due_time") else None
        site = (s.status, due, s.action_count, s.first_action_time.ToMicroseconds())
        assert site == (m.now_status(), m.due_us, len(m.actions), m.first_us), identifier
        assert s.last_action_time.ToMicroseconds() == m.last_us

    response = await client.get_stats(
        pb.GetStatsRequest(
            group_by=[common_pb2.DIMENSION_ACTION, common_pb2.DIMENSION_CATEGORY],
            subject=pb.STATS_SUBJECT_SITE_ACTIONS,
        ),
        metadata=md,
    )
    got = {(r.action, r.category): (r.count, r.distinct_subjects) for r in response.rows}
    want: dict[tuple[str, str], tuple[int, int]] = {}
    for m in models.values():
        keys = [
            (pb.SiteActionType.Name(a).removeprefix("SITE_ACTION_TYPE_").lower(), c)
            for a, c in m.actions
        ]
        for key in set(keys):
            count, distinct = want.get(key, (0, 0))
            want[key] = (count + keys.count(key), distinct + 1)
    assert got == want

    by_status = await client.get_stats(
        pb.GetStatsRequest(
            group_by=[common_pb2.DIMENSION_ACTION], subject=pb.STATS_SUBJECT_SITE_STATUS
        ),
        metadata=md,
    )
    stored = {r.action: r.count for r in by_status.rows}
    kept = [m.status for m in models.values() if m.actions]  # stored status (not by time)
    named = {s: pb.SiteStatus.Name(s).removeprefix("SITE_STATUS_").lower() for s in set(kept)}
    assert stored == {named[s]: kept.count(s) for s in set(kept)}
