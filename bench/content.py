"""Bulk content: ImportDispositions into a real sites server against bare executemany."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from bench import servers
from bench.importing import STREAM_TIMEOUT, ImportResult, Rate, _fresh
from netnet.client import SitesClient
from netnet.sites.v1 import sites_pb2 as pb
from services.common.auth import ensure_key, issue_token
from services.common.hashing import hash64
from services.common.storage import SqliteConn
from services.common.storage.migrations import RUNTIME_MIGRATIONS, apply_migrations
from services.sites.__main__ import SPEC

DEPARTMENT = "cac"
PLATFORMS = ("weibo.com", "douyin.com", "bilibili.com", "kuaishou.com", "qq.com")
CATEGORIES = ("vulgar", "obscene", "harmful_to_minors", "illegal_publication")
INSERT = (
    "INSERT INTO dispositions (request_key, body_hash, content_key, id, site_id, request_id, "
    "locator, content_sha256, perceptual_hash, category, measure, handler, department, "
    f"campaign_id, special_action, actor, effective_us, record_us) VALUES ({','.join('?' * 18)})"
)
SITE_INSERT = (
    "INSERT INTO sites (ident_key, id, kind, identifier, display_name, operator_entity, "
    "icp_filing, region, status, due_us, notice_action_id, first_action_us, last_action_us, "
    "action_count, revision) VALUES (?,?,1,?,'','','','',1,NULL,NULL,NULL,NULL,0,1)"
)


def records(n: int, now_us: int) -> list[pb.DispositionInput]:
    out = []
    for i in range(n):
        ts = Timestamp()
        ts.FromMicroseconds(now_us - (i % 86_400) * 1_000_000)
        out.append(
            pb.DispositionInput(
                request_id=f"bench-content-{i}",
                site=pb.SiteRef(
                    kind=pb.SITE_KIND_WEBSITE, identifier=PLATFORMS[i % len(PLATFORMS)]
                ),
                locator=f"https://{PLATFORMS[i % len(PLATFORMS)]}/item/{i}",
                content_sha256=hashlib.sha256(f"item-{i}".encode()).hexdigest(),
                category=CATEGORIES[i % len(CATEGORIES)],
                measure=pb.MEASURE_DELETE,
                handler=pb.HANDLER_PLATFORM if i % 10 else pb.HANDLER_DIRECT,
                department=DEPARTMENT,
                campaign_id="bench",
                effective_time=ts,
            )
        )
    return out


def bare_executemany(path: Path, items: list[pb.DispositionInput], batch: int, now_us: int) -> Rate:
    """The same rows into a fresh database with the same schema: sites made once, one
    transaction per batch, ids and keys precomputed, no rules, no counters."""
    sites = {p: i + 1 for i, p in enumerate(PLATFORMS)}
    rows = [
        (
            hash64(m.request_id),
            i,
            hash64(m.content_sha256),
            i + 1,
            sites[m.site.identifier],
            m.request_id,
            m.locator,
            m.content_sha256,
            "",
            m.category,
            m.measure,
            m.handler,
            m.department,
            m.campaign_id,
            "",
            "bench",
            m.effective_time.ToMicroseconds(),
            now_us,
        )
        for i, m in enumerate(items)
    ]
    conn = sqlite3.connect(path, isolation_level=None, factory=SqliteConn)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        assert SPEC.migrations is not None
        apply_migrations(conn, [("runtime", RUNTIME_MIGRATIONS), ("sites", SPEC.migrations)])
        conn.executemany(SITE_INSERT, [(hash64(f"1\x1f{p}"), i, p) for p, i in sites.items()])
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, rows[i : i + batch])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return Rate(len(rows), seconds)


async def import_dispositions(data_dir: Path, items: list[pb.DispositionInput], batch: int) -> Rate:
    owner, cases_addr = await servers.campaign_owner(data_dir)
    server = servers.service_process(data_dir, "sites", cases_addr)
    key = ensure_key(servers.key_file(data_dir))
    try:
        port = await server.start()
    except BaseException:
        owner.stop()
        raise
    token = issue_token(key, operator="bench", department=DEPARTMENT, roles=["operator"])
    sites = SitesClient(f"127.0.0.1:{port}", token=token)
    try:
        await sites.channel.channel_ready()
        requests = [
            pb.ImportDispositionsRequest(dispositions=items[i : i + batch])
            for i in range(0, len(items), batch)
        ]
        started = time.perf_counter()
        reply = await sites.import_dispositions(requests, timeout=STREAM_TIMEOUT)
        seconds = time.perf_counter() - started
    finally:
        await sites.close()
        server.stop()
        owner.stop()
    if reply.summary.accepted != len(items):
        raise AssertionError(f"content import was not clean: {reply.summary}")
    return Rate(len(items), seconds)


async def run(workdir: Path, n: int, batch: int = 1000, rounds: int = 1) -> ImportResult:
    now_us = time.time_ns() // 1000
    items = records(n, now_us)
    result = ImportResult([], [], batch)
    for _ in range(rounds):
        baseline, service = _fresh(workdir / "baseline"), _fresh(workdir / "service")
        result.baselines.append(bare_executemany(baseline / "sites.db", items, batch, now_us))
        result.services.append(await import_dispositions(service, items, batch))
    for side in ("baseline", "service"):
        _fresh(workdir / side)
    return result
