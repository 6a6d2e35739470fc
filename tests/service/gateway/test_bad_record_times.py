"""A time a caller sends with a record that no Timestamp may hold (a year past 9999 or before
1, nanos out of 0..999,999,999) is INVALID_ARGUMENT naming its field, in every service, and
writes nothing; in an import it refuses its record only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as campb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as spb
from tests.service.accounts.helpers import action, stream
from tests.service.cases.helpers import case_msg
from tests.service.gateway.conftest import Stack
from tests.support.rpc import bad_fields, expect_error, method_of
from tests.support.servers import Tokens

BAD = [
    Timestamp(seconds=2**63 - 1),
    Timestamp(seconds=-(2**63)),
    Timestamp(seconds=10**12),
    Timestamp(seconds=1_625_097_600, nanos=-1),
    Timestamp(seconds=1_625_097_600, nanos=1_000_000_000),
]


def _site_action(field: str, when: Timestamp) -> spb.RecordSiteActionRequest:
    a = spb.SiteActionInput(
        request_id="s1",
        site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier="bad-time.example.com"),
        action=spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
        category="obscene",
        department="miit",
        problems=["no filing"],
    )
    getattr(a, field).CopyFrom(when)
    return spb.RecordSiteActionRequest(action=a)


def _disposition(when: Timestamp) -> spb.RecordDispositionRequest:
    d = spb.DispositionInput(
        request_id="d1",
        site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier="bad-time.example.com"),
        locator="https://bad-time.example.com/1",
        content_sha256="ab" * 32,
        category="obscene",
        measure=spb.MEASURE_DELETE,
        handler=spb.HANDLER_DIRECT,
        department="miit",
        effective_time=when,
    )
    return spb.RecordDispositionRequest(disposition=d)


def _account_action(field: str, when: Timestamp) -> apb.RecordActionRequest:
    a = action("a1", act=apb.ACTION_TYPE_SUSPEND)
    getattr(a, field).CopyFrom(when)
    return apb.RecordActionRequest(action=a)


def _case(when: Timestamp) -> cpb.CreateCaseRequest:
    c = case_msg(region="330700")
    c.register_time.CopyFrom(when)
    return cpb.CreateCaseRequest(request_id="c1", case=c)


def _campaign(field: str, when: Timestamp) -> campb.CreateCampaignRequest:
    c = campb.Campaign(
        id="bad-time",
        title="t",
        start_time=Timestamp(seconds=1_622_505_600),
        end_time=Timestamp(seconds=1_630_454_400),
        lead_department="office",
    )
    getattr(c, field).CopyFrom(when)
    return campb.CreateCampaignRequest(request_id="k1", campaign=c)


# (stub, method, department writing, the request for a bad time, the field named)
CALLS: list[tuple[str, str, str, Callable[[Timestamp], Any], str]] = [
    (
        "accounts",
        "RecordAction",
        "cac",
        lambda t: _account_action("effective_time", t),
        "action.effective_time",
    ),
    (
        "accounts",
        "RecordAction",
        "cac",
        lambda t: _account_action("suspend_until", t),
        "action.suspend_until",
    ),
    ("sites", "RecordSiteAction", "miit", lambda t: _site_action("due_time", t), "action.due_time"),
    (
        "sites",
        "RecordSiteAction",
        "miit",
        lambda t: _site_action("effective_time", t),
        "action.effective_time",
    ),
    ("sites", "RecordDisposition", "miit", _disposition, "disposition.effective_time"),
    (
        "sites",
        "CreateNoticeBatch",
        "miit",
        lambda t: spb.CreateNoticeBatchRequest(
            request_id="b1",
            batch=spb.NoticeBatch(title="t", department="miit", category="obscene", due_time=t),
        ),
        "batch.due_time",
    ),
    (
        "sites",
        "PublishNoticeBatch",
        "miit",
        lambda t: spb.PublishNoticeBatchRequest(
            request_id="p1", name="noticeBatches/1", publish_time=t
        ),
        "publish_time",
    ),
    ("cases", "CreateCase", "mps", _case, "case.register_time"),
    (
        "cases",
        "RecordMeasure",
        "mps",
        lambda t: cpb.RecordMeasureRequest(
            request_id="m1", party="cases/1/parties/1", measure=cpb.MEASURE_ARREST, time=t
        ),
        "time",
    ),
    (
        "cases",
        "PublishTypicalCase",
        "mps",
        lambda t: cpb.PublishTypicalCaseRequest(
            request_id="t1",
            typical_case=cpb.TypicalCase(
                case="cases/1", title="t", region="r", summary="s", publish_time=t
            ),
        ),
        "typical_case.publish_time",
    ),
    (
        "campaigns",
        "CreateCampaign",
        "office",
        lambda t: _campaign("start_time", t),
        "campaign.start_time",
    ),
    (
        "campaigns",
        "CreateCampaign",
        "office",
        lambda t: _campaign("end_time", t),
        "campaign.end_time",
    ),
]


async def _written(stack: Stack, tokens: Tokens) -> list[int]:
    """Every record count the sources answer: nothing a refused call could have added."""
    md = tokens("office", "analyst")
    accounts = await stack.accounts.get_stats(apb.GetStatsRequest(), metadata=md)
    sites = [
        await stack.sites.get_stats(spb.GetStatsRequest(subject=s), metadata=md)
        for s in (
            spb.STATS_SUBJECT_SITE_ACTIONS,
            spb.STATS_SUBJECT_CONTENT,
            spb.STATS_SUBJECT_NOTICE_BATCHES,
        )
    ]
    cases = (await stack.cases.list_cases(cpb.ListCasesRequest(), metadata=md)).response
    campaigns = (
        await stack.campaigns.list_campaigns(campb.ListCampaignsRequest(), metadata=md)
    ).response
    return [
        accounts.total.count,
        *(s.total.count for s in sites),
        len(cases.cases),
        len(campaigns.campaigns),
    ]


@pytest.mark.parametrize(
    "bad", BAD, ids=["max-seconds", "min-seconds", "year-33658", "nanos-1", "nanos-1e9"]
)
async def test_a_record_time_out_of_range_is_refused_naming_its_field(
    stack: Stack, tokens: Tokens, bad: Timestamp
) -> None:
    before = await _written(stack, tokens)
    for source, method, department, request, field in CALLS:
        roles = ("admin",) if source == "campaigns" else ("operator",)
        md = tokens(department, *roles)
        call = method_of(getattr(stack, source), method)(request(bad), metadata=md)
        err = await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert field in bad_fields(err), (method, field, err.message)
    assert await _written(stack, tokens) == before


async def test_an_import_refuses_only_the_record_with_a_bad_time(
    stack: Stack, tokens: Tokens
) -> None:
    good = [action(f"i{n}", uid=f"i{n}") for n in range(3)]
    bad = action("i-bad", uid="i-bad")
    bad.effective_time.CopyFrom(Timestamp(seconds=2**63 - 1))
    worse = action("i-worse", uid="i-worse")
    worse.effective_time.CopyFrom(Timestamp(seconds=1_625_097_600, nanos=-1))
    reply = await stack.accounts.import_actions(
        stream([[good[0], bad, good[1], worse, good[2]]]), metadata=tokens("cac")
    )
    summary = reply.summary
    assert (summary.accepted, summary.rejected) == (3, 2)
    assert [(r.index, r.field) for r in summary.rejections] == [
        (1, "effective_time"),
        (3, "effective_time"),
    ]
    md = tokens("office", "analyst")
    stats = await stack.accounts.get_stats(apb.GetStatsRequest(), metadata=md)
    assert stats.total.count == 3
    assert isinstance(summary, common_pb2.ImportSummary)
