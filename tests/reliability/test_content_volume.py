"""A million content dispositions imported through client streams into a real in-process sites
server: exact accepted / duplicate / rejected counts, rejections in stream order, and CONTENT
statistics equal to a brute-force count kept while the streams were generated.

Two departments import half each, one stream after the other (two streams at once are no
faster: the server's per-item work is Python under one GIL), in batches of 5,000 items per
message built lazily, with a few invalid and a few repeated items mixed in."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.importer import MAX_REJECTIONS
from services.sites.__main__ import SPEC
from tests.support.servers import Tokens, channel_to

pytestmark = pytest.mark.slow

TOTAL = 1_000_000
BATCH = 5_000
SITES = 20_000  # distinct hosts / packages the items are spread over
DEPARTMENTS = ("cac", "mct")  # department k imports items [k * TOTAL/2, (k+1) * TOTAL/2)
MEASURES = {
    pb.MEASURE_DELETE: "delete",
    pb.MEASURE_BLOCK: "block",
    pb.MEASURE_DOWN_RANK: "down_rank",
    pb.MEASURE_LABEL: "label",
}
HANDLERS = {pb.HANDLER_DIRECT: "direct", pb.HANDLER_PLATFORM: "platform"}
CATEGORIES = ("obscene", "vulgar", "illegal_publication", "copyright", "harmful_to_minors")
CAMPAIGNS = (("", ""), ("netnet-2021", ""), ("netnet-2021", "summer-minors"))
# Invalid items, by item number, and the field each must be rejected on.
INVALID = {
    7: "content_sha256",
    123_456: "site.identifier",
    333_333: "category",
    500_001: "locator",
    654_321: "measure",
    777_777: "special_action",
    999_999: "handler",
}
# Items sent a second time, unchanged, right after the original (same request id): duplicates.
REPEATED = (10, 250_000, 875_000)


@dataclass
class Generated:
    """What one stream held, counted while it was generated (the brute-force model)."""

    sent: int = 0
    valid: int = 0
    repeats: int = 0
    by_key: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # dept, action, cat
    rejected_at: list[tuple[int, str]] = field(default_factory=list)  # (stream index, field)


def item(i: int, department: str) -> pb.DispositionInput:
    n = (i * 7_919) % SITES
    campaign, special = CAMPAIGNS[(i // 8) % len(CAMPAIGNS)]
    if n % 3:
        site = pb.SiteRef(kind=pb.SITE_KIND_WEBSITE, identifier=f"s{n}.example.cn")
        locator = f"https://s{n}.example.cn/p/{i}"
    else:
        site = pb.SiteRef(kind=pb.SITE_KIND_APP, identifier=f"cn.example.app{n}")
        locator = f"app://cn.example.app{n}/item/{i}"
    # One item in ten re-uploads the content of the item five before it (re-upload detection).
    content = i - 5 if i % 10 == 0 and i else i
    d = pb.DispositionInput(
        request_id=f"v{i}",
        site=site,
        locator=locator,
        content_sha256=hashlib.sha256(content.to_bytes(8, "big")).hexdigest(),
        category=CATEGORIES[(i // 16) % len(CATEGORIES)],
        measure=pb.MEASURE_DELETE + i % 4,  # type: ignore[arg-type]
        handler=pb.HANDLER_DIRECT + (i // 4) % 2,  # type: ignore[arg-type]
        department=department,
        campaign_id=campaign,
        special_action=special,
    )
    bad = INVALID.get(i)
    if bad == "content_sha256":
        d.content_sha256 = d.content_sha256.upper()
    elif bad == "site.identifier":
        d.site.identifier = "exa mple.com"
    elif bad == "category":
        d.category = "no-such-category"
    elif bad == "locator":
        d.locator = "https://x.example.cn/" + "a" * 2048
    elif bad == "measure":
        d.measure = pb.MEASURE_UNSPECIFIED
    elif bad == "special_action":
        d.campaign_id, d.special_action = "", "summer-minors"
    elif bad == "handler":
        d.handler = pb.HANDLER_UNSPECIFIED
    return d


async def stream(
    department: str, first: int, end: int, g: Generated
) -> AsyncIterator[pb.ImportDispositionsRequest]:
    """Items first..end-1 in batches of BATCH, each built only when gRPC asks for it."""
    batch: list[pb.DispositionInput] = []
    for i in range(first, end):
        d = item(i, department)
        for copy in range(2 if i in REPEATED else 1):
            batch.append(d)
            if i in INVALID:
                g.rejected_at.append((g.sent, INVALID[i]))
            elif copy:
                g.repeats += 1
            else:
                g.valid += 1
                g.by_key[
                    (department, f"{HANDLERS[d.handler]}:{MEASURES[d.measure]}", d.category)
                ] += 1
            g.sent += 1
            if len(batch) == BATCH:
                yield pb.ImportDispositionsRequest(dispositions=batch)
                batch = []
    if batch:
        yield pb.ImportDispositionsRequest(dispositions=batch)


async def test_import_one_million_dispositions(serve, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    server = await serve(SPEC)
    channel = await channel_to(server.port)
    client = SitesClient(channel=channel, token="")
    half = TOTAL // len(DEPARTMENTS)
    models = [Generated() for _ in DEPARTMENTS]

    started = time.perf_counter()
    responses = [
        await client.import_dispositions(
            stream(dept, k * half, (k + 1) * half, models[k]),
            metadata=tokens(dept),
            timeout=600,
        )
        for k, dept in enumerate(DEPARTMENTS)
    ]
    elapsed = time.perf_counter() - started
    sent = sum(g.sent for g in models)
    print(f"\nimported {sent:,} items in {elapsed:.1f}s ({sent / elapsed:,.0f} items/s)")

    assert sent == TOTAL + len(REPEATED)
    assert sum(g.valid for g in models) == TOTAL - len(INVALID)
    for g, resp in zip(models, responses, strict=True):
        s = resp.summary
        assert g.rejected_at and g.repeats  # each stream has both invalid and repeated items
        assert (s.accepted, s.duplicates, s.rejected) == (g.valid, g.repeats, len(g.rejected_at))
        assert s.batches == -(-g.sent // BATCH)
        # Rejections in stream order, each naming its field; no per-item results past 10,000.
        assert len(g.rejected_at) < MAX_REJECTIONS
        assert [(r.index, r.field) for r in s.rejections] == g.rejected_at
        assert all(r.request_id.startswith("v") and r.reason for r in s.rejections)
        assert list(resp.results) == []

    expected: Counter[tuple[str, str, str]] = Counter()
    for g in models:
        expected.update(g.by_key)
    md = tokens("office", "analyst")
    dims = [common_pb2.DIMENSION_DEPARTMENT, common_pb2.DIMENSION_ACTION]
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_CONTENT, group_by=dims), metadata=md
    )
    by_action: Counter[tuple[str, str]] = Counter()
    for (dept, action, _), n in expected.items():
        by_action[(dept, action)] += n
    assert {(r.department, r.action): r.count for r in stats.rows} == dict(by_action)
    assert stats.total.count == TOTAL - len(INVALID)
    assert not stats.total.HasField("distinct_subjects")  # content has no subjects to count

    by_category = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_CONTENT,
            group_by=[common_pb2.DIMENSION_CATEGORY],
            filter=common_pb2.StatsFilter(departments=[DEPARTMENTS[1]]),
        ),
        metadata=md,
    )
    want_category: Counter[str] = Counter()
    for (dept, _, category), n in expected.items():
        if dept == DEPARTMENTS[1]:
            want_category[category] += n
    assert {r.category: r.count for r in by_category.rows} == dict(want_category)
    assert by_category.total.count == models[1].valid

    # A re-uploaded item is found by its hash with both of its dispositions.
    sha = item(20, "").content_sha256  # item 20 re-uploads item 15's content
    assert sha == item(15, "").content_sha256
    found = (
        await client.lookup_content_hash(
            pb.LookupContentHashRequest(content_sha256=sha), metadata=md
        )
    ).response
    assert sorted(d.request_id for d in found.dispositions) == ["v15", "v20"]
    assert list(found.departments) == [DEPARTMENTS[0]]
    await channel.close()
