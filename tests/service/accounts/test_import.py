"""ImportActions: counts, rejections with index and field, atomic batches."""

from __future__ import annotations

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from services.common.importer import MAX_BATCH
from tests.service.accounts.helpers import action, snapshot, stream
from tests.support.rpc import DAY_US, bad_fields, expect_error
from tests.support.servers import START_US, Tokens


def _mixed() -> list[list[pb.ActionInput]]:
    t = START_US - DAY_US
    return [
        [
            action("r0", "u1", pb.ACTION_TYPE_BAN, "nrta", effective_us=t),  # 0 accepted
            action("r1", "u1", pb.ACTION_TYPE_WARN, "nrta", category="gossip"),  # 1 category
            action("r2", "u2", pb.ACTION_TYPE_WARN, "nrta"),  # 2 accepted
            action("r3", "u3", pb.ACTION_TYPE_RESTORE, "nrta"),  # 3 nothing to restore
            action("r0", "u1", pb.ACTION_TYPE_BAN, "nrta", effective_us=t),  # 4 duplicate
            action("r0", "u2", pb.ACTION_TYPE_BAN, "nrta"),  # 5 request id reused
        ],
        [
            action("r0", "u1", pb.ACTION_TYPE_BAN, "nrta", effective_us=t),  # 6 duplicate
            action("r6", "u1", pb.ACTION_TYPE_RESTORE, "nrta"),  # 7 accepted
            action("r7", "u1", pb.ACTION_TYPE_WARN, "nrta", kind=pb.ACCOUNT_KIND_GROUP),  # 8 kind
            action("", "u4", pb.ACTION_TYPE_WARN, "nrta"),  # 9 no request id
        ],
    ]


EXPECTED_REJECTIONS = [
    (1, "r1", "category"),
    (3, "r3", "action"),
    (5, "r0", "request_id"),
    (8, "r7", "account.kind"),
    (9, "", "request_id"),
]


async def test_mixed_stream_counts_and_rejections(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("nrta")
    summary = (await client.import_actions(stream(_mixed()), metadata=md)).summary
    assert (summary.accepted, summary.duplicates, summary.rejected, summary.batches) == (3, 2, 5, 2)
    assert [(r.index, r.request_id, r.field) for r in summary.rejections] == EXPECTED_REJECTIONS
    assert all(r.reason for r in summary.rejections)

    accounts = (
        (await client.list_accounts(pb.ListAccountsRequest(), metadata=md)).response
    ).accounts
    assert {a.platform_uid: (a.status, a.action_count) for a in accounts} == {
        "u1": (pb.ACCOUNT_STATUS_RESTORED, 2),
        "u2": (pb.ACCOUNT_STATUS_WARNED, 1),
    }
    stats = await client.get_stats(pb.GetStatsRequest(group_by=[2]), metadata=md)
    assert {r.action: r.count for r in stats.rows} == {"ban": 1, "warn": 1, "restore": 1}
    assert stats.total.distinct_subjects == 2

    # Re-sending the same stream: what was taken is a duplicate, the rest is refused again.
    before = await snapshot(client, tokens)
    again = (await client.import_actions(stream(_mixed()), metadata=md)).summary
    assert (again.accepted, again.duplicates, again.rejected, again.batches) == (0, 5, 5, 2)
    assert [(r.index, r.request_id, r.field) for r in again.rejections] == EXPECTED_REJECTIONS
    after = await snapshot(client, tokens)
    assert (after.total, after.distinct, after.accounts) == (
        before.total,
        before.distinct,
        before.accounts,
    )


async def test_only_the_first_100_rejections_are_listed(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    # Per record: a bad category (refused by validation), a restore of a new account
    # (refused when recorded), or a good one.
    batch = [
        action(f"r{i}", f"u{i}", category="gossip")
        if i % 3 == 1
        else action(f"r{i}", f"u{i}", pb.ACTION_TYPE_RESTORE)
        if i % 3 == 0
        else action(f"r{i}", f"u{i}")
        for i in range(450)
    ]
    summary = (await client.import_actions(stream([batch[:200], batch[200:]]), metadata=md)).summary
    assert (summary.accepted, summary.rejected) == (150, 300)
    assert len(summary.rejections) == 100
    expected = [i for i in range(450) if i % 3 != 2][:100]
    assert [r.index for r in summary.rejections] == expected
    assert [r.field for r in summary.rejections] == [
        "category" if i % 3 == 1 else "action" for i in expected
    ]


async def test_out_of_order_records_within_a_batch(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    t = START_US - 10 * DAY_US
    batch = [
        action("a", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t + 2 * DAY_US),
        action("b", "u1", pb.ACTION_TYPE_BAN, effective_us=t + DAY_US),
        action("c", "u1", pb.ACTION_TYPE_WARN, effective_us=t),
    ]
    summary = (await client.import_actions(stream([batch]), metadata=md)).summary
    # The restore came first in the stream, when there was nothing to restore.
    assert (summary.accepted, summary.rejected) == (2, 1)
    assert [(r.index, r.field) for r in summary.rejections] == [(0, "action")]
    accounts = (
        (await client.list_accounts(pb.ListAccountsRequest(), metadata=md)).response
    ).accounts
    assert [(a.status, a.action_count) for a in accounts] == [(pb.ACCOUNT_STATUS_BANNED, 2)]
    assert accounts[0].first_action_time.ToMicroseconds() == t
    assert accounts[0].last_action_time.ToMicroseconds() == t + DAY_US


async def test_large_import(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    n = 4000
    batches = [
        [
            action(f"r{i}", f"u{i % 1500}", pb.ACTION_TYPE_WARN, campaign_id="c1")
            for i in range(b, min(b + 1000, n))
        ]
        for b in range(0, n, 1000)
    ]
    summary = (await client.import_actions(stream(batches), metadata=md)).summary
    assert (summary.accepted, summary.batches) == (n, 4)
    stats = await client.get_stats(pb.GetStatsRequest(), metadata=md)
    assert (stats.total.count, stats.total.distinct_subjects) == (n, 1500)


async def test_oversized_batch_is_refused(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    batch = [action(f"r{i}", f"u{i}") for i in range(5001)]
    before = await snapshot(client, tokens)
    err = await expect_error(
        client.import_actions(stream([batch]), metadata=md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["actions"]
    assert await snapshot(client, tokens) == before


async def test_empty_stream(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    before = await snapshot(client, tokens)
    summary = (await client.import_actions(stream([]), metadata=md)).summary
    assert (summary.accepted, summary.duplicates, summary.rejected, summary.batches) == (0, 0, 0, 0)
    summary = (await client.import_actions(stream([[]]), metadata=md)).summary
    assert summary.batches == 1
    assert await snapshot(client, tokens) == before


async def test_batches_commit_one_by_one(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    first = [action(f"a{i}", f"u{i}") for i in range(5)]
    # The second batch is refused whole (too large): the stream ends with it.
    second = [action(f"b{i}", f"v{i}") for i in range(MAX_BATCH + 1)]
    err = await expect_error(
        client.import_actions(stream([first, second]), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.message
    accounts = (
        (await client.list_accounts(pb.ListAccountsRequest(), metadata=md)).response
    ).accounts
    assert sorted(a.platform_uid for a in accounts) == [f"u{i}" for i in range(5)]


async def test_import_onto_existing_history(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    t = START_US - 10 * DAY_US
    await client.import_actions(
        stream([[action("a", "u1", pb.ACTION_TYPE_RESTRICT, effective_us=t + 2 * DAY_US)]]),
        metadata=md,
    )
    batch = [
        # Later than the history: applied in turn.
        action("b", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t + 4 * DAY_US),
        # Earlier than both: the account is refolded from history + batch + this one.
        action("c", "u1", pb.ACTION_TYPE_BAN, effective_us=t + 3 * DAY_US),
        action("d", "u1", pb.ACTION_TYPE_WARN, effective_us=t),
        # A second restore right after the first has nothing to restore.
        action("e", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t + 5 * DAY_US),
        # But a suspension in between makes it valid again.
        action(
            "f",
            "u1",
            pb.ACTION_TYPE_SUSPEND,
            effective_us=t + 4 * DAY_US + 1,
            suspend_until_us=START_US + DAY_US,
        ),
        action("e2", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t + 5 * DAY_US),
    ]
    summary = (await client.import_actions(stream([batch]), metadata=md)).summary
    assert (summary.accepted, summary.rejected) == (5, 1)
    assert [(r.index, r.request_id, r.field) for r in summary.rejections] == [(3, "e", "action")]
    (account,) = (
        (await client.list_accounts(pb.ListAccountsRequest(), metadata=md)).response
    ).accounts
    assert account.status == pb.ACCOUNT_STATUS_RESTORED
    assert account.action_count == 6
    assert account.first_action_time.ToMicroseconds() == t
    assert account.last_action_time.ToMicroseconds() == t + 5 * DAY_US
