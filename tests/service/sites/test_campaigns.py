"""Site actions, content and notice batches checked against their campaign as its owner (the
cases service) states it, and dated by when they happened: a batch published with a past
publish time counts on that day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from netnet.client import SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as pb
from services.common.clock import ManualClock
from tests.service.sites.helpers import (
    BAN,
    action,
    app,
    disposition,
    import_stream,
    record,
    snapshot,
    web,
)
from tests.support.rpc import DAY_US, bad_fields, expect_error, ts
from tests.support.servers import CampaignOwner, Tokens

JUNE = int(datetime(2021, 6, 1, tzinfo=UTC).timestamp() * 1_000_000)
JULY = int(datetime(2021, 7, 1, tzinfo=UTC).timestamp() * 1_000_000)
SEPTEMBER = int(datetime(2021, 9, 1, tzinfo=UTC).timestamp() * 1_000_000)
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def summer(campaign_owner: CampaignOwner) -> str:
    campaign_owner.create("sites-summer", JUNE, SEPTEMBER, ["minors"])
    return "sites-summer"


BAD = [
    ("unknown campaign", {"campaign_id": "nosuch"}, "campaign_id"),
    ("unknown special action", {"special_action": "nosuch"}, "special_action"),
    ("before the campaign", {"effective_us": JUNE - 1}, "effective_time"),
]


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
async def test_a_site_action_its_campaign_refuses_writes_nothing(
    client: SitesClient, tokens: Tokens, summer: str, changes: dict, field: str
) -> None:
    md = tokens("cac")
    before = await snapshot(client, tokens)
    args = {"campaign_id": summer, "special_action": "minors", **changes}
    err = await expect_error(
        record(client, md, action("r1", web("bad.example.com"), BAN, "cac", **args)), INVALID
    )
    assert bad_fields(err) == [f"action.{field}"]
    dispo = disposition("d1", web("bad.example.com"), **args)
    err = await expect_error(
        client.record_disposition(pb.RecordDispositionRequest(disposition=dispo), metadata=md),
        INVALID,
    )
    assert bad_fields(err) == [f"disposition.{field}"]
    assert await snapshot(client, tokens) == before


async def test_a_content_import_rejects_each_record_its_campaign_refuses(
    client: SitesClient, tokens: Tokens, summer: str
) -> None:
    site = web("video.example.com")
    records = [
        disposition("i0", site, campaign_id=summer),
        disposition("i1", site, campaign_id="nosuch"),
        disposition("i2", site, campaign_id=summer, special_action="nosuch"),
        disposition("i3", site, campaign_id=summer, effective_us=SEPTEMBER + DAY_US),
        disposition("i4", site, campaign_id=summer, effective_us=JUNE),
    ]
    reply = await client.import_dispositions(
        import_stream([records[:2], records[2:]]), metadata=tokens("cac")
    )
    assert (reply.summary.accepted, reply.summary.rejected) == (2, 3)
    assert [(r.index, r.field) for r in reply.summary.rejections] == [
        (1, "campaign_id"),
        (2, "special_action"),
        (3, "effective_time"),
    ]


async def test_a_batch_published_in_the_past_counts_on_its_day(
    client: SitesClient, tokens: Tokens, summer: str, clock: ManualClock
) -> None:
    clock.current = SEPTEMBER + 60 * DAY_US  # entered long after
    md = tokens("miit")

    async def batch(rid: str, due_us: int) -> str:
        got = await client.create_notice_batch(
            pb.CreateNoticeBatchRequest(
                request_id=rid,
                batch=pb.NoticeBatch(
                    title="apps",
                    department="miit",
                    category="user_rights",
                    campaign_id=summer,
                    due_time=ts(due_us),
                ),
            ),
            metadata=md,
        )
        await client.add_notice_entries(
            pb.AddNoticeEntriesRequest(
                request_id=f"{rid}-e",
                batch=got.batch.name,
                entries=[pb.NoticeEntry(site=app(f"com.example.{rid}"), problems=["p"])],
            ),
            metadata=md,
        )
        return got.batch.name

    def publish(rid: str, name: str, at: int) -> Any:
        return client.publish_notice_batch(
            pb.PublishNoticeBatchRequest(request_id=rid, name=name, publish_time=ts(at)),
            metadata=md,
        )

    first = await batch("b1", JULY + 20 * DAY_US)
    for at, field in ((JUNE - DAY_US, "publish_time"), (SEPTEMBER + 70 * DAY_US, "publish_time")):
        err = await expect_error(publish("p0", first, at), INVALID)
        assert bad_fields(err) == [field]
    await expect_error(
        publish("p1", first, JULY + 20 * DAY_US),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    published = await publish("p2", first, JULY + 5 * DAY_US)
    assert published.batch.publish_time.ToMicroseconds() == JULY + 5 * DAY_US

    def stats(subject: int, start: int, end: int) -> Any:
        return client.get_stats(
            pb.GetStatsRequest(
                subject=subject,  # type: ignore[arg-type]
                filter=common_pb2.StatsFilter(
                    campaign_id=summer, start_time=ts(start), end_time=ts(end)
                ),
            ),
            metadata=tokens("office"),
        )

    for subject in (pb.STATS_SUBJECT_NOTICE_BATCHES, pb.STATS_SUBJECT_APP_ACTIONS):
        july = await stats(subject, JULY, JULY + 31 * DAY_US)
        assert july.total.count == 1
        now = await stats(subject, clock.current - DAY_US, clock.current + DAY_US)
        assert now.total.count == 0
