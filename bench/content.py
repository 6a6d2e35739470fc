"""Bulk content: ImportDispositions into a real sites server against a bare write of the
same rows (executemany on SQLite, COPY on PostgreSQL: see backend.py)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from bench import servers
from bench.backend import Backend, Bare, Store, Table, bare_write
from bench.importing import STREAM_TIMEOUT, ImportResult, Rate
from netnet.client import SitesClient
from netnet.client.tokens import ensure_key_pair
from netnet.sites.v1 import sites_pb2 as pb
from services.common.auth import issue_token
from services.common.hashing import hash64
from services.common.storage.migrations import RUNTIME_MIGRATIONS
from services.sites.__main__ import SPEC

DEPARTMENT = "cac"
PLATFORMS = ("weibo.com", "douyin.com", "bilibili.com", "kuaishou.com", "qq.com")
CATEGORIES = ("vulgar", "obscene", "harmful_to_minors", "illegal_publication")
DISPOSITIONS: Table = ("dispositions", ("request_key", "body_hash", "content_key", "id",
    "site_id", "request_id", "locator", "content_sha256", "perceptual_hash", "category",
    "measure", "handler", "department", "campaign_id", "special_action", "actor",
    "effective_us", "record_us"))  # fmt: skip
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


def bare_insert(store: Store, items: list[pb.DispositionInput], batch: int, now_us: int) -> Rate:
    """The same rows into a fresh store with the same schema: sites made once, one
    transaction per batch, ids and keys precomputed, no rules, no counters."""
    sites = {p: i + 1 for i, p in enumerate(PLATFORMS)}
    rows: list[tuple[object, ...]] = [
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
    assert SPEC.migrations is not None
    bare = Bare(
        [("runtime", RUNTIME_MIGRATIONS), ("sites", SPEC.migrations)],
        [[(DISPOSITIONS, rows[i : i + batch])] for i in range(0, len(rows), batch)],
        len(rows),
        [(SITE_INSERT, [(hash64(f"1\x1f{p}"), i, p) for p, i in sites.items()])],
    )
    return Rate(len(rows), bare_write(store, "sites.db", bare))


async def import_dispositions(
    store: Store, items: list[pb.DispositionInput], batch: int, owner_url: str = ""
) -> Rate:
    data_dir = store.directory
    owner, cases_addr = await servers.campaign_owner(data_dir, owner_url)
    server = servers.service_process(data_dir, "sites", cases_addr, database_url=store.url)
    key = ensure_key_pair(servers.key_file(data_dir))
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


async def run(
    workdir: Path, n: int, batch: int = 1000, rounds: int = 1, backend: Backend | None = None
) -> ImportResult:
    backend = backend or Backend()
    now_us = time.time_ns() // 1000
    items = records(n, now_us)
    result = ImportResult([], [], batch, backend=backend.name)
    for _ in range(rounds):
        with backend.fresh(workdir / "baseline", "content_baseline") as baseline:
            result.baselines.append(bare_insert(baseline, items, batch, now_us))
        with backend.fresh(workdir / "service", "content_service") as service:
            owner = backend.database_url("content_campaigns")
            result.services.append(await import_dispositions(service, items, batch, owner))
    return result
