"""Measures issued in a campaign (a notice, measures, an inspection): recorded once per
request id by an operator or admin of the department that issued them, in its own name and
only in a campaign it takes part in; every bad field named; audited like every cases write;
read by every caller, in the order recorded."""

from __future__ import annotations

import grpc
import pytest

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.client import CasesClient
from services.cases.domain import MeasureIssuedKind
from services.common.clock import ManualClock
from services.common.server import RunningServer
from tests.service.cases.helpers import create_campaign, snapshot, watch
from tests.support.audit import execute
from tests.support.rpc import DAY_US, Metadata, bad_fields, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens

OWN_CAMPAIGNS = True
C = "campaigns/netnet-2021"
PARTICIPANTS = ("cpd", "cac", "miit", "mps", "mct", "nrta", "nppa")
NOTICE = "关于进一步严格管理切实防止未成年人沉迷网络游戏的通知"


def _measure(**fields: object) -> cpb.MeasureIssued:
    values: dict[str, object] = {
        "title": NOTICE,
        "department": "nppa",
        "kind": cpb.MEASURE_ISSUED_KIND_NOTICE,
        "issue_time": ts(START_US - DAY_US),
        "special_action": "minors",
    }
    values.update(fields)
    return cpb.MeasureIssued(**values)  # type: ignore[arg-type]


async def _record(
    client: CasesClient, md: Metadata, request_id: str, parent: str = C, **fields: object
) -> cpb.MeasureIssued:
    reply = await client.record_measure_issued(
        cpb.RecordMeasureIssuedRequest(
            request_id=request_id, parent=parent, measure_issued=_measure(**fields)
        ),
        metadata=md,
    )
    return reply.measure_issued


async def _listed(client: CasesClient, md: Metadata, parent: str = C) -> list[cpb.MeasureIssued]:
    pager = await client.list_measures_issued(parent=parent, metadata=md)
    return await pager.all()  # type: ignore[no-any-return]


@pytest.fixture
async def campaign(campaigns: CasesClient, tokens: Tokens) -> cpb.Campaign:
    admin = tokens("office", "admin")
    await create_campaign(campaigns, admin, "other", "qinglang-2021")  # nppa does not take part
    return await create_campaign(
        campaigns,
        admin,
        "c1",
        participating=PARTICIPANTS,
        special_actions=(("minors", "Minors"), ("fan-circle", "Fan circle")),
    )


async def test_a_department_records_what_it_issued_and_everyone_reads_it(
    client: CasesClient, tokens: Tokens, clock: ManualClock, campaign: cpb.Campaign
) -> None:
    nppa = tokens("nppa", operator="press-officer")
    made = await _record(client, nppa, "m1")
    assert made.name == f"{C}/measuresIssued/1"
    assert (made.title, made.department, made.kind) == (
        NOTICE,
        "nppa",
        cpb.MEASURE_ISSUED_KIND_NOTICE,
    )
    assert made.issue_time.ToMicroseconds() == START_US - DAY_US
    assert (made.special_action, made.recorded_by) == ("minors", "press-officer")
    assert made.create_time.ToMicroseconds() == START_US
    clock.advance(60)
    cac = await _record(
        client,
        tokens("cac", "admin"),
        "m2",
        title="整治“饭圈”乱象十项措施",
        department="cac",
        kind=cpb.MEASURE_ISSUED_KIND_MEASURES,
        special_action="fan-circle",
    )
    inspection = await _record(
        client,
        tokens("miit"),
        "m3",
        title="各类应用软件及平台专项检查",
        department="miit",
        kind=cpb.MEASURE_ISSUED_KIND_INSPECTION,
        special_action="",
    )
    for reader in (tokens("mps", "analyst"), tokens("nrta", "auditor"), tokens("office")):
        assert await _listed(client, reader) == [made, cac, inspection]
    # Pages, in the order recorded.
    first = (
        await client.list_measures_issued(parent=C, page_size=2, metadata=tokens("mps"))
    ).response
    assert list(first.measures_issued) == [made, cac] and first.next_page_token
    rest = (
        await client.list_measures_issued(
            parent=C, page_size=2, page_token=first.next_page_token, metadata=tokens("mps")
        )
    ).response
    assert list(rest.measures_issued) == [inspection] and not rest.next_page_token
    assert await _listed(client, tokens(), "campaigns/qinglang-2021") == []
    # In the change feed, readable by everyone: the campaign's own records.
    changes = await watch(client, tokens("mps"), 0, 5)  # two campaigns, three measures
    assert [c.resource for c in changes][-3:] == [made.name, cac.name, inspection.name]


async def test_a_retry_records_once(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, campaign: cpb.Campaign
) -> None:
    nppa = tokens("nppa")
    first = await _record(client, nppa, "m1")
    before = await snapshot(client, campaigns, tokens)
    assert await _record(client, nppa, "m1") == first
    assert await snapshot(client, campaigns, tokens) == before
    err = await expect_error(
        _record(client, nppa, "m1", title="另一份通知"), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["request_id"]
    assert await _listed(client, nppa) == [first]


@pytest.mark.parametrize(
    ("md", "code", "reason"),
    [
        ([], grpc.StatusCode.UNAUTHENTICATED, ""),
        (("nppa", "analyst"), grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED"),
        (("nppa", "auditor"), grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED"),
        (("nppa", "service"), grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED"),
        (("cac",), grpc.StatusCode.PERMISSION_DENIED, "WRONG_DEPARTMENT"),  # nppa's name
        (("office", "admin"), grpc.StatusCode.PERMISSION_DENIED, "WRONG_DEPARTMENT"),
    ],
)
async def test_only_the_issuing_department_records_it(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    campaign: cpb.Campaign,
    md: tuple[str, ...],
    code: grpc.StatusCode,
    reason: str,
) -> None:
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(_record(client, tokens(*md) if md else [], "m1"), code)
    if reason:
        assert error_reason(err) == reason
    assert await snapshot(client, campaigns, tokens) == before
    assert await _listed(client, tokens("nppa")) == []


@pytest.mark.parametrize(
    ("parent", "fields", "bad"),
    [
        (C, {"title": ""}, ["measure_issued.title"]),
        (C, {"title": "x" * 513}, ["measure_issued.title"]),
        (C, {"kind": cpb.MEASURE_ISSUED_KIND_UNSPECIFIED}, ["measure_issued.kind"]),
        (C, {"issue_time": None}, ["measure_issued.issue_time"]),
        (C, {"special_action": "Not A Slug"}, ["measure_issued.special_action"]),
        (
            "netnet-2021",
            {"title": "", "kind": cpb.MEASURE_ISSUED_KIND_UNSPECIFIED},
            ["parent", "measure_issued.title", "measure_issued.kind"],
        ),
        # Checked against the campaign.
        (C, {"special_action": "summer"}, ["measure_issued.special_action"]),
        (C, {"issue_time": ts(START_US - 40 * DAY_US)}, ["measure_issued.issue_time"]),
        (C, {"issue_time": ts(START_US + 2 * DAY_US)}, ["measure_issued.issue_time"]),  # future
        ("campaigns/qinglang-2021", {}, ["measure_issued.department"]),  # not a participant
    ],
)
async def test_every_bad_field_is_named(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    campaign: cpb.Campaign,
    parent: str,
    fields: dict[str, object],
    bad: list[str],
) -> None:
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        _record(client, tokens("nppa"), "m1", parent, **fields), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == bad
    assert await snapshot(client, campaigns, tokens) == before


async def test_an_unknown_department_or_campaign(
    client: CasesClient, tokens: Tokens, campaign: cpb.Campaign
) -> None:
    err = await expect_error(
        _record(client, tokens("nppa"), "m1", department=""), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["measure_issued.department"]
    await expect_error(
        _record(client, tokens("nppa"), "m1", "campaigns/none"), grpc.StatusCode.NOT_FOUND
    )
    await expect_error(_listed(client, tokens(), "campaigns/none"), grpc.StatusCode.NOT_FOUND)
    err = await expect_error(_listed(client, tokens(), "none"), grpc.StatusCode.INVALID_ARGUMENT)
    assert bad_fields(err) == ["parent"]


async def test_a_record_is_audited_and_an_edit_is_found(
    client: CasesClient, tokens: Tokens, server: RunningServer, campaign: cpb.Campaign
) -> None:
    made = await _record(client, tokens("nppa"), "m1")
    auditor = tokens("office", "auditor")
    entries = (await client.list_audit_entries(page_size=100, metadata=auditor)).response.entries
    (entry,) = [e for e in entries if e.resource == made.name]
    assert (entry.method, entry.department, entry.request_id) == (
        "RecordMeasureIssued",
        "nppa",
        "m1",
    )
    verified = (await client.verify_audit_chain(metadata=auditor)).verification
    assert verified.ok
    execute(server.runtime.settings, "UPDATE measures_issued SET title = 'nothing' WHERE id = 1")
    verified = (await client.verify_audit_chain(metadata=auditor)).verification
    assert not verified.ok and verified.first_bad_seq == entry.seq


def test_the_domain_kinds_are_the_contracts() -> None:
    contract = cpb.MeasureIssuedKind.DESCRIPTOR.values_by_number
    assert {k.name: k.value for k in MeasureIssuedKind} == {
        v.name.removeprefix("MEASURE_ISSUED_KIND_"): n for n, v in contract.items() if n
    }
