"""Request ids: a retry returns the first answer and changes nothing; a reuse is refused."""

from __future__ import annotations

import asyncio

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from services.common.clock import ManualClock
from tests.service.accounts.helpers import action, record, snapshot, stream
from tests.support.rpc import HOUR_US, bad_fields, error_reason, expect_error
from tests.support.servers import START_US, Tokens

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_record_retry_records_once(
    client: AccountsClient, tokens: Tokens, clock: ManualClock
) -> None:
    md = tokens("cac")
    a = action("r1", "u1", pb.ACTION_TYPE_WARN, campaign_id="c1")
    first = await record(client, md, a)
    assert not first.duplicate
    after_first = await snapshot(client, tokens)
    clock.advance(30)
    # Another operator of the same department retrying the same request.
    second = await record(client, tokens("cac", operator="other"), a)
    assert second.duplicate
    assert second.action == first.action
    assert second.account == first.account
    assert await snapshot(client, tokens) == after_first
    stats = await client.get_stats(pb.GetStatsRequest(), metadata=md)
    assert (stats.total.count, stats.total.distinct_subjects) == (1, 1)


async def test_record_retries_in_flight_together_record_once(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    a = action("r1", "u1")
    results = await asyncio.gather(*(record(client, md, a) for _ in range(8)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.action.name for r in results}) == 1
    assert (await snapshot(client, tokens)).total == 1


async def test_record_reused_id_with_another_body_is_refused(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    await record(client, md, action("r1", "u1", pb.ACTION_TYPE_WARN))
    before = await snapshot(client, tokens)
    for changed in (
        action("r1", "u1", pb.ACTION_TYPE_BAN),
        action("r1", "u2", pb.ACTION_TYPE_WARN),
        action("r1", "u1", pb.ACTION_TYPE_WARN, category="fraud"),
        action("r1", "u1", pb.ACTION_TYPE_WARN, effective_us=START_US - HOUR_US),
        action("r1", "u1", pb.ACTION_TYPE_WARN, handle="renamed"),
    ):
        err = await expect_error(record(client, md, changed), INVALID)
        assert bad_fields(err) == ["action.request_id"]
        assert error_reason(err) == "REQUEST_ID_REUSED"
    assert await snapshot(client, tokens) == before


async def test_retract_replay_returns_the_first_answer(
    client: AccountsClient, tokens: Tokens, clock: ManualClock
) -> None:
    md = tokens("cac")
    ban = await record(client, md, action("b", "u1", effective_us=START_US - HOUR_US))
    req = pb.RetractActionRequest(request_id="x1", name=ban.action.name, reason="wrong account")
    first = await client.retract_action(req, metadata=md)
    after_first = await snapshot(client, tokens)
    clock.advance(600)
    second = await client.retract_action(req, metadata=md)
    assert second == first
    assert await snapshot(client, tokens) == after_first

    # Later changes to the account do not alter the replayed answer.
    await record(client, md, action("w", "u1", pb.ACTION_TYPE_WARN))
    third = await client.retract_action(req, metadata=md)
    assert third == first


async def test_retract_reused_id_with_another_body_is_refused(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    a = await record(client, md, action("a", "u1"))
    b = await record(client, md, action("b", "u2"))
    await client.retract_action(
        pb.RetractActionRequest(request_id="x1", name=a.action.name, reason="mistake"),
        metadata=md,
    )
    before = await snapshot(client, tokens)
    for req in (
        pb.RetractActionRequest(request_id="x1", name=a.action.name, reason="another reason"),
        pb.RetractActionRequest(request_id="x1", name=b.action.name, reason="mistake"),
    ):
        err = await expect_error(client.retract_action(req, metadata=md), INVALID)
        assert bad_fields(err) == ["request_id"]
    assert await snapshot(client, tokens) == before
    got = await client.get_account(pb.GetAccountRequest(name=b.account.name), metadata=md)
    assert got.account.status == pb.ACCOUNT_STATUS_BANNED


async def test_failed_retract_does_not_consume_its_request_id(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    ban = await record(client, md, action("b", "u1", effective_us=START_US - HOUR_US))
    restore = await record(client, md, action("r", "u1", pb.ACTION_TYPE_RESTORE))
    req = pb.RetractActionRequest(request_id="x1", name=ban.action.name, reason="mistake")
    await expect_error(client.retract_action(req, metadata=md), grpc.StatusCode.FAILED_PRECONDITION)
    await client.retract_action(
        pb.RetractActionRequest(request_id="x0", name=restore.action.name, reason="mistake"),
        metadata=md,
    )
    ok = await client.retract_action(req, metadata=md)
    assert ok.account.status == pb.ACCOUNT_STATUS_ACTIVE


async def test_request_ids_of_record_and_retract_are_separate(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    r = await record(client, md, action("same", "u1"))
    x = await client.retract_action(
        pb.RetractActionRequest(request_id="same", name=r.action.name, reason="mistake"),
        metadata=md,
    )
    assert x.action.retracted


async def test_import_resend_gives_all_duplicates(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("miit")
    batches = [
        [action(f"b{b}-{i}", f"u{i % 7}", pb.ACTION_TYPE_WARN, "miit") for i in range(40)]
        for b in range(3)
    ]
    first = (await client.import_actions(stream(batches), metadata=md)).summary
    assert (first.accepted, first.duplicates, first.rejected, first.batches) == (120, 0, 0, 3)
    after_first = await snapshot(client, tokens)
    again = (await client.import_actions(stream(batches), metadata=md)).summary
    assert (again.accepted, again.duplicates, again.rejected, again.batches) == (0, 120, 0, 3)
    assert not again.rejections
    after = await snapshot(client, tokens)
    # Only the audit trail grows (the import itself is a mutation attempt).
    assert (after.total, after.distinct, after.accounts) == (
        after_first.total,
        after_first.distinct,
        after_first.accounts,
    )
    # A record imported before is a duplicate for RecordAction too.
    r = await record(client, md, batches[1][5])
    assert r.duplicate
