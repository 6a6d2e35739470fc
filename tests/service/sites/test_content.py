"""Content dispositions: recorded singly and by client-streaming import with per-item results,
and re-upload detection by content hash across departments."""

from __future__ import annotations

import grpc

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.importer import MAX_BATCH
from tests.service.sites.helpers import (
    app,
    disposition,
    import_stream,
    snapshot,
    wait_for_event,
    web,
)
from tests.support.rpc import Metadata, bad_fields, connected, error_reason, expect_error, sha
from tests.support.servers import START_US, Tokens


async def put(
    client: SitesClient, md: Metadata, d: pb.DispositionInput
) -> pb.RecordDispositionResponse:
    return await client.record_disposition(pb.RecordDispositionRequest(disposition=d), metadata=md)


async def test_record_a_disposition(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("cac")
    d = disposition(
        "d1",
        web("https://Video.Example.com/watch?v=1"),
        "clip-1",
        measure=pb.MEASURE_BLOCK,
        handler=pb.HANDLER_PLATFORM,
        campaign_id="netnet-2021",
        special_action="summer-minors",
        perceptual_hash="0123456789abcdef",
        effective_us=START_US - 3_600_000_000,
    )
    r = await put(client, md, d)
    x = r.disposition
    assert not r.duplicate and r.earlier_count == 0
    assert x.name.startswith(f"{x.site}/dispositions/")
    assert (x.locator, x.content_sha256, x.perceptual_hash) == (
        d.locator,
        sha("clip-1"),
        "0123456789abcdef",
    )
    assert (x.measure, x.handler, x.department, x.actor, x.request_id) == (
        pb.MEASURE_BLOCK,
        pb.HANDLER_PLATFORM,
        "cac",
        "tester",
        "d1",
    )
    assert (x.campaign_id, x.special_action, x.category) == (
        "netnet-2021",
        "summer-minors",
        "obscene",
    )
    assert x.effective_time.ToMicroseconds() == START_US - 3_600_000_000
    assert x.record_time.ToMicroseconds() == START_US
    # The site is created on first sight (canonical host), and stays active.
    site = (await client.get_site(pb.GetSiteRequest(name=x.site), metadata=md)).site
    assert (site.identifier, site.kind, site.status) == (
        "video.example.com",
        pb.SITE_KIND_WEBSITE,
        pb.SITE_STATUS_ACTIVE,
    )
    stats = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_CONTENT,
            group_by=[common_pb2.DIMENSION_ACTION, common_pb2.DIMENSION_SPECIAL_ACTION],
        ),
        metadata=md,
    )
    assert [(s.action, s.special_action, s.count) for s in stats.rows] == [
        ("platform:block", "summer-minors", 1)
    ]


async def test_reupload_found_across_departments(client: SitesClient, tokens: Tokens) -> None:
    cac, mps, nppa = tokens("cac"), tokens("mps"), tokens("nppa")
    first = await put(client, cac, disposition("c1", web("a.example.com"), "same-video", "cac"))
    # The same content re-uploaded elsewhere, dealt with by another department.
    again = await put(client, mps, disposition("m1", app("com.example.video"), "same-video", "mps"))
    assert again.earlier_count == 1
    third = await put(client, mps, disposition("m2", web("b.example.com"), "same-video", "mps"))
    assert third.earlier_count == 2
    other = await put(client, nppa, disposition("n1", web("a.example.com"), "other", "nppa"))
    assert other.earlier_count == 0

    found = (
        await client.lookup_content_hash(
            pb.LookupContentHashRequest(content_sha256=sha("same-video")), metadata=nppa
        )
    ).response
    assert [d.name for d in found.dispositions] == [
        first.disposition.name,
        again.disposition.name,
        third.disposition.name,
    ]
    assert list(found.departments) == ["cac", "mps"]
    # Upper-case hex finds the same; pages are stable.
    upper = (
        await client.lookup_content_hash(
            pb.LookupContentHashRequest(content_sha256=sha("same-video").upper(), page_size=2),
            metadata=nppa,
        )
    ).response
    assert [d.name for d in upper.dispositions] == [first.disposition.name, again.disposition.name]
    rest = (
        await client.lookup_content_hash(
            pb.LookupContentHashRequest(
                content_sha256=sha("same-video"), page_size=2, page_token=upper.next_page_token
            ),
            metadata=nppa,
        )
    ).response
    assert [d.name for d in rest.dispositions] == [third.disposition.name]
    assert not rest.next_page_token
    none = (
        await client.lookup_content_hash(
            pb.LookupContentHashRequest(content_sha256=sha("never")), metadata=nppa
        )
    ).response
    assert list(none.dispositions) == [] and list(none.departments) == []


async def test_perceptual_hash_lookup(client: SitesClient, tokens: Tokens) -> None:
    cac, mps = tokens("cac"), tokens("mps")
    await put(
        client,
        cac,
        disposition("c1", web("a.example.com"), "v1", perceptual_hash="00ff00ff00ff00ff"),
    )
    await put(
        client,
        mps,
        disposition("m1", web("b.example.com"), "v2", "mps", perceptual_hash="00ff00ff00ff00ff"),
    )
    await put(client, mps, disposition("m2", web("c.example.com"), "v3", "mps"))
    found = (
        await client.lookup_content_hash(
            pb.LookupContentHashRequest(perceptual_hash="00FF00FF00FF00FF"), metadata=cac
        )
    ).response
    assert [d.request_id for d in found.dispositions] == ["c1", "m1"]
    assert list(found.departments) == ["cac", "mps"]
    for bad in (
        pb.LookupContentHashRequest(),
        pb.LookupContentHashRequest(content_sha256=sha("x"), perceptual_hash="00ff00ff00ff00ff"),
        pb.LookupContentHashRequest(content_sha256="abc"),
        pb.LookupContentHashRequest(perceptual_hash="00ff"),
    ):
        err = await expect_error(
            client.lookup_content_hash(bad, metadata=cac), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert bad_fields(err)


async def test_record_disposition_is_idempotent(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("cac")
    d = disposition("d1", web("a.example.com"), "x")
    first = await put(client, md, d)
    again = await put(client, md, d)
    assert again.duplicate and again.disposition == first.disposition
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_CONTENT), metadata=md
    )
    assert stats.total.count == 1
    before = await snapshot(client, tokens)
    changed = disposition("d1", web("a.example.com"), "x", measure=pb.MEASURE_LABEL)
    err = await expect_error(put(client, md, changed), grpc.StatusCode.INVALID_ARGUMENT)
    assert error_reason(err) == "REQUEST_ID_REUSED"
    assert [f.rsplit(".", 1)[-1] for f in bad_fields(err)] == ["request_id"]
    assert await snapshot(client, tokens) == before


async def test_import_reports_every_item(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("cac")
    site = web("a.example.com")
    earlier = await put(client, md, disposition("u1", site, "u1"))
    long_locator = "https://a.example.com/" + "x" * 2048
    batches = [
        [
            disposition("i0", site, "i0"),  # 0 accepted
            disposition("i1", site, "i1", locator=long_locator),  # 1 bad locator
            disposition("u1", site, "u1"),  # 2 duplicate of the unary record
            disposition("i3", web("exa mple.com"), "i3"),  # 3 bad host
            disposition("i0", site, "i0"),  # 4 duplicate within the stream
        ],
        [
            disposition("i0", site, "changed"),  # 5 request id reused for another body
            disposition("i6", app("com.example.a"), "i6", measure=pb.MEASURE_UNSPECIFIED),  # 6
            disposition("i7", app("com.example.a"), "i7", handler=pb.HANDLER_PLATFORM),  # 7 ok
        ],
        [],  # an empty message is a batch with nothing in it
        [disposition("i8", site, "i8", campaign_id="", special_action="summer")],  # 8
    ]
    resp = await client.import_dispositions(import_stream(batches), metadata=md)
    s = resp.summary
    assert (s.accepted, s.duplicates, s.rejected, s.batches) == (2, 2, 5, 4)
    assert [(r.index, r.field) for r in s.rejections] == [
        (1, "locator"),
        (3, "site.identifier"),
        (5, "request_id"),  # refused by the write, before 6 (refused by validation)
        (6, "measure"),
        (8, "special_action"),
    ]
    results = {r.index: r for r in resp.results}
    assert sorted(results) == list(range(9)), "one result per item"
    for index, r in results.items():
        assert r.request_id == {2: "u1", 4: "i0", 5: "i0"}.get(index, f"i{index}"), r
    accepted = [results[0], results[7]]
    for r in accepted:
        assert r.name.startswith("sites/") and "/dispositions/" in r.name
        assert not r.duplicate and not r.field and not r.reason
    assert results[2].duplicate and results[2].name == earlier.disposition.name
    assert results[4].duplicate and results[4].name == results[0].name
    for index, field in (
        (1, "locator"),
        (3, "site.identifier"),
        (5, "request_id"),
        (6, "measure"),
        (8, "special_action"),
    ):
        assert results[index].field == field and results[index].reason, results[index]
        assert not results[index].name and not results[index].duplicate

    stats = await client.get_stats(
        pb.GetStatsRequest(
            subject=pb.STATS_SUBJECT_CONTENT, group_by=[common_pb2.DIMENSION_ACTION]
        ),
        metadata=md,
    )
    assert [(x.action, x.count) for x in stats.rows] == [
        ("direct:delete", 2),
        ("platform:delete", 1),
    ]


async def test_import_changes_and_audit(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("cac")
    # The generated stub: the import must wait until the watch is listening.
    watch = client.stub.WatchChanges(pb.WatchChangesRequest(from_end=True), metadata=md)
    async with connected(watch) as changes:
        resp = await client.import_dispositions(
            import_stream(
                [
                    [
                        disposition(f"a{i}", web("a.example.com"), campaign_id="qingfeng")
                        for i in range(3)
                    ],
                    [disposition("b0", web("b.example.com"))],
                ]
            ),
            metadata=md,
        )
        assert resp.summary.accepted == 4
        first, _ = await wait_for_event(
            changes, "dispositions", common_pb2.CHANGE_KIND_BULK_IMPORTED
        )
        second, skipped = await wait_for_event(
            changes, "dispositions", common_pb2.CHANGE_KIND_BULK_IMPORTED
        )
    assert (first.count, first.campaign_id, first.department) == (3, "qingfeng", "cac")
    assert (second.count, second.campaign_id) == (1, "")
    assert all(e.kind == common_pb2.CHANGE_KIND_CREATED for e in skipped)  # new sites
    audit = tokens("office", "auditor")
    entries = (
        await client.list_audit_entries(pb.ListAuditEntriesRequest(), metadata=audit)
    ).response
    imports = [e for e in entries.entries if e.method == "ImportDispositions"]
    assert [e.outcome for e in imports] == [
        "accepted=3 duplicate=0 rejected=0",
        "accepted=1 duplicate=0 rejected=0",
    ]
    assert all(e.department == "cac" and e.operator == "tester" for e in imports)


async def test_import_limits(client: SitesClient, tokens: Tokens) -> None:
    md = tokens("cac")
    before = await snapshot(client, tokens)
    too_many = [disposition(f"x{i}", web("a.example.com")) for i in range(MAX_BATCH + 1)]
    err = await expect_error(
        client.import_dispositions(import_stream([too_many]), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err)
    # A caller without a writer role is refused the stream: nothing written.
    mixed = [
        disposition("y0", web("a.example.com")),
        disposition("y1", web("a.example.com"), department="mps"),
    ]
    await expect_error(
        client.import_dispositions(import_stream([mixed[:1]]), metadata=tokens("cac", "analyst")),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert await snapshot(client, tokens) == before
    empty = await client.import_dispositions(import_stream([]), metadata=md)
    assert (empty.summary.accepted, empty.summary.batches) == (0, 0)


async def test_import_rejects_a_record_in_another_departments_name(
    client: SitesClient, tokens: Tokens
) -> None:
    """Such a record is a rejected row like any other bad row (its index, field
    `department`); the rest of the stream is written. A unary write stays refused."""
    md = tokens("cac")
    batches = [
        [disposition(f"z{i}", web("a.example.com")) for i in range(5)],
        [disposition(f"z{i}", web("a.example.com")) for i in range(5, 10)],
    ]
    batches[0][3] = disposition("z3", web("a.example.com"), department="mps")
    batches[1][1] = disposition("z6", web("a.example.com"), department="office")
    reply = await client.import_dispositions(import_stream(batches), metadata=md)
    s = reply.summary
    assert (s.accepted, s.duplicates, s.rejected) == (8, 0, 2)
    assert [(r.index, r.request_id, r.field) for r in s.rejections] == [
        (3, "z3", "department"),
        (6, "z6", "department"),
    ]
    assert "'mps'" in s.rejections[0].reason
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_CONTENT), metadata=tokens("mps", "analyst")
    )
    assert stats.total.count == 8  # nothing recorded in another's name
    before = await snapshot(client, tokens)
    err = await expect_error(
        client.record_disposition(
            pb.RecordDispositionRequest(disposition=batches[0][3]), metadata=md
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error_reason(err) == "WRONG_DEPARTMENT"
    assert await snapshot(client, tokens) == before
