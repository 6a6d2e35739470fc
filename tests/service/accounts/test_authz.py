"""Authentication for every RPC, and who may do what."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, AsyncPager
from netnet.client.tokens import kid_of
from netnet.common.v1 import common_pb2
from tests.service.accounts.helpers import action, record, snapshot, stream
from tests.support.rpc import Metadata, error_reason, expect_error
from tests.support.servers import Tokens

DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


async def _watch_one(client: AccountsClient, md: Metadata) -> pb.WatchChangesResponse:
    async with aclosing(client.watch_changes(after_seq=0, metadata=md)) as changes:
        msg = await asyncio.wait_for(anext(changes, None), 5)
        assert isinstance(msg, pb.WatchChangesResponse), msg
        return msg


Seeded = dict[str, str]


async def _seed(client: AccountsClient, tokens: Tokens) -> Seeded:
    r = await record(client, tokens("cac"), action("seed", "u-seed"))
    return {"account": r.account.name, "action": r.action.name}


# Each RPC called the normal way; returns something to check it worked.
RPCS: dict[str, Callable[[AccountsClient, Metadata, Seeded], Awaitable[Any]]] = {
    "RecordAction": lambda s, md, seed: s.record_action(
        pb.RecordActionRequest(action=action("new", "u-new")), metadata=md
    ),
    "RetractAction": lambda s, md, seed: s.retract_action(
        pb.RetractActionRequest(request_id="x", name=seed["action"], reason="mistake"), metadata=md
    ),
    "ImportActions": lambda s, md, seed: s.import_actions(
        stream([[action("i1", "u-imp")]]), metadata=md
    ),
    "GetAccount": lambda s, md, seed: s.get_account(
        pb.GetAccountRequest(name=seed["account"]), metadata=md
    ),
    "BatchGetAccounts": lambda s, md, seed: s.batch_get_accounts(
        pb.BatchGetAccountsRequest(names=[seed["account"]]), metadata=md
    ),
    "ListAccounts": lambda s, md, seed: s.list_accounts(pb.ListAccountsRequest(), metadata=md),
    "ListAccountActions": lambda s, md, seed: s.list_account_actions(
        pb.ListAccountActionsRequest(parent=seed["account"]), metadata=md
    ),
    "GetStats": lambda s, md, seed: s.get_stats(pb.GetStatsRequest(), metadata=md),
    "BatchGetStats": lambda s, md, seed: s.batch_get_stats(
        pb.BatchGetStatsRequest(requests=[pb.GetStatsRequest(), pb.GetStatsRequest()]),
        metadata=md,
    ),
    "WatchChanges": lambda s, md, seed: _watch_one(s, md),
    "ListAuditEntries": lambda s, md, seed: s.list_audit_entries(
        pb.ListAuditEntriesRequest(), metadata=md
    ),
    "VerifyAuditChain": lambda s, md, seed: s.verify_audit_chain(
        pb.VerifyAuditChainRequest(), metadata=md
    ),
}


def _check_normal(name: str, resp: Any, seed: Seeded) -> None:
    if isinstance(resp, AsyncPager):  # a list call: its first page
        resp = resp.response
    if name == "RecordAction":
        assert resp.account.status == pb.ACCOUNT_STATUS_BANNED and not resp.duplicate
    elif name == "RetractAction":
        assert resp.action.name == seed["action"] and resp.action.retracted
    elif name == "ImportActions":
        assert (resp.summary.accepted, resp.summary.batches) == (1, 1)
    elif name == "GetAccount":
        assert resp.account.name == seed["account"]
    elif name == "BatchGetAccounts":
        assert [a.name for a in resp.accounts] == [seed["account"]] and not resp.not_found
    elif name == "ListAccounts":
        assert [a.name for a in resp.accounts] == [seed["account"]]
    elif name == "ListAccountActions":
        assert [a.name for a in resp.actions] == [seed["action"]]
    elif name == "GetStats":
        assert resp.total.count == 1
    elif name == "BatchGetStats":
        assert [r.total.count for r in resp.responses] == [1, 1]
    elif name == "WatchChanges":
        assert resp.event.seq == 1 and resp.event.resource == seed["action"]
    elif name == "ListAuditEntries":
        assert [e.resource for e in resp.entries] == [seed["action"]]
    elif name == "VerifyAuditChain":
        assert resp.verification.ok and resp.verification.entries_checked == 1
    else:  # pragma: no cover
        raise AssertionError(name)


@pytest.mark.parametrize("name", list(RPCS))
async def test_normal_path(client: AccountsClient, tokens: Tokens, name: str) -> None:
    seed = await _seed(client, tokens)
    md = tokens("cac", "operator", "auditor")
    _check_normal(name, await RPCS[name](client, md, seed), seed)


def _bad_metadata(tokens: Tokens, kind: str) -> Metadata:
    now = int(time.time())
    claims = tokens.claims(roles=["admin", "auditor"])
    if kind == "none":
        return []  # the client has no token of its own
    if kind == "expired":
        return tokens("cac", "admin", "auditor", ttl=-10)
    if kind == "garbage":
        return [("authorization", "Bearer not-a-token")]
    if kind == "empty-bearer":
        return [("authorization", "Bearer ")]
    if kind == "wrong-scheme":
        token = tokens("cac", "admin", "auditor")[0][1].split(" ", 1)[1]
        return [("authorization", f"Basic {token}")]
    if kind == "other-key":  # HS256, as tokens were before: refused whatever its key
        token = jwt.encode({**claims, "exp": now + 600}, b"x" * 32, algorithm="HS256")
        return [("authorization", f"Bearer {token}")]
    if kind == "unknown-kid":
        token = tokens.sign(claims, Ed25519PrivateKey.generate())
        return [("authorization", f"Bearer {token}")]
    if kind == "known-kid-other-key":
        token = tokens.sign(claims, Ed25519PrivateKey.generate(), kid_of(tokens.key.public_key()))
        return [("authorization", f"Bearer {token}")]
    if kind == "unsigned":
        token = jwt.encode({**claims, "exp": now + 600}, None, algorithm="none")  # type: ignore[arg-type]
        return [("authorization", f"Bearer {token}")]
    if kind == "unknown-department":
        token = tokens.sign({**claims, "dept": "nsa"})
        return [("authorization", f"Bearer {token}")]
    if kind in ("no-expiry", "no-audience", "no-jti"):
        left_out = {"no-expiry": "exp", "no-audience": "aud", "no-jti": "jti"}[kind]
        token = tokens.sign({k: v for k, v in claims.items() if k != left_out})
        return [("authorization", f"Bearer {token}")]
    if kind == "wrong-audience":
        token = tokens.sign({**claims, "aud": "elsewhere"})
        return [("authorization", f"Bearer {token}")]
    if kind == "wrong-issuer":
        token = tokens.sign({**claims, "iss": "elsewhere"})
        return [("authorization", f"Bearer {token}")]
    raise AssertionError(kind)


BAD_TOKENS = [
    "none",
    "expired",
    "garbage",
    "empty-bearer",
    "wrong-scheme",
    "other-key",
    "unknown-kid",
    "known-kid-other-key",
    "unsigned",
    "unknown-department",
    "no-expiry",
    "no-audience",
    "no-jti",
    "wrong-audience",
    "wrong-issuer",
]


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("name", list(RPCS))
async def test_unauthenticated(
    client: AccountsClient, tokens: Tokens, name: str, kind: str
) -> None:
    seed = await _seed(client, tokens)
    before = await snapshot(client, tokens)
    err = await expect_error(RPCS[name](client, _bad_metadata(tokens, kind), seed), UNAUTHENTICATED)
    if kind == "expired":
        assert error_reason(err) == "TOKEN_EXPIRED"
    assert await snapshot(client, tokens) == before


async def test_write_in_another_departments_name(client: AccountsClient, tokens: Tokens) -> None:
    await _seed(client, tokens)
    md = tokens("mps", "operator", "admin")
    before = await snapshot(client, tokens)
    err = await expect_error(record(client, md, action("r1", "u1", department="cac")), DENIED)
    assert error_reason(err) == "WRONG_DEPARTMENT"
    assert await snapshot(client, tokens) == before
    # The same request id is still free for its rightful owner.
    ok = await record(client, tokens("cac"), action("r1", "u1", department="cac"))
    assert not ok.duplicate


async def test_import_rejects_a_record_in_another_departments_name(
    client: AccountsClient, tokens: Tokens
) -> None:
    """Such a record is a rejected row like any other bad row (its index, field
    `department`); the rest of the stream is written, none of it in another's name."""
    await _seed(client, tokens)
    md = tokens("mps")
    batches = [
        [action(f"i{i}", f"u{i}", department="mps") for i in range(10)],
        [action(f"i{i}", f"u{i}", department="mps") for i in range(10, 15)],
    ]
    batches[0][7] = action("i7", "u7", department="nrta")
    batches[1][0] = action("i10", "u10", department="cac", category="no-such-category")
    summary = (await client.import_actions(stream(batches), metadata=md)).summary
    assert (summary.accepted, summary.duplicates, summary.rejected) == (13, 0, 2)
    assert [(r.index, r.request_id, r.field) for r in summary.rejections] == [
        (7, "i7", "department"),
        (10, "i10", "department"),  # the department is named first among its faults
    ]
    assert "'nrta'" in summary.rejections[0].reason
    reader = tokens("office", "analyst")
    listed = (
        await client.list_accounts(pb.ListAccountsRequest(department="mps"), metadata=reader)
    ).response
    assert len(listed.accounts) == 13
    for other in ("nrta", "cac"):
        stats = await client.get_stats(
            pb.GetStatsRequest(filter=common_pb2.StatsFilter(departments=[other])),
            metadata=reader,
        )
        assert stats.total.count == (1 if other == "cac" else 0)  # cac: the seed alone
    # The rows refused can still be recorded by their own department, under the same ids.
    again = await client.import_actions(
        stream([[action("i7", "u7", department="nrta")]]), metadata=tokens("nrta")
    )
    assert again.summary.accepted == 1


async def test_import_without_a_writer_role_is_refused_whole(
    client: AccountsClient, tokens: Tokens
) -> None:
    await _seed(client, tokens)
    before = await snapshot(client, tokens)
    batch = [action("i1", "u1", department="mps"), action("i2", "u2", department="nrta")]
    err = await expect_error(
        client.import_actions(stream([batch]), metadata=tokens("mps", "analyst")), DENIED
    )
    assert error_reason(err) == "ROLE_REQUIRED"
    assert await snapshot(client, tokens) == before


async def test_retract_another_departments_action(client: AccountsClient, tokens: Tokens) -> None:
    seed = await _seed(client, tokens)  # recorded by cac
    md = tokens("mps", "operator", "admin")
    before = await snapshot(client, tokens)
    req = pb.RetractActionRequest(request_id="x", name=seed["action"], reason="not yours")
    err = await expect_error(client.retract_action(req, metadata=md), DENIED)
    assert error_reason(err) == "WRONG_DEPARTMENT"
    assert await snapshot(client, tokens) == before
    # The owner may; a replay of the owner's request by another department is still refused.
    owner = await client.retract_action(req, metadata=tokens("cac"))
    assert owner.action.retracted
    after = await snapshot(client, tokens)
    await expect_error(client.retract_action(req, metadata=md), DENIED)
    assert await snapshot(client, tokens) == after


@pytest.mark.parametrize("roles", [("analyst",), ("auditor",), ("analyst", "auditor")])
async def test_readers_cannot_write(
    client: AccountsClient, tokens: Tokens, roles: tuple[str, ...]
) -> None:
    seed = await _seed(client, tokens)
    md = tokens("cac", *roles)
    before = await snapshot(client, tokens)
    for name in ("RecordAction", "RetractAction", "ImportActions"):
        err = await expect_error(RPCS[name](client, md, seed), DENIED)
        assert error_reason(err) == "ROLE_REQUIRED"
    assert await snapshot(client, tokens) == before
    # Reading is open to every authenticated caller.
    for name in ("GetAccount", "BatchGetAccounts", "ListAccounts", "ListAccountActions"):
        _check_normal(name, await RPCS[name](client, md, seed), seed)
    _check_normal("GetStats", await RPCS["GetStats"](client, md, seed), seed)
    _check_normal("WatchChanges", await RPCS["WatchChanges"](client, md, seed), seed)


@pytest.mark.parametrize("role", ["operator", "analyst", "admin", "service"])
async def test_audit_log_is_for_auditors_only(
    client: AccountsClient, tokens: Tokens, role: str
) -> None:
    seed = await _seed(client, tokens)
    md = tokens("office", role)
    for name in ("ListAuditEntries", "VerifyAuditChain"):
        err = await expect_error(RPCS[name](client, md, seed), DENIED)
        assert error_reason(err) == "ROLE_REQUIRED"
        _check_normal(name, await RPCS[name](client, tokens("office", "auditor"), seed), seed)


@pytest.mark.parametrize("role", ["operator", "admin", "service"])
async def test_writer_roles_may_write_their_own_department(
    client: AccountsClient, tokens: Tokens, role: str
) -> None:
    md = tokens("nppa", role)
    r = await record(client, md, action("r1", "u1", department="nppa"))
    assert r.action.department == "nppa"
    s = (
        await client.import_actions(stream([[action("r2", "u2", department="nppa")]]), metadata=md)
    ).summary
    assert s.accepted == 1
    x = await client.retract_action(
        pb.RetractActionRequest(request_id="x", name=r.action.name, reason="oops"), metadata=md
    )
    assert x.action.retracted
