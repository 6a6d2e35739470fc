"""An office's SQLite store moved into PostgreSQL (python -m services.copystore, run as a
process): the service started on the copy answers as it did on the file, and writes on."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import AccountsClient, CasesClient, SitesClient
from netnet.client.errors import InvalidArgument
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as spb
from services.accounts.__main__ import SPEC as ACCOUNTS
from services.cases.__main__ import SPEC as CASES
from services.common.server import RunningServer, ServiceSpec
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, apply_migrations
from services.sites.__main__ import SPEC as SITES
from tests.service.accounts import helpers as accounts
from tests.service.cases import helpers as cases
from tests.service.sites import helpers as sites
from tests.support import stores
from tests.support.servers import Tokens, channel_to

ROOT = Path(__file__).resolve().parents[2]
Client = Any  # AccountsClient | SitesClient | CasesClient: the calls used here are common


async def _write_accounts(client: AccountsClient, tokens: Tokens, tag: str) -> None:
    cac = tokens("cac")
    a = await accounts.record(client, cac, accounts.action(f"{tag}1", f"{tag}-u1"))
    await accounts.record(
        client, tokens("mps"), accounts.action(f"{tag}2", f"{tag}-u2", department="mps")
    )
    if tag == "new":
        return
    await accounts.record(
        client, cac, accounts.action(f"{tag}3", f"{tag}-u3", apb.ACTION_TYPE_WARN)
    )
    await client.retract_action(
        apb.RetractActionRequest(request_id=f"{tag}-x", name=a.action.name, reason="mistake"),
        metadata=cac,
    )
    batch = [accounts.action(f"{tag}-i{n}", f"{tag}-u{n}") for n in range(4, 9)]
    await client.import_actions(accounts.stream([batch]), metadata=cac)


async def _write_sites(client: SitesClient, tokens: Tokens, tag: str) -> None:
    miit = tokens("miit")
    here, there = sites.web(f"{tag}-a.example"), sites.web(f"{tag}-b.example")
    await sites.record(client, miit, sites.action(f"{tag}1", here, sites.NOTIFY))
    b = await sites.record(client, miit, sites.action(f"{tag}2", there, sites.BAN))
    await client.record_disposition(
        spb.RecordDispositionRequest(disposition=sites.disposition(f"{tag}-d1", here)),
        metadata=tokens("cac"),
    )
    if tag == "new":
        return
    await client.retract_site_action(
        spb.RetractSiteActionRequest(request_id=f"{tag}-x", name=b.action.name, reason="mistake"),
        metadata=miit,
    )


async def _write_cases(client: CasesClient, tokens: Tokens, tag: str) -> None:
    mps = tokens("mps")
    case = await cases.create_case(
        client, mps, f"{tag}-c", cases.case_msg(f"{tag}·1", campaign_id="")
    )
    party = await cases.add_party(client, mps, f"{tag}-p", case.name, "Zhang San")
    if tag == "new":
        return
    await client.record_measure(
        cpb.RecordMeasureRequest(
            request_id=f"{tag}-m", party=party.name, measure=cpb.MEASURE_CRIMINAL_DETENTION
        ),
        metadata=mps,
    )
    await cases.transition(client, mps, f"{tag}-t", case.name, cpb.CASE_STATE_INVESTIGATING)


@dataclass(frozen=True)
class Service:
    spec: ServiceSpec
    client: type[Any]
    subjects: Any  # the service's StatsSubject enum
    write: Callable[[Any, Tokens, str], Awaitable[None]]


SERVICES = {
    "accounts": Service(ACCOUNTS, AccountsClient, apb.StatsSubject, _write_accounts),
    "sites": Service(SITES, SitesClient, spb.StatsSubject, _write_sites),
    "cases": Service(CASES, CasesClient, cpb.StatsSubject, _write_cases),
}


@dataclass(frozen=True)
class Seen:
    """What the service answers: its figures, its audit entries, its chain's verification."""

    figures: list[object]
    entries: list[common_pb2.AuditEntry]
    verification: common_pb2.AuditVerification


async def _seen(service: Service, client: Client, tokens: Tokens) -> Seen:
    md = tokens("office", "auditor", "analyst")
    figures: list[object] = []
    for subject in service.subjects.values():
        for group_by in ([], [common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_ACTION]):
            try:
                figures.append(
                    await client.get_stats(subject=subject, group_by=group_by, metadata=md)
                )
            except InvalidArgument as e:  # no subject: the services that ask for one
                figures.append(str(e))
    entries = await (await client.list_audit_entries(page_size=1000, metadata=md)).all()
    verification = (await client.verify_audit_chain(metadata=md)).verification
    return Seen(figures, entries, verification)


def copystore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.copystore", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _change_log(url: str, schema: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT COUNT(*), MAX(seq) FROM {schema}.change_log").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _schema_exists(url: str, schema: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone()
    return row is not None and row[0] is not None


@pytest.mark.parametrize("name", SERVICES)
async def test_a_copy_answers_as_the_file_did_and_writes_on(  # type: ignore[no-untyped-def]
    name: str, serve, tokens: Tokens, postgresql_database: stores.SessionDatabase
) -> None:
    service = SERVICES[name]
    on_file: RunningServer = await serve(service.spec)
    channel = await channel_to(on_file.port)
    await service.write(service.client(channel=channel, token=""), tokens, "old")
    before = await _seen(service, service.client(channel=channel, token=""), tokens)
    await channel.close()
    assert before.verification.ok and before.entries
    await on_file.stop(0)
    settings = on_file.runtime.settings

    schema = f"copy_{secrets.token_hex(4)}_{name}"
    target = f"{postgresql_database.url}?schema={schema}"
    done = await asyncio.to_thread(copystore, name, str(settings.database_path), target)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "rows: equal in every table" in out and "audit chain: verifies on PostgreSQL" in out
    assert f"head seq {before.entries[-1].seq} hash {before.entries[-1].hash[:16]}" in out
    assert "change_log.seq: goes on after" in out
    again = await asyncio.to_thread(copystore, name, str(settings.database_path), target)
    assert again.returncode == 1 and "the target schema is not empty" in again.stderr
    count, last = _change_log(postgresql_database.url, schema)

    # The same data directory (audit key, checkpoints, signing key), the copy as the store.
    on_pg: RunningServer = await serve(
        service.spec, database_url=postgresql_database.url, database_schema=schema
    )
    assert on_pg.runtime.db.backend.name.endswith(f"schema {schema}")
    channel = await channel_to(on_pg.port)
    client = service.client(channel=channel, token="")
    after = await _seen(service, client, tokens)
    # The checkpoints the service signed on SQLite verify against the copy too.
    assert after.verification.newest_checkpoint_seq == before.entries[-1].seq
    assert after.verification.checkpoints_checked > before.verification.checkpoints_checked
    for seen in (before, after):
        seen.verification.ClearField("checkpoints_checked")
        seen.verification.ClearField("newest_checkpoint_seq")
    assert after == before
    await service.write(client, tokens, "new")  # ids and the change feed's seq go on
    more = await _seen(service, client, tokens)
    await channel.close()
    assert more.verification.ok, more.verification.problem
    assert more.entries[: len(before.entries)] == before.entries
    assert [e.seq for e in more.entries] == list(range(1, len(more.entries) + 1))
    assert more.figures != before.figures
    grown, newest = _change_log(postgresql_database.url, schema)
    assert grown > count and newest == last + grown - count


def _store_with_runtime_only(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None, factory=SqliteConn)
    apply_migrations(conn, [("runtime", RUNTIME_MIGRATIONS)])
    conn.close()


def test_refuses_a_store_not_up_to_date_and_a_missing_file(
    tmp_path: Path, postgresql_database: stores.SessionDatabase
) -> None:
    schema = f"copy_{secrets.token_hex(4)}_refused"
    target = f"{postgresql_database.url}?schema={schema}"
    key = tmp_path / "audit.key"
    key.write_text(secrets.token_hex(32))
    store = tmp_path / "accounts.db"
    _store_with_runtime_only(store)

    stale = copystore("accounts", str(store), target)
    assert stale.returncode == 1, stale.stderr
    assert "accounts/0001_accounts.sql" in stale.stderr
    assert "start the service once on this file to bring it up to date" in stale.stderr
    assert stale.stderr.count("\n") == 1

    missing = copystore("accounts", str(tmp_path / "nothing.db"), target)
    assert missing.returncode == 2 and "no such file" in missing.stderr

    other = copystore("sites", str(store), target)  # runtime only: not a sites store either
    assert other.returncode == 1 and "sites/0001_sites.sql" in other.stderr

    unkeyed = copystore("accounts", str(store), target, "--audit-key-file", str(tmp_path / "k"))
    assert unkeyed.returncode == 2 and "no audit key" in unkeyed.stderr

    not_pg = copystore("accounts", str(store), "sqlite:///elsewhere.db")
    assert not_pg.returncode == 2 and "not a postgresql:// URL" in not_pg.stderr
    assert not _schema_exists(postgresql_database.url, schema)  # refused before touching it
