"""Attacks on the accounts database by someone holding the file but not the audit key: each
is found by VerifyAuditChain, with the entry where the chain stops holding."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.common.v1 import common_pb2
from services.accounts.__main__ import SPEC
from services.common.clock import ManualClock
from services.common.config import Settings
from services.common.server import RunningServer, start
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, apply_migrations
from tests.service.accounts.helpers import action, record, stream
from tests.service.accounts.test_audit import _entries, _verify, _write_some
from tests.support.audit import cut_tail, execute, plain_link, rewrite_plain
from tests.support.rpc import bad_fields, expect_error
from tests.support.servers import CampaignOwner, Tokens, channel_to, service_settings

# _write_some's five entries: 1 and 2 record actions 1 and 2, 3 retracts action 1, 4 imports
# action 3 (with a duplicate and a refused record), 5 records action 4.


def _checkpoint_file(server: RunningServer) -> Path:
    s = server.runtime.settings
    return s.audit_checkpoint_dir / "accounts.audit-checkpoints.jsonl"


async def _verify_with(
    client: AccountsClient, tokens: Tokens, checkpoints: list[common_pb2.AuditCheckpoint]
) -> common_pb2.AuditVerification:
    reply = await client.verify_audit_chain(
        pb.VerifyAuditChainRequest(checkpoints=checkpoints), metadata=tokens("office", "auditor")
    )
    return reply.verification


def _checkpoints(path: Path) -> list[common_pb2.AuditCheckpoint]:
    """The checkpoint file's lines as the CLI sends them."""
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        cp = common_pb2.AuditCheckpoint(
            service=d["service"],
            seq=d["seq"],
            hash=d["hash"],
            keyed_from_seq=d["keyed_from"],
            mac=d["mac"],
        )
        cp.time.FromMicroseconds(d["time_us"])
        out.append(cp)
    return out


def _settings(data_dir: Path, owner: CampaignOwner, more: dict[str, str] | None = None) -> Settings:
    """A server's settings of its own, with the session's token key and campaign owner."""
    return replace(
        service_settings(SPEC.name, data_dir, more), **owner.keys(), cases_addr=owner.addr
    )


async def test_a_tail_cut_below_a_checkpoint_is_detected(
    data_dir: Path, tokens: Tokens, clock: ManualClock, campaign_owner: CampaignOwner
) -> None:
    """The newest entries deleted and the head moved back while the service is down: the chain
    left verifies on its own, but the checkpoint written when the service stopped does not
    fit it."""
    settings = _settings(data_dir, campaign_owner)
    server = await start(SPEC, settings, clock)
    channel = await channel_to(server.port)
    try:
        await _write_some(AccountsClient(channel=channel, token=""), tokens, clock)
    finally:
        await channel.close()
        await server.stop(0)
    cut_tail(settings, keep=3)

    server = await start(SPEC, settings, clock)
    channel = await channel_to(server.port)
    try:
        v = await _verify(AccountsClient(channel=channel, token=""), tokens)
    finally:
        await channel.close()
        await server.stop(0)
    assert (v.ok, v.entries_checked, v.first_bad_seq) == (False, 3, 4)
    assert "entries 4-5 were cut" in v.problem
    assert (v.head_seq, v.newest_checkpoint_seq) == (3, 5)
    assert v.checkpoints_checked >= 1


async def test_a_checkpoint_kept_elsewhere_finds_the_cut(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    """The service's own checkpoint file removed with the cut, and the rows the cut entries
    wrote: the copy an operator kept, sent with the call, still finds it. Without any
    checkpoint, such a cut leaves no trace."""
    await _write_some(client, tokens, clock)
    from services.common.server import checkpoint

    made = await checkpoint(server.runtime)
    assert made is not None and made.seq == 5
    kept = _checkpoints(_checkpoint_file(server))
    assert [c.seq for c in kept] == [5]
    assert (await _verify_with(client, tokens, kept)).ok

    _checkpoint_file(server).unlink()
    path = server.runtime.settings
    cut_tail(path, keep=2)
    execute(path, "DELETE FROM account_actions WHERE id > 2")  # what entries 4 and 5 wrote
    blind = await _verify(client, tokens)
    assert (blind.ok, blind.checkpoints_checked, blind.head_seq) == (True, 0, 2)
    v = await _verify_with(client, tokens, kept)
    assert (v.ok, v.first_bad_seq, v.checkpoints_checked) == (False, 3, 1)
    assert "entries 3-5 were cut" in v.problem


async def test_a_forged_checkpoint_is_refused(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    from services.common.server import checkpoint

    await _write_some(client, tokens, clock)
    await checkpoint(server.runtime)
    (cp,) = _checkpoints(_checkpoint_file(server))
    cp.seq = 9  # a checkpoint claiming more entries than were written
    v = await _verify_with(client, tokens, [cp])
    assert (v.ok, v.first_bad_seq) == (False, 9)
    assert "not signed with the audit key" in v.problem


async def test_an_edit_with_every_later_link_recomputed_is_detected(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    """Entry 2 edited, and every link from it on and the head recomputed as sha256 (all anyone
    without the key can do): entry 2 is not a keyed link."""
    await _write_some(client, tokens, clock)
    path = server.runtime.settings
    execute(path, "UPDATE audit_log SET operator = 'mallory' WHERE seq = 2")
    rewrite_plain(path, from_seq=2)
    v = await _verify(client, tokens)
    assert (v.ok, v.first_bad_seq, v.entries_checked) == (False, 2, 1)
    assert "keyed hash" in v.problem


async def test_a_whole_chain_rewritten_without_the_key_is_detected(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    await _write_some(client, tokens, clock)
    path = server.runtime.settings
    execute(path, "DELETE FROM audit_log WHERE seq = 3")  # the retraction, gone
    execute(path, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    rewrite_plain(path, from_seq=1)
    v = await _verify(client, tokens)
    assert (v.ok, v.first_bad_seq) == (False, 1)


async def test_a_chain_passed_off_as_written_before_the_key_is_detected(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    """Where the keyed chain starts moved past the head and every link rewritten as plain
    sha256, as if all came from a release before the key: the start is sealed with the key."""
    await _write_some(client, tokens, clock)
    path = server.runtime.settings
    execute(path, "UPDATE account_actions SET category = 'vulgar' WHERE id = 2")
    execute(path, "UPDATE audit_head SET keyed_from = 6")
    rewrite_plain(path, from_seq=1)
    for seal in ("keyed_seal", "''"):
        execute(path, f"UPDATE audit_head SET keyed_seal = {seal}")
        v = await _verify(client, tokens)
        assert (v.ok, v.first_bad_seq, v.keyed_from_seq) == (False, 6, 6)
        assert v.problem == (
            "where the keyed chain starts (entry 6) is not sealed with the audit key"
        )


@pytest.mark.parametrize(
    ("sql", "first_bad", "problem"),
    [
        (
            "UPDATE account_actions SET category = 'vulgar' WHERE id = 2",
            2,
            "rows differ from what entry 2 wrote",
        ),
        (
            "UPDATE account_actions SET department = 'mps' WHERE id = 3",
            4,  # written by the import batch
            "rows differ from what entry 4 wrote",
        ),
        (
            "UPDATE account_actions SET effective_us = effective_us - 1 WHERE id = 4",
            5,
            "rows differ from what entry 5 wrote",
        ),
        ("DELETE FROM account_actions WHERE id = 2", 2, "account_actions rows 2 of entry 2"),
        ("DELETE FROM account_actions WHERE id = 3", 4, "account_actions rows 3 of entry 4"),
        (
            # An action un-retracted: its retraction's entry no longer matches it.
            "UPDATE account_actions SET retracted_us = NULL, retract_reason = '' WHERE id = 1",
            3,
            "rows differ from what entry 3 wrote",
        ),
    ],
    ids=[
        "edit-recorded",
        "edit-imported",
        "edit-time",
        "delete-recorded",
        "delete-imported",
        "undo-retraction",
    ],
)
async def test_an_edited_or_deleted_action_is_detected(
    client: AccountsClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
    sql: str,
    first_bad: int,
    problem: str,
) -> None:
    await _write_some(client, tokens, clock)
    assert (await _verify(client, tokens)).ok
    execute(server.runtime.settings, sql)
    v = await _verify(client, tokens)
    assert not v.ok
    assert (v.first_bad_seq, v.entries_checked) == (first_bad, first_bad - 1)
    assert problem in v.problem


async def test_what_changes_by_right_keeps_verifying(
    client: AccountsClient, tokens: Tokens, clock: ManualClock
) -> None:
    """An account's status moves with later actions and retractions; a retraction marks its
    action: none of it is an edit of what an entry committed to."""
    md = tokens("cac")
    ban = await record(client, md, action("b1", "u1", pb.ACTION_TYPE_BAN))
    await record(client, md, action("w1", "u1", pb.ACTION_TYPE_WARN))
    await client.retract_action(
        pb.RetractActionRequest(request_id="x1", name=ban.action.name, reason="wrong"),
        metadata=md,
    )
    reply = await client.import_actions(
        stream([[action(f"i{n}", f"u{n % 7}", pb.ACTION_TYPE_RESTRICT) for n in range(40)]]),
        metadata=md,
    )
    assert reply.summary.accepted == 40
    v = await _verify(client, tokens)
    assert (v.ok, v.entries_checked, v.data_rows_checked) == (True, 4, 1 + 1 + 1 + 40)


async def test_the_audit_key_is_its_own_file(
    data_dir: Path,
    tokens: Tokens,
    clock: ManualClock,
    tmp_path: Path,
    campaign_owner: CampaignOwner,
) -> None:
    """NETNET_AUDIT_KEY_FILE names it; created on first start (owner only), apart from the
    token key. A chain checked with another key does not verify."""
    elsewhere = tmp_path / "keys" / "audit.key"
    settings = _settings(data_dir, campaign_owner, {"NETNET_AUDIT_KEY_FILE": str(elsewhere)})
    assert settings.audit_key_file == elsewhere
    server = await start(SPEC, settings, clock)
    channel = await channel_to(server.port)
    try:
        client = AccountsClient(channel=channel, token="")
        await _write_some(client, tokens, clock)
        assert (await _verify(client, tokens)).ok
    finally:
        await channel.close()
        await server.stop(0)
    assert elsewhere.stat().st_mode & 0o777 == 0o600
    assert elsewhere.read_text() != settings.key_file.read_text()
    assert not (data_dir / "audit.key").exists()

    os.replace(elsewhere, tmp_path / "old.key")  # a new key appears on the next start
    server = await start(SPEC, settings, clock)
    channel = await channel_to(server.port)
    try:
        v = await _verify(AccountsClient(channel=channel, token=""), tokens)
    finally:
        await channel.close()
        await server.stop(0)
    assert (v.ok, v.first_bad_seq) == (False, 1)
    assert v.problem == "where the keyed chain starts (entry 1) is not sealed with the audit key"


async def test_a_tail_cut_leaving_its_rows_is_detected(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    """No checkpoint needed when the cut entries' rows are still there: no entry wrote them."""
    await _write_some(client, tokens, clock)
    _checkpoint_file(server).unlink(missing_ok=True)
    cut_tail(server.runtime.settings, keep=3)
    v = await _verify(client, tokens)
    assert (v.ok, v.entries_checked, v.first_bad_seq) == (False, 3, 0)
    assert v.problem == "account_actions: 2 of its rows from id 1 on no entry wrote"


async def test_an_inserted_action_is_detected(
    client: AccountsClient, tokens: Tokens, clock: ManualClock, server: RunningServer
) -> None:
    await _write_some(client, tokens, clock)
    columns = (
        "id, account_id, request_key, request_id, body_hash, action, category, legal_basis, "
        "department, region, campaign_id, special_action, case_ref, actor, effective_us, "
        "record_us"
    )
    execute(
        server.runtime.settings,
        f"INSERT INTO account_actions ({columns}) SELECT 99, account_id, 99, 'forged', 0, "
        "action, category, legal_basis, department, region, campaign_id, special_action, "
        "case_ref, actor, effective_us, record_us FROM account_actions WHERE id = 2",
    )
    v = await _verify(client, tokens)
    assert (v.ok, v.entries_checked) == (False, 5)
    assert v.problem == "account_actions: 1 of its rows from id 1 on no entry wrote"


def _database_of_an_earlier_release(path: Path) -> None:
    """An accounts database as the release before the keyed chain left it: two actions
    recorded, each with a plain sha256 link."""
    assert SPEC.migrations is not None
    runtime, accounts = path.parent / "runtime-before", path.parent / "accounts-before"
    for before, source, last in (
        (runtime, RUNTIME_MIGRATIONS, "0007"),
        (accounts, SPEC.migrations, "0002"),
    ):
        before.mkdir(parents=True)
        for sql in sorted(source.glob("[0-9]*.sql")):
            if sql.name < last:
                shutil.copy(sql, before / sql.name)
    conn = sqlite3.connect(path, isolation_level=None, factory=SqliteConn)
    try:
        apply_migrations(conn, [("runtime", runtime), ("accounts", accounts)])
        conn.execute(
            "INSERT INTO accounts VALUES (1, 1, 'weibo', 'u1', 1, '', 5, NULL, 1, 1, 2, 2)"
        )
        prev = ""
        for n in (1, 2):
            conn.execute(
                "INSERT INTO account_actions (id, account_id, request_key, request_id, "
                "body_hash, action, category, legal_basis, department, region, campaign_id, "
                "special_action, case_ref, actor, effective_us, record_us) VALUES "
                f"({n}, 1, {n}, 'old{n}', 0, 4, 'obscene', '', 'cac', '', '', '', '', 'old', 1, 1)"
            )
            fields = (n, n, "old", "cac", "RecordAction", f"accounts/1/actions/{n}", f"old{n}")
            digest = plain_link((*fields, "recorded"), prev)
            conn.execute(
                "INSERT INTO audit_log (seq, time_us, operator, department, method, resource, "
                "request_id, outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*fields, "recorded", prev, digest),
            )
            prev = digest
        conn.execute("UPDATE audit_head SET seq = 2, hash = ?", (prev,))
    finally:
        conn.close()


@pytest.mark.sqlite_only(
    "a store of an earlier release is a SQLite file (PostgreSQL stores begin at this release)"
)
async def test_a_chain_of_an_earlier_release_goes_on_keyed(
    data_dir: Path, tokens: Tokens, clock: ManualClock, campaign_owner: CampaignOwner
) -> None:
    """The entries written before the upgrade stay plain sha256 links; the first checkpoint and
    the first keyed link seal them: rewriting them, even consistently, is found."""
    settings = _settings(data_dir, campaign_owner)
    _database_of_an_earlier_release(settings.database_path)
    server = await start(SPEC, settings, clock)
    channel = await channel_to(server.port)
    try:
        client = AccountsClient(channel=channel, token="")
        await record(client, tokens("cac"), action("new1", "u2"))
        v = await _verify(client, tokens)
        assert (v.ok, v.entries_checked, v.keyed_from_seq, v.data_rows_checked) == (True, 3, 3, 1)
        execute(settings, "UPDATE audit_log SET operator = 'mallory' WHERE seq = 1")
        rewrite_plain(settings, from_seq=1)  # entries 1-3 and the head
        v = await _verify(client, tokens)  # the checkpoint made at start signed entry 2
        assert (v.ok, v.first_bad_seq) == (False, 2)
        assert "not the one a checkpoint signed" in v.problem
        _checkpoint_file(server).unlink()
        v = await _verify(client, tokens)  # without it, the first keyed link still holds
        assert (v.ok, v.first_bad_seq) == (False, 3)
        assert v.problem == "entry content does not match its keyed hash"
    finally:
        await channel.close()
        await server.stop(0)


async def test_checkpoints_sent_are_bounded(client: AccountsClient, tokens: Tokens) -> None:
    many = [common_pb2.AuditCheckpoint(service="accounts", seq=1)] * 10_001
    err = await expect_error(_verify_with(client, tokens, many), grpc.StatusCode.INVALID_ARGUMENT)
    assert bad_fields(err) == ["checkpoints"]
    # Another service's checkpoints are not this one's to check.
    other = common_pb2.AuditCheckpoint(service="sites", seq=7, mac="forged")
    assert (await _verify_with(client, tokens, [other])).ok


async def test_the_head_is_checkpointed_as_it_moves(
    serve: Callable[..., Awaitable[RunningServer]],
    tokens: Tokens,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every NETNET_AUDIT_CHECKPOINT_SECONDS, when the head moved: a signed line in the file
    under NETNET_AUDIT_CHECKPOINT_DIR, and the same in the log."""
    kept = tmp_path / "kept"
    server = await serve(SPEC, audit_checkpoint_seconds=0.02, audit_checkpoint_dir=kept)
    channel = await channel_to(server.port)
    try:
        client = AccountsClient(channel=channel, token="")
        md = tokens("cac")
        await record(client, md, action("r1", "u1"))
        await record(client, md, action("r2", "u2"))
        path = kept / "accounts.audit-checkpoints.jsonl"
        for _ in range(500):
            lines = path.read_text().splitlines() if path.exists() else []
            if lines and json.loads(lines[-1])["seq"] == 2:
                break
            await asyncio.sleep(0.02)
        head = (await _entries(client, tokens))[-1]
    finally:
        await channel.close()
    last = json.loads(lines[-1])
    assert (last["service"], last["seq"], last["hash"], last["keyed_from"]) == (
        "accounts",
        2,
        head.hash,
        1,
    )
    assert len(last["mac"]) == 64
    assert len({json.loads(line)["seq"] for line in lines}) == len(lines)  # only as it moves
    logged = capsys.readouterr().out.splitlines()
    assert any("audit checkpoint" in line and last["mac"] in line for line in logged)
