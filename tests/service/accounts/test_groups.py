"""Accounts and groups are counted apart (GetStats subjects ACCOUNTS and GROUPS): each figure
equals a brute-force count of the records read back through the list RPCs, retractions
included, and a store written before groups were counted apart is restated at start."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from netnet.common.v1 import common_pb2
from services.accounts.__main__ import SPEC
from services.common.server import start
from tests.service.accounts.helpers import action, record, stream
from tests.support.audit import transaction
from tests.support.servers import Tokens, channel_to

GROUP, USER = pb.ACCOUNT_KIND_GROUP, pb.ACCOUNT_KIND_USER
ACTIONS = {
    pb.ACTION_TYPE_WARN: "warn",
    pb.ACTION_TYPE_BAN: "ban",
    pb.ACTION_TYPE_CLOSE_GROUP: "close_group",
}
BY_DEPARTMENT_AND_ACTION = [common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_ACTION]
BY_SPECIAL_ACTION = [common_pb2.DIMENSION_SPECIAL_ACTION]
# (key fields, subject kind) -> (actions, distinct accounts)
Counts = dict[tuple[Any, ...], tuple[int, int]]


async def seed(client: AccountsClient, tokens: Tokens) -> None:
    """Users and groups, in two departments, by unary calls and an import; a group closed by
    both departments; a retracted action on a user and one on a group."""
    cac, mps = tokens("cac"), tokens("mps")
    n = iter(range(1, 1000))

    def a(uid: str, act: Any, dept: str = "cac", kind: Any = USER, special: str = "") -> Any:
        return action(
            f"r{next(n)}",
            uid,
            act,
            dept,
            platform="qq" if kind == GROUP else "weibo",
            kind=kind,
            campaign_id="netnet",
            special_action=special,
        )

    await record(client, cac, a("u1", pb.ACTION_TYPE_BAN, special="fan-circle"))
    await record(client, cac, a("u1", pb.ACTION_TYPE_WARN))
    await record(client, mps, a("u2", pb.ACTION_TYPE_WARN, "mps", special="fan-circle"))
    await record(client, cac, a("g1", pb.ACTION_TYPE_WARN, kind=GROUP, special="fan-circle"))
    await record(client, cac, a("g1", pb.ACTION_TYPE_CLOSE_GROUP, kind=GROUP, special="fan-circle"))
    await record(client, mps, a("g1", pb.ACTION_TYPE_CLOSE_GROUP, "mps", kind=GROUP))
    wrong_user = await record(client, cac, a("u3", pb.ACTION_TYPE_BAN))
    wrong_group = await record(client, cac, a("g9", pb.ACTION_TYPE_CLOSE_GROUP, kind=GROUP))
    for wrong in (wrong_user, wrong_group):
        await client.retract_action(
            pb.RetractActionRequest(request_id=f"x{next(n)}", name=wrong.action.name, reason="x"),
            metadata=cac,
        )
    batch = [a(f"bulk{i}", pb.ACTION_TYPE_BAN, special="fan-circle") for i in range(40)]
    batch += [
        a(f"bulkg{i}", pb.ACTION_TYPE_CLOSE_GROUP, kind=GROUP, special="fan-circle")
        for i in range(13)
    ]
    reply = await client.import_actions(stream([batch]), metadata=cac)
    assert reply.summary.accepted == len(batch)


async def brute_force(client: AccountsClient, md: list[tuple[str, str]]) -> tuple[Counts, Counts]:
    """(by department and action, by special action) per subject kind, counted over the live
    actions listed account by account."""
    by_dept: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, set()])
    by_special: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, set()])
    token = ""
    while True:
        page = (
            await client.list_accounts(
                pb.ListAccountsRequest(page_size=100, page_token=token), metadata=md
            )
        ).response
        for acc in page.accounts:
            subject = "groups" if acc.kind == GROUP else "accounts"
            actions = (
                await client.list_account_actions(
                    pb.ListAccountActionsRequest(parent=acc.name, page_size=1000), metadata=md
                )
            ).response
            for x in actions.actions:
                if x.retracted:
                    continue
                for table, key in (
                    (by_dept, (subject, x.department, ACTIONS[x.action])),
                    (by_dept, (subject, "", "")),
                    (by_special, (subject, x.special_action)),
                ):
                    table[key][0] += 1
                    table[key][1].add(acc.name)
        token = page.next_page_token
        if not token:
            break
    return (
        {k: (c, len(s)) for k, (c, s) in by_dept.items()},
        {k: (c, len(s)) for k, (c, s) in by_special.items()},
    )


async def counted(client: AccountsClient, md: list[tuple[str, str]]) -> tuple[Counts, Counts]:
    """The same, as GetStats answers it (one snapshot: BatchGetStats)."""
    subjects = {"accounts": pb.STATS_SUBJECT_ACCOUNTS, "groups": pb.STATS_SUBJECT_GROUPS}
    requests = [
        pb.GetStatsRequest(
            subject=s, group_by=g, filter=common_pb2.StatsFilter(campaign_id="netnet")
        )
        for s in subjects.values()
        for g in (BY_DEPARTMENT_AND_ACTION, BY_SPECIAL_ACTION)
    ]
    replies = iter(
        (
            await client.batch_get_stats(pb.BatchGetStatsRequest(requests=requests), metadata=md)
        ).responses
    )
    by_dept: Counts = {}
    by_special: Counts = {}
    for name in subjects:
        dept, special = next(replies), next(replies)
        for row in dept.rows:
            by_dept[(name, row.department, row.action)] = (row.count, row.distinct_subjects)
        by_dept[(name, "", "")] = (dept.total.count, dept.total.distinct_subjects)
        for row in special.rows:
            by_special[(name, row.special_action)] = (row.count, row.distinct_subjects)
    return by_dept, by_special


async def test_accounts_and_groups_are_counted_apart(
    client: AccountsClient, tokens: Tokens
) -> None:
    await seed(client, tokens)
    md = tokens("office", "analyst")
    want = await brute_force(client, md)
    assert await counted(client, md) == want
    by_dept, by_special = want
    # 42 accounts (u1, u2 and 40 imported, each acted on in fan-circle), 14 groups (g1 and
    # 13 imported; g9's only action retracted), g1 closed by two departments counted once.
    assert by_dept[("accounts", "", "")][1] == 42
    assert by_dept[("groups", "", "")][1] == 14
    assert by_special[("accounts", "fan-circle")][1] == 42
    assert by_special[("groups", "fan-circle")][1] == 14
    closed = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_GROUPS,
            filter=common_pb2.StatsFilter(campaign_id="netnet", actions=["close_group"]),
        ),
        metadata=md,
    )
    assert (closed.total.count, closed.total.distinct_subjects) == (15, 14)
    # Unspecified: accounts and groups together, as before subjects were asked for.
    both = await client.get_stats(
        pb.GetStatsRequest(filter=common_pb2.StatsFilter(campaign_id="netnet")), metadata=md
    )
    assert both.total.distinct_subjects == 42 + 14
    assert both.total.count == by_dept[("accounts", "", "")][0] + by_dept[("groups", "", "")][0]


async def test_a_store_written_before_groups_were_counted_apart_is_restated(
    server: Any, client: AccountsClient, tokens: Tokens, clock: Any
) -> None:
    await seed(client, tokens)
    md = tokens("office", "analyst")
    want = await brute_force(client, md)
    settings = server.runtime.settings
    await server.stop(0)
    # The store as it stood before: no counters for groups alone, the migration not applied.
    with transaction(settings) as db:
        keys = "key_id IN (SELECT id FROM rollup_keys WHERE rollup = 'group_actions')"
        db.execute(f"DELETE FROM rollup_counts WHERE {keys}")
        db.execute(f"DELETE FROM rollup_marks WHERE {keys}")
        for table in ("rollup_totals", "rollup_single", "rollup_distinct", "rollup_keys"):
            db.execute(f"DELETE FROM {table} WHERE rollup = 'group_actions'")
        db.execute("DELETE FROM schema_migrations WHERE name = 'accounts/0002_group_rollup.sql'")
    again = await start(SPEC, settings, clock)
    try:
        channel = await channel_to(again.port)
        restarted = AccountsClient(channel=channel, token="")
        assert await counted(restarted, md) == want
        # ... and counting goes on from there.
        await record(
            restarted,
            tokens("cac"),
            action(
                "after",
                "g-new",
                pb.ACTION_TYPE_CLOSE_GROUP,
                platform="qq",
                kind=GROUP,
                campaign_id="netnet",
            ),
        )
        assert await counted(restarted, md) == await brute_force(restarted, md)
        await channel.close()
    finally:
        await again.stop(0)


async def test_an_unknown_subject_is_refused(client: AccountsClient, tokens: Tokens) -> None:
    try:
        await client.get_stats(pb.GetStatsRequest(subject=9), metadata=tokens("office"))  # type: ignore[arg-type]
    except NetNetError as e:
        assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    else:
        raise AssertionError("an unknown subject was answered")
