"""GetAccount, BatchGetAccounts, ListAccounts filters, ListAccountActions; bad query fields."""

from __future__ import annotations

import base64
import json

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.common.v1 import common_pb2
from tests.service.accounts.helpers import action, record, stream
from tests.support.rpc import DAY_US, bad_fields, expect_error, ts
from tests.support.servers import START_US, Tokens

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


async def test_get_account(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac", "analyst")
    r = await record(client, tokens("cac"), action("r1", "u1"))
    got = await client.get_account(pb.GetAccountRequest(name=r.account.name), metadata=md)
    assert got.account == r.account
    await expect_error(
        client.get_account(pb.GetAccountRequest(name="accounts/999"), metadata=md), NOT_FOUND
    )
    for bad in ("", "accounts", "accounts/x", "accounts/-1", "accounts/1/actions/1", "sites/1"):
        err = await expect_error(
            client.get_account(pb.GetAccountRequest(name=bad), metadata=md), INVALID
        )
        assert bad_fields(err) == ["name"]


async def test_batch_get_accounts(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    a = await record(client, md, action("r1", "u1"))
    b = await record(client, md, action("r2", "u2"))
    got = await client.batch_get_accounts(
        pb.BatchGetAccountsRequest(names=[b.account.name, "accounts/999", a.account.name]),
        metadata=md,
    )
    assert [x.name for x in got.accounts] == [b.account.name, a.account.name]
    assert list(got.not_found) == ["accounts/999"]
    assert got.accounts[1] == a.account
    empty = await client.batch_get_accounts(pb.BatchGetAccountsRequest(), metadata=md)
    assert not empty.accounts and not empty.not_found

    err = await expect_error(
        client.batch_get_accounts(
            pb.BatchGetAccountsRequest(names=[a.account.name, "bogus"]), metadata=md
        ),
        INVALID,
    )
    assert bad_fields(err) == ["names[1]"]
    err = await expect_error(
        client.batch_get_accounts(
            pb.BatchGetAccountsRequest(names=[a.account.name] * 1001), metadata=md
        ),
        INVALID,
    )
    assert bad_fields(err) == ["names"]


async def _names(client: AccountsClient, md: list[tuple[str, str]], **filters: object) -> list[str]:
    out: list[str] = []
    token = ""
    while True:
        page = (
            await client.list_accounts(
                pb.ListAccountsRequest(page_size=2, page_token=token, **filters),  # type: ignore[arg-type]
                metadata=md,
            )
        ).response
        out += [a.platform_uid for a in page.accounts]
        token = page.next_page_token
        if not token:
            return out


async def test_list_accounts_filters(client: AccountsClient, tokens: Tokens) -> None:
    cac, mps = tokens("cac"), tokens("mps")
    t = START_US - DAY_US
    await record(
        client, cac, action("1", "u1", pb.ACTION_TYPE_BAN, campaign_id="c1", effective_us=t)
    )
    await record(client, cac, action("2", "u2", pb.ACTION_TYPE_WARN, category="fraud"))
    await record(client, mps, action("3", "u2", pb.ACTION_TYPE_RESTRICT, "mps", campaign_id="c1"))
    await record(
        client,
        mps,
        action(
            "4", "g1", pb.ACTION_TYPE_CLOSE_GROUP, "mps", platform="qq", kind=pb.ACCOUNT_KIND_GROUP
        ),
    )
    x = await record(client, mps, action("5", "u3", pb.ACTION_TYPE_WARN, "mps", category="fraud"))
    await record(client, cac, action("6", "u1", pb.ACTION_TYPE_RESTORE))

    md = tokens("office", "analyst")
    assert await _names(client, md) == ["u1", "u2", "g1", "u3"]
    assert await _names(client, md, platform="weibo") == ["u1", "u2", "u3"]
    assert await _names(client, md, platform="qq") == ["g1"]
    assert await _names(client, md, kind=pb.ACCOUNT_KIND_GROUP) == ["g1"]
    assert await _names(client, md, status=pb.ACCOUNT_STATUS_RESTORED) == ["u1"]
    assert await _names(client, md, status=pb.ACCOUNT_STATUS_RESTRICTED) == ["u2"]
    assert await _names(client, md, department="cac") == ["u1", "u2"]
    assert await _names(client, md, department="mps") == ["u2", "g1", "u3"]
    assert await _names(client, md, campaign_id="c1") == ["u1", "u2"]
    assert await _names(client, md, category="fraud") == ["u2", "u3"]
    # Several marks must hold in one action: u2's cac action is fraud, its c1 action is mps's.
    assert await _names(client, md, department="cac", campaign_id="c1") == ["u1"]
    assert await _names(client, md, department="mps", campaign_id="c1") == ["u2"]
    assert await _names(client, md, department="cac", category="fraud") == ["u2"]
    assert await _names(client, md, platform="weibo", department="mps") == ["u2", "u3"]
    assert await _names(client, md, department="nppa") == []

    # A retracted action no longer marks its account.
    await client.retract_action(
        pb.RetractActionRequest(request_id="x", name=x.action.name, reason="mistake"), metadata=mps
    )
    assert await _names(client, md, category="fraud") == ["u2"]
    assert await _names(client, md) == ["u1", "u2", "g1", "u3"]


async def test_list_accounts_page_size(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    batch = [action(f"r{i}", f"u{i:04d}") for i in range(1205)]
    await client.import_actions(stream([batch]), metadata=md)
    default = (await client.list_accounts(pb.ListAccountsRequest(), metadata=md)).response
    assert len(default.accounts) == 50 and default.next_page_token
    biggest = (
        await client.list_accounts(pb.ListAccountsRequest(page_size=5000), metadata=md)
    ).response
    assert len(biggest.accounts) == 1000
    rest = (
        await client.list_accounts(
            pb.ListAccountsRequest(page_size=5000, page_token=biggest.next_page_token), metadata=md
        )
    ).response
    assert len(rest.accounts) == 205 and not rest.next_page_token
    uids = [a.platform_uid for a in (*biggest.accounts, *rest.accounts)]
    assert uids == [f"u{i:04d}" for i in range(1205)]
    exact = (
        await client.list_accounts(
            pb.ListAccountsRequest(page_size=1205 - 1000, page_token=biggest.next_page_token),
            metadata=md,
        )
    ).response
    assert len(exact.accounts) == 205 and not exact.next_page_token


def _forged(key: object) -> str:
    raw = json.dumps({"f": "0" * 16, "k": key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("field", "req"),
    [
        ("page_size", pb.ListAccountsRequest(page_size=-1)),
        ("page_token", pb.ListAccountsRequest(page_token="garbage!!")),
        ("page_token", pb.ListAccountsRequest(page_token="e30")),  # "{}"
        ("page_token", pb.ListAccountsRequest(page_token=_forged(3))),
    ],
    ids=["negative-size", "garbage", "no-fields", "forged"],
)
async def test_list_accounts_bad_request(
    client: AccountsClient, tokens: Tokens, field: str, req: pb.ListAccountsRequest
) -> None:
    err = await expect_error(client.list_accounts(req, metadata=tokens("cac")), INVALID)
    assert bad_fields(err) == [field]


@pytest.mark.parametrize(
    "other",
    [
        {"platform": "qq"},
        {"kind": pb.ACCOUNT_KIND_GROUP},
        {"status": pb.ACCOUNT_STATUS_BANNED},
        {"department": "mps"},
        {"campaign_id": "c2"},
        {"category": "fraud"},
        {"platform": "weibo", "department": "cac"},
    ],
)
async def test_page_token_is_bound_to_its_filter(
    client: AccountsClient, tokens: Tokens, other: dict[str, object]
) -> None:
    md = tokens("cac")
    await client.import_actions(stream([[action(f"r{i}", f"u{i}") for i in range(5)]]), metadata=md)
    page = (
        await client.list_accounts(
            pb.ListAccountsRequest(page_size=2, platform="weibo"), metadata=md
        )
    ).response
    assert page.next_page_token
    same = (
        await client.list_accounts(
            pb.ListAccountsRequest(page_size=2, platform="weibo", page_token=page.next_page_token),
            metadata=md,
        )
    ).response
    assert [a.platform_uid for a in same.accounts] == ["u2", "u3"]
    filters: dict[str, object] = {"platform": "weibo", **other}
    if other.get("platform") == "qq":
        filters = dict(other)
    err = await expect_error(
        client.list_accounts(
            pb.ListAccountsRequest(page_size=2, page_token=page.next_page_token, **filters),  # type: ignore[arg-type]
            metadata=md,
        ),
        INVALID,
    )
    assert bad_fields(err) == ["page_token"]


async def test_list_account_actions(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    names = []
    for i in range(7):
        r = await record(client, md, action(f"r{i}", "u1", pb.ACTION_TYPE_WARN))
        names.append(r.action.name)
    other = await record(client, md, action("o", "u2"))
    parent = r.account.name
    seen: list[str] = []
    token = ""
    while True:
        page = (
            await client.list_account_actions(
                pb.ListAccountActionsRequest(parent=parent, page_size=3, page_token=token),
                metadata=md,
            )
        ).response
        assert len(page.actions) <= 3
        seen += [a.name for a in page.actions]
        token = page.next_page_token
        if not token:
            break
    assert seen == names
    assert all(a.account == parent for a in page.actions)

    first = (
        await client.list_account_actions(
            pb.ListAccountActionsRequest(parent=parent, page_size=3), metadata=md
        )
    ).response
    err = await expect_error(
        client.list_account_actions(
            pb.ListAccountActionsRequest(
                parent=other.account.name, page_token=first.next_page_token
            ),
            metadata=md,
        ),
        INVALID,
    )
    assert bad_fields(err) == ["page_token"]
    for req, field in (
        (pb.ListAccountActionsRequest(parent=parent, page_size=-5), "page_size"),
        (pb.ListAccountActionsRequest(parent=parent, page_token="%%%"), "page_token"),
        (pb.ListAccountActionsRequest(parent="accounts/1/actions/1"), "parent"),
        (pb.ListAccountActionsRequest(parent=""), "parent"),
    ):
        err = await expect_error(client.list_account_actions(req, metadata=md), INVALID)
        assert bad_fields(err) == [field]
    await expect_error(
        client.list_account_actions(
            pb.ListAccountActionsRequest(parent="accounts/404"), metadata=md
        ),
        NOT_FOUND,
    )


@pytest.mark.parametrize(
    ("field", "req"),
    [
        ("group_by[0]", pb.GetStatsRequest(group_by=[99])),  # type: ignore[list-item]
        ("group_by[0]", pb.GetStatsRequest(group_by=[common_pb2.DIMENSION_UNSPECIFIED])),
        (
            "group_by[1]",
            pb.GetStatsRequest(group_by=[common_pb2.DIMENSION_DAY, 77]),  # type: ignore[list-item]
        ),
        (
            "group_by[2]",
            pb.GetStatsRequest(
                group_by=[
                    common_pb2.DIMENSION_ACTION,
                    common_pb2.DIMENSION_DAY,
                    common_pb2.DIMENSION_ACTION,
                ]
            ),
        ),
        (
            "filter.end_time",
            pb.GetStatsRequest(
                filter=common_pb2.StatsFilter(
                    start_time=ts(START_US), end_time=ts(START_US - DAY_US)
                )
            ),
        ),
    ],
    ids=["unknown", "unspecified", "unknown-second", "repeated", "end-before-start"],
)
async def test_get_stats_bad_request(
    client: AccountsClient, tokens: Tokens, field: str, req: pb.GetStatsRequest
) -> None:
    err = await expect_error(client.get_stats(req, metadata=tokens("cac")), INVALID)
    assert bad_fields(err) == [field]
