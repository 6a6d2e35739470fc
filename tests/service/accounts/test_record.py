"""RecordAction and RetractAction: the normal path, validation, and the status rules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from services.common.clock import ManualClock
from tests.service.accounts.helpers import action, record, snapshot, stream
from tests.support.rpc import DAY_US, HOUR_US, bad_fields, error_reason, expect_error
from tests.support.servers import START_US, Tokens

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


async def test_record_creates_account_and_action(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac", operator="alice")
    a = action(
        "r1",
        "u1",
        pb.ACTION_TYPE_BAN,
        handle="bad-handle",
        category="obscene",
        legal_basis="Cybersecurity Law art. 47",
        region="330700",
        campaign_id="netnet-2021",
        special_action="summer",
        case="cases/5·11",
        effective_us=START_US - HOUR_US,
    )
    resp = await record(client, md, a)
    assert not resp.duplicate
    acc, act = resp.account, resp.action
    assert acc.name.startswith("accounts/")
    assert (acc.platform, acc.platform_uid, acc.kind, acc.handle) == (
        "weibo",
        "u1",
        pb.ACCOUNT_KIND_USER,
        "bad-handle",
    )
    assert acc.status == pb.ACCOUNT_STATUS_BANNED
    assert acc.action_count == 1
    assert acc.first_action_time.ToMicroseconds() == START_US - HOUR_US
    assert acc.last_action_time.ToMicroseconds() == START_US - HOUR_US
    assert acc.etag
    assert act.name.startswith(acc.name + "/actions/")
    assert act.account == acc.name
    assert act.action == pb.ACTION_TYPE_BAN
    assert (act.category, act.legal_basis, act.department, act.region) == (
        "obscene",
        "Cybersecurity Law art. 47",
        "cac",
        "330700",
    )
    assert (act.campaign_id, act.special_action, act.case) == (
        "netnet-2021",
        "summer",
        "cases/5·11",
    )
    assert act.actor == "alice"
    assert act.request_id == "r1"
    assert act.effective_time.ToMicroseconds() == START_US - HOUR_US
    assert act.record_time.ToMicroseconds() == START_US
    assert not act.HasField("suspend_until")
    assert not act.retracted

    # The account is the same one on the next action; effective time defaults to now.
    resp2 = await record(client, md, action("r2", "u1", pb.ACTION_TYPE_WARN))
    assert resp2.account.name == acc.name
    assert resp2.account.action_count == 2
    assert resp2.account.etag != acc.etag
    assert resp2.account.handle == "bad-handle"  # an empty handle does not erase it
    assert resp2.action.effective_time.ToMicroseconds() == START_US
    assert resp2.account.last_action_time.ToMicroseconds() == START_US

    got = await client.get_account(pb.GetAccountRequest(name=acc.name), metadata=md)
    assert got.account == resp2.account

    # Same uid on another platform is another account.
    other = await record(client, md, action("r3", "u1", platform="qq"))
    assert other.account.name != acc.name


async def test_suspend_sets_and_clears_until(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("mps")
    until = START_US + 7 * DAY_US
    r = await record(
        client, md, action("s1", "u9", pb.ACTION_TYPE_SUSPEND, "mps", suspend_until_us=until)
    )
    assert r.account.status == pb.ACCOUNT_STATUS_SUSPENDED
    assert r.account.suspended_until.ToMicroseconds() == until
    assert r.action.suspend_until.ToMicroseconds() == until
    r = await record(client, md, action("s2", "u9", pb.ACTION_TYPE_WARN, "mps"))
    assert r.account.status == pb.ACCOUNT_STATUS_SUSPENDED  # a warning does not lift it
    assert r.account.suspended_until.ToMicroseconds() == until
    r = await record(client, md, action("s3", "u9", pb.ACTION_TYPE_BAN, "mps"))
    assert r.account.status == pb.ACCOUNT_STATUS_BANNED
    assert not r.account.HasField("suspended_until")


# ---------------------------------------------------------------- validation

Mutation = Callable[[pb.ActionInput], None]


def _set(**fields: object) -> Mutation:
    def mutate(a: pb.ActionInput) -> None:
        for name, value in fields.items():
            target = a.account if name in ("platform", "platform_uid", "kind", "handle") else a
            setattr(target, name, value)

    return mutate


def _effective(us: int) -> Mutation:
    def mutate(a: pb.ActionInput) -> None:
        a.effective_time.FromMicroseconds(us)

    return mutate


def _suspend(until_us: int | None, act: int = pb.ACTION_TYPE_SUSPEND) -> Mutation:
    def mutate(a: pb.ActionInput) -> None:
        a.action = act  # type: ignore[assignment]
        if until_us is not None:
            a.suspend_until.FromMicroseconds(until_us)

    return mutate


BAD_ACTIONS: list[tuple[str, str, Mutation]] = [
    ("request_id-empty", "action.request_id", _set(request_id="")),
    ("request_id-long", "action.request_id", _set(request_id="r" * 129)),
    ("platform-empty", "action.account.platform", _set(platform="")),
    ("platform-upper", "action.account.platform", _set(platform="Weibo")),
    ("platform_uid-empty", "action.account.platform_uid", _set(platform_uid="")),
    ("platform_uid-long", "action.account.platform_uid", _set(platform_uid="x" * 257)),
    ("kind-unspecified", "action.account.kind", _set(kind=pb.ACCOUNT_KIND_UNSPECIFIED)),
    ("kind-unknown", "action.account.kind", _set(kind=99)),
    ("handle-long", "action.account.handle", _set(handle="h" * 257)),
    ("action-unspecified", "action.action", _set(action=pb.ACTION_TYPE_UNSPECIFIED)),
    ("action-unknown", "action.action", _set(action=42)),
    ("close_group-on-user", "action.action", _set(action=pb.ACTION_TYPE_CLOSE_GROUP)),
    ("category-empty", "action.category", _set(category="")),
    ("category-unknown", "action.category", _set(category="gossip")),
    ("legal_basis-long", "action.legal_basis", _set(legal_basis="l" * 513)),
    ("department-empty", "action.department", _set(department="")),
    ("region-short", "action.region", _set(region="33070")),
    ("region-leading-zero", "action.region", _set(region="030700")),
    ("region-letters", "action.region", _set(region="33070x")),
    ("campaign_id-not-slug", "action.campaign_id", _set(campaign_id="Net Net")),
    ("special_action-without-campaign", "action.special_action", _set(special_action="sa")),
    (
        "special_action-not-slug",
        "action.special_action",
        _set(campaign_id="netnet", special_action="S A"),
    ),
    ("case-wrong-collection", "action.case", _set(case="case/1")),
    ("case-empty-id", "action.case", _set(case="cases/")),
    ("case-space", "action.case", _set(case="cases/a b")),
    ("effective_time-future", "action.effective_time", _effective(START_US + HOUR_US)),
    ("effective_time-ancient", "action.effective_time", _effective(START_US - 30 * 365 * DAY_US)),
    ("suspend_until-missing", "action.suspend_until", _suspend(None)),
    ("suspend_until-before-effective", "action.suspend_until", _suspend(START_US - DAY_US)),
    (
        "suspend_until-on-ban",
        "action.suspend_until",
        _suspend(START_US + DAY_US, pb.ACTION_TYPE_BAN),
    ),
]


@pytest.mark.parametrize(
    ("field", "mutate"), [(f, m) for _, f, m in BAD_ACTIONS], ids=[i for i, _, _ in BAD_ACTIONS]
)
async def test_invalid_field_is_named_and_nothing_written(
    client: AccountsClient, tokens: Tokens, field: str, mutate: Mutation
) -> None:
    md = tokens("cac")
    await record(client, md, action("seed", "seed-uid"))
    before = await snapshot(client, tokens)
    a = action("bad", "bad-uid")
    mutate(a)
    err = await expect_error(record(client, md, a), INVALID)
    assert bad_fields(err) == [field]
    assert await snapshot(client, tokens) == before
    # The request id was not consumed: the corrected request goes through.
    if field != "action.request_id":
        ok = await record(client, md, action("bad", "bad-uid"))
        assert not ok.duplicate


async def test_every_bad_field_is_named(client: AccountsClient, tokens: Tokens) -> None:
    a = action(
        "",
        "",
        pb.ACTION_TYPE_SUSPEND,
        platform="",
        category="nope",
        region="1",
        special_action="sa",
        case="x",
    )
    err = await expect_error(record(client, tokens("cac"), a), INVALID)
    assert set(bad_fields(err)) == {
        "action.request_id",
        "action.account.platform",
        "action.account.platform_uid",
        "action.category",
        "action.region",
        "action.special_action",
        "action.case",
        "action.suspend_until",
    }


async def test_effective_time_within_clock_skew_is_accepted(
    client: AccountsClient, tokens: Tokens, clock: ManualClock
) -> None:
    md = tokens("cac")
    r = await record(client, md, action("r1", effective_us=START_US + 60 * 1_000_000))
    assert r.action.effective_time.ToMicroseconds() == START_US + 60 * 1_000_000
    # "The future" follows the server clock.
    clock.advance(2 * 3600)
    r = await record(client, md, action("r2", "u2", effective_us=START_US + HOUR_US))
    assert r.account.status == pb.ACCOUNT_STATUS_BANNED


# ---------------------------------------------------------------- status rules


async def test_restore_without_restriction_is_refused(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    before = await snapshot(client, tokens)
    err = await expect_error(
        record(client, md, action("r1", "u1", pb.ACTION_TYPE_RESTORE)), PRECONDITION
    )
    assert error_reason(err) == "NOTHING_TO_RESTORE"
    assert await snapshot(client, tokens) == before  # not even the account was created

    await record(client, md, action("r2", "u1", pb.ACTION_TYPE_WARN))
    before = await snapshot(client, tokens)
    await expect_error(record(client, md, action("r3", "u1", pb.ACTION_TYPE_RESTORE)), PRECONDITION)
    assert await snapshot(client, tokens) == before


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ([pb.ACTION_TYPE_BAN, pb.ACTION_TYPE_RESTORE], pb.ACCOUNT_STATUS_RESTORED),
        ([pb.ACTION_TYPE_RESTRICT, pb.ACTION_TYPE_RESTORE], pb.ACCOUNT_STATUS_RESTORED),
        ([pb.ACTION_TYPE_BAN, pb.ACTION_TYPE_WARN], pb.ACCOUNT_STATUS_BANNED),
        ([pb.ACTION_TYPE_BAN, pb.ACTION_TYPE_RESTRICT], pb.ACCOUNT_STATUS_BANNED),
        ([pb.ACTION_TYPE_WARN, pb.ACTION_TYPE_RESTRICT], pb.ACCOUNT_STATUS_RESTRICTED),
        ([pb.ACTION_TYPE_WARN], pb.ACCOUNT_STATUS_WARNED),
        (
            [pb.ACTION_TYPE_BAN, pb.ACTION_TYPE_RESTORE, pb.ACTION_TYPE_WARN],
            pb.ACCOUNT_STATUS_WARNED,
        ),
        (
            [pb.ACTION_TYPE_RESTRICT, pb.ACTION_TYPE_RESTORE, pb.ACTION_TYPE_BAN],
            pb.ACCOUNT_STATUS_BANNED,
        ),
    ],
)
async def test_status_follows_actions(
    client: AccountsClient, tokens: Tokens, sequence: list[int], expected: int
) -> None:
    md = tokens("cac")
    resp = None
    for i, act in enumerate(sequence):
        resp = await record(
            client,
            md,
            action(f"r{i}", "u1", act, effective_us=START_US - DAY_US + i * HOUR_US),  # type: ignore[arg-type]
        )
    assert resp is not None
    assert resp.account.status == expected
    assert resp.account.action_count == len(sequence)


async def test_group_rules(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    group = pb.ACCOUNT_KIND_GROUP
    r = await record(
        client, md, action("g1", "g", pb.ACTION_TYPE_CLOSE_GROUP, platform="qq", kind=group)
    )
    assert r.account.status == pb.ACCOUNT_STATUS_CLOSED
    r = await record(client, md, action("g2", "g", pb.ACTION_TYPE_BAN, platform="qq", kind=group))
    assert r.account.status == pb.ACCOUNT_STATUS_CLOSED  # closure is the heaviest measure
    r = await record(
        client, md, action("g3", "g", pb.ACTION_TYPE_RESTORE, platform="qq", kind=group)
    )
    assert r.account.status == pb.ACCOUNT_STATUS_RESTORED

    before = await snapshot(client, tokens)
    err = await expect_error(
        record(client, md, action("u1", "user", pb.ACTION_TYPE_CLOSE_GROUP, platform="qq")), INVALID
    )
    assert bad_fields(err) == ["action.action"]
    # The same platform uid recorded as another kind is refused.
    err = await expect_error(record(client, md, action("g4", "g", platform="qq")), INVALID)
    assert bad_fields(err) == ["action.account.kind"]
    assert await snapshot(client, tokens) == before


async def test_out_of_order_actions_are_folded_by_effective_time(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    t0 = START_US - 10 * DAY_US
    await record(client, md, action("a", "u1", pb.ACTION_TYPE_RESTRICT, effective_us=t0))
    r = await record(
        client, md, action("b", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t0 + 3 * DAY_US)
    )
    assert r.account.status == pb.ACCOUNT_STATUS_RESTORED
    # A ban effective between the two: the later restore lifts it.
    r = await record(client, md, action("c", "u1", pb.ACTION_TYPE_BAN, effective_us=t0 + DAY_US))
    assert r.account.status == pb.ACCOUNT_STATUS_RESTORED
    assert r.account.action_count == 3
    # A warning before everything: first action time moves back, last stays.
    r = await record(client, md, action("d", "u1", pb.ACTION_TYPE_WARN, effective_us=t0 - DAY_US))
    assert r.account.status == pb.ACCOUNT_STATUS_RESTORED
    assert r.account.first_action_time.ToMicroseconds() == t0 - DAY_US
    assert r.account.last_action_time.ToMicroseconds() == t0 + 3 * DAY_US
    # A restore before the first restriction would have nothing to restore.
    before = await snapshot(client, tokens)
    await expect_error(
        record(client, md, action("e", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t0 - HOUR_US)),
        PRECONDITION,
    )
    # And a second restore right after the first would follow no restriction.
    await expect_error(
        record(
            client, md, action("f", "u1", pb.ACTION_TYPE_RESTORE, effective_us=t0 + 3 * DAY_US + 1)
        ),
        PRECONDITION,
    )
    assert await snapshot(client, tokens) == before


# ---------------------------------------------------------------- retraction


async def _retract(
    client: AccountsClient, md: list[tuple[str, str]], name: str, rid: str, reason: str = "mistake"
) -> pb.RetractActionResponse:
    return await client.retract_action(
        pb.RetractActionRequest(request_id=rid, name=name, reason=reason), metadata=md
    )


async def test_retraction_restates_status_and_stats(
    client: AccountsClient, tokens: Tokens, clock: ManualClock
) -> None:
    md = tokens("cac", operator="bob")
    warn = await record(
        client, md, action("w", "u1", pb.ACTION_TYPE_WARN, effective_us=START_US - 2 * HOUR_US)
    )
    ban = await record(
        client, md, action("b", "u1", pb.ACTION_TYPE_BAN, effective_us=START_US - HOUR_US)
    )
    other = await record(client, md, action("o", "u2", pb.ACTION_TYPE_BAN))
    assert ban.account.status == pb.ACCOUNT_STATUS_BANNED

    by_action = pb.GetStatsRequest(group_by=[2])  # DIMENSION_ACTION
    stats = await client.get_stats(by_action, metadata=md)
    assert {r.action: (r.count, r.distinct_subjects) for r in stats.rows} == {
        "warn": (1, 1),
        "ban": (2, 2),
    }
    assert (stats.total.count, stats.total.distinct_subjects) == (3, 2)

    clock.advance(60)
    r = await _retract(client, md, ban.action.name, "x1", reason="wrong account")
    assert r.action.name == ban.action.name
    assert r.action.retracted
    assert r.action.retract_reason == "wrong account"
    assert r.action.retracted_by == "bob"
    assert r.action.retract_time.ToMicroseconds() == START_US + 60 * 1_000_000
    assert r.account.status == pb.ACCOUNT_STATUS_WARNED
    assert r.account.action_count == 1
    assert r.account.last_action_time.ToMicroseconds() == START_US - 2 * HOUR_US
    assert r.account.etag != ban.account.etag

    stats = await client.get_stats(by_action, metadata=md)
    assert {r.action: (r.count, r.distinct_subjects) for r in stats.rows} == {
        "warn": (1, 1),
        "ban": (1, 1),
    }
    assert (stats.total.count, stats.total.distinct_subjects) == (2, 2)

    # The retracted action stays visible in the account's history.
    history = (
        await client.list_account_actions(
            pb.ListAccountActionsRequest(parent=ban.account.name), metadata=md
        )
    ).response
    assert [(a.name, a.retracted) for a in history.actions] == [
        (warn.action.name, False),
        (ban.action.name, True),
    ]

    # Retracting an account's only action: it drops out of distinct counts, status is active.
    r = await _retract(client, md, other.action.name, "x2")
    assert r.account.status == pb.ACCOUNT_STATUS_ACTIVE
    assert r.account.action_count == 0
    assert not r.account.HasField("last_action_time")
    stats = await client.get_stats(by_action, metadata=md)
    assert {r.action: (r.count, r.distinct_subjects) for r in stats.rows} == {"warn": (1, 1)}
    assert (stats.total.count, stats.total.distinct_subjects) == (1, 1)


async def test_retract_suspension_restores_previous_suspension(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    first_until = START_US + DAY_US
    await record(
        client,
        md,
        action(
            "s1",
            "u1",
            pb.ACTION_TYPE_SUSPEND,
            effective_us=START_US - 2 * HOUR_US,
            suspend_until_us=first_until,
        ),
    )
    second = await record(
        client,
        md,
        action(
            "s2",
            "u1",
            pb.ACTION_TYPE_SUSPEND,
            effective_us=START_US - HOUR_US,
            suspend_until_us=START_US + 9 * DAY_US,
        ),
    )
    assert second.account.suspended_until.ToMicroseconds() == START_US + 9 * DAY_US
    r = await _retract(client, md, second.action.name, "x")
    assert r.account.status == pb.ACCOUNT_STATUS_SUSPENDED
    assert r.account.suspended_until.ToMicroseconds() == first_until


async def test_retract_rules(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    ban = await record(
        client, md, action("b", "u1", pb.ACTION_TYPE_BAN, effective_us=START_US - HOUR_US)
    )
    restore = await record(client, md, action("r", "u1", pb.ACTION_TYPE_RESTORE))
    assert restore.account.status == pb.ACCOUNT_STATUS_RESTORED

    before = await snapshot(client, tokens)
    err = await expect_error(_retract(client, md, ban.action.name, "x1"), PRECONDITION)
    assert error_reason(err) == "RESTORE_DEPENDS_ON_IT"
    assert await snapshot(client, tokens) == before

    # Retract the restore first, then the ban.
    r = await _retract(client, md, restore.action.name, "x2")
    assert r.account.status == pb.ACCOUNT_STATUS_BANNED
    r = await _retract(client, md, ban.action.name, "x3")
    assert r.account.status == pb.ACCOUNT_STATUS_ACTIVE

    before = await snapshot(client, tokens)
    err = await expect_error(_retract(client, md, ban.action.name, "x4"), PRECONDITION)
    assert error_reason(err) == "ALREADY_RETRACTED"
    assert await snapshot(client, tokens) == before

    # Unknown actions, and an action named under another account.
    await expect_error(
        _retract(client, md, f"{ban.account.name}/actions/999", "x5"), grpc.StatusCode.NOT_FOUND
    )
    other = await record(client, md, action("o", "u2"))
    wrong = f"{other.account.name}/actions/{ban.action.name.rsplit('/', 1)[1]}"
    await expect_error(_retract(client, md, wrong, "x6"), grpc.StatusCode.NOT_FOUND)
    assert (await snapshot(client, tokens)).audit_entries == before.audit_entries + 1


BAD_RETRACTS: list[tuple[str, str, dict[str, str]]] = [
    ("request_id-empty", "request_id", {"request_id": ""}),
    ("request_id-long", "request_id", {"request_id": "r" * 129}),
    ("reason-empty", "reason", {"reason": ""}),
    ("reason-long", "reason", {"reason": "x" * 513}),
    ("name-empty", "name", {"name": ""}),
    ("name-account-only", "name", {"name": "accounts/1"}),
    ("name-wrong-collection", "name", {"name": "sites/1/actions/1"}),
    ("name-not-number", "name", {"name": "accounts/1/actions/x"}),
    ("name-zero", "name", {"name": "accounts/0/actions/1"}),
]


@pytest.mark.parametrize(
    ("field", "change"), [(f, c) for _, f, c in BAD_RETRACTS], ids=[i for i, _, _ in BAD_RETRACTS]
)
async def test_invalid_retract_is_named_and_nothing_written(
    client: AccountsClient, tokens: Tokens, field: str, change: dict[str, str]
) -> None:
    md = tokens("cac")
    seeded = await record(client, md, action("seed"))
    before = await snapshot(client, tokens)
    req = pb.RetractActionRequest(request_id="x", name=seeded.action.name, reason="mistake")
    for k, v in change.items():
        setattr(req, k, v)
    err = await expect_error(client.retract_action(req, metadata=md), INVALID)
    assert bad_fields(err) == [field]
    assert await snapshot(client, tokens) == before
    account = await client.get_account(pb.GetAccountRequest(name=seeded.account.name), metadata=md)
    assert account.account.status == pb.ACCOUNT_STATUS_BANNED


async def test_concurrent_first_actions_share_one_account(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    results = await asyncio.gather(
        *(record(client, md, action(f"r{i}", "same", pb.ACTION_TYPE_WARN)) for i in range(20)),
        client.import_actions(
            stream([[action(f"i{i}", "same", pb.ACTION_TYPE_WARN) for i in range(10)]]),
            metadata=md,
        ),
    )
    names = {r.account.name for r in results if isinstance(r, pb.RecordActionResponse)}
    assert len(names) == 1
    got = await client.get_account(pb.GetAccountRequest(name=names.pop()), metadata=md)
    assert got.account.action_count == 30
    stats = await client.get_stats(pb.GetStatsRequest(), metadata=md)
    assert (stats.total.count, stats.total.distinct_subjects) == (30, 1)


async def test_calls_in_flight_together_are_each_answered_as_if_alone(
    client: AccountsClient, tokens: Tokens
) -> None:
    """Concurrent calls are written in batches; each caller still sees its own action, the
    account as it stood right after it, and its own refusal; each call is audited."""
    md = tokens("cac")
    before = await snapshot(client, tokens)
    same = [record(client, md, action(f"w{i}", "shared", pb.ACTION_TYPE_WARN)) for i in range(12)]
    others = [record(client, md, action(f"o{i}", f"other-{i}")) for i in range(12)]
    refused = record(client, md, action("bad", "fresh", pb.ACTION_TYPE_RESTORE))
    results = await asyncio.gather(*same, *others, refused, return_exceptions=True)
    assert isinstance(results[-1], NetNetError)
    assert results[-1].code == PRECONDITION
    answered = [r for r in results[:-1] if isinstance(r, pb.RecordActionResponse)]
    assert len(answered) == 24
    shared = [r for r in answered if r.action.request_id.startswith("w")]
    # Each saw the account right after its own action: counts 1..12, once each.
    assert sorted(r.account.action_count for r in shared) == list(range(1, 13))
    assert len({r.account.etag for r in shared}) == 12
    assert all(r.account.departments == ["cac"] for r in answered)
    after = await snapshot(client, tokens)
    assert after.total == before.total + 24
    assert after.audit_entries == before.audit_entries + 24  # one entry per call
    assert len(after.accounts) == len(before.accounts) + 13
    listed = (
        await client.list_accounts(
            pb.ListAccountsRequest(platform="weibo", platform_uid="fresh"), metadata=md
        )
    ).response
    assert list(listed.accounts) == []  # the refused call made no account
