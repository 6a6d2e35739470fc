"""The audit log: one keyed, hash-chained entry per mutation; edits and deletions are
detected."""

from __future__ import annotations

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.common.v1 import common_pb2
from services.common.clock import ManualClock
from services.common.config import Settings
from services.common.server import RunningServer
from tests.service.accounts.helpers import action, record, stream
from tests.support.audit import keyed_link_under, plain_link_of, transaction
from tests.support.rpc import bad_fields, expect_error
from tests.support.servers import START_US, Tokens


async def _write_some(client: AccountsClient, tokens: Tokens, clock: ManualClock) -> list[str]:
    """Five mutations; returns the resources they were about."""
    cac = tokens("cac", operator="alice")
    a = await record(client, cac, action("r1", "u1"))
    clock.advance(1)
    b = await record(client, tokens("mps", operator="bob"), action("r2", "u2", department="mps"))
    clock.advance(1)
    await record(client, cac, action("r1", "u1"))  # duplicate: no entry
    await expect_error(  # refused: no entry
        record(client, cac, action("r3", "u3", pb.ACTION_TYPE_RESTORE)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    x = await client.retract_action(
        pb.RetractActionRequest(request_id="x1", name=a.action.name, reason="mistake"), metadata=cac
    )
    await client.retract_action(  # replay: no entry
        pb.RetractActionRequest(request_id="x1", name=a.action.name, reason="mistake"), metadata=cac
    )
    clock.advance(1)
    await client.import_actions(
        stream(
            [[action("i1", "u4"), action("i2", "u5", pb.ACTION_TYPE_RESTORE), action("r1", "u1")]]
        ),
        metadata=cac,
    )
    c = await record(client, cac, action("r4", "u6", pb.ACTION_TYPE_WARN))
    return [a.action.name, b.action.name, x.action.name, "accounts", c.action.name]


async def _entries(
    client: AccountsClient, tokens: Tokens, page_size: int = 0
) -> list[common_pb2.AuditEntry]:
    md = tokens("office", "auditor")
    out: list[common_pb2.AuditEntry] = []
    token = ""
    while True:
        page = (
            await client.list_audit_entries(
                pb.ListAuditEntriesRequest(page_size=page_size, page_token=token), metadata=md
            )
        ).response
        if page_size:
            assert len(page.entries) <= page_size
        out += page.entries
        token = page.next_page_token
        if not token:
            return out


async def _verify(client: AccountsClient, tokens: Tokens) -> common_pb2.AuditVerification:
    md = tokens("office", "auditor")
    return (await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=md)).verification


async def test_every_mutation_is_audited_in_a_chain(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    resources = await _write_some(client, tokens, clock)
    entries = await _entries(client, tokens)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert [e.resource for e in entries] == resources
    assert [e.method for e in entries] == [
        "RecordAction",
        "RecordAction",
        "RetractAction",
        "ImportActions",
        "RecordAction",
    ]
    assert [(e.operator, e.department) for e in entries] == [
        ("alice", "cac"),
        ("bob", "mps"),
        ("alice", "cac"),
        ("alice", "cac"),
        ("alice", "cac"),
    ]
    assert [e.request_id for e in entries] == ["r1", "r2", "x1", "i1", "r4"]
    assert [e.outcome for e in entries] == [
        "recorded",
        "recorded",
        "retracted",
        "accepted=1 duplicate=1 rejected=1",
        "recorded",
    ]
    assert [e.time.ToMicroseconds() for e in entries] == [
        START_US,
        START_US + 1_000_000,
        START_US + 2_000_000,
        START_US + 3_000_000,
        START_US + 3_000_000,
    ]
    key = server.runtime.settings.audit_key_file.read_text().strip().encode()
    prev = ""
    for e in entries:
        assert e.prev_hash == prev
        assert e.hash == keyed_link_under(e, key)
        prev = e.hash
    # Each entry commits to the rows its write produced; the import to its batch's rows.
    assert [e.data for e in entries] == [
        "account_actions:1",
        "account_actions:2",
        "account_action_retractions:1",
        "account_actions:3",
        "account_actions:4",
    ]
    assert all(len(e.data_hash) == 64 for e in entries)
    assert await _entries(client, tokens, page_size=2) == entries
    v = await _verify(client, tokens)
    assert (v.ok, v.entries_checked, v.first_bad_seq, v.problem) == (True, 5, 0, "")
    assert (v.data_rows_checked, v.head_seq, v.keyed_from_seq) == (5, 5, 1)


async def test_empty_chain_verifies(client: AccountsClient, tokens: Tokens) -> None:
    v = await _verify(client, tokens)
    assert (v.ok, v.entries_checked) == (True, 0)
    assert await _entries(client, tokens) == []


async def test_audit_page_token_and_size(
    client: AccountsClient, tokens: Tokens, clock: ManualClock
) -> None:
    await _write_some(client, tokens, clock)
    md = tokens("office", "auditor")
    for req, field in (
        (pb.ListAuditEntriesRequest(page_size=-1), "page_size"),
        (pb.ListAuditEntriesRequest(page_token="nope"), "page_token"),
    ):
        err = await expect_error(
            client.list_audit_entries(req, metadata=md), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert bad_fields(err) == [field]
    # A token of another list is not an audit token.
    accounts = (
        await client.list_accounts(pb.ListAccountsRequest(page_size=1), metadata=md)
    ).response
    err = await expect_error(
        client.list_audit_entries(
            pb.ListAuditEntriesRequest(page_token=accounts.next_page_token), metadata=md
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == ["page_token"]


def _tamper(settings: Settings, sql: str) -> None:
    with transaction(settings) as conn:
        assert conn.execute(sql).rowcount == 1


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [
        ("UPDATE audit_log SET outcome = 'x' WHERE seq = 2", 2),
        ("UPDATE audit_log SET operator = 'mallory' WHERE seq = 5", 5),
        ("UPDATE audit_log SET time_us = time_us + 1 WHERE seq = 1", 1),
        ("UPDATE audit_log SET request_id = 'forged' WHERE seq = 4", 4),
        ("DELETE FROM audit_log WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 1", 1),
        ("DELETE FROM audit_log WHERE seq = 5", 5),
        ("UPDATE audit_log SET prev_hash = '' WHERE seq = 3", 3),
        ("UPDATE audit_head SET seq = 6", 6),
    ],
    ids=[
        "edit-outcome",
        "edit-operator",
        "edit-time",
        "edit-request-id",
        "delete-middle",
        "delete-first",
        "delete-last",
        "edit-link",
        "head-ahead",
    ],
)
async def test_tampering_is_detected(
    client: AccountsClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
    sql: str,
    first_bad: int,
) -> None:
    await _write_some(client, tokens, clock)
    assert (await _verify(client, tokens)).ok
    _tamper(server.runtime.settings, sql)
    v = await _verify(client, tokens)
    assert not v.ok
    assert v.first_bad_seq == first_bad
    assert v.problem
    assert v.entries_checked == first_bad - 1


async def test_rehashed_edit_is_not_a_keyed_link(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    await _write_some(client, tokens, clock)
    entry = (await _entries(client, tokens))[1]
    entry.outcome = "forged"
    _tamper(
        server.runtime.settings,
        f"UPDATE audit_log SET outcome = 'forged', hash = '{plain_link_of(entry)}' WHERE seq = 2",
    )
    v = await _verify(client, tokens)
    assert (v.ok, v.first_bad_seq) == (False, 2)
    assert "keyed hash" in v.problem


async def test_rewritten_last_entry_is_not_a_keyed_link(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    await _write_some(client, tokens, clock)
    entries = await _entries(client, tokens)
    # Forge entry 5 consistently with entry 4, as anyone without the key can: not a keyed link.
    last = entries[4]
    last.outcome = "forged"
    _tamper(
        server.runtime.settings,
        f"UPDATE audit_log SET outcome = 'forged', hash = '{plain_link_of(last)}' WHERE seq = 5",
    )
    v = await _verify(client, tokens)
    assert (v.ok, v.first_bad_seq) == (False, 5)
    # Writing goes on after tampering, and verification keeps failing.
    await record(client, tokens("cac"), action("after", "u9"))
    assert not (await _verify(client, tokens)).ok
