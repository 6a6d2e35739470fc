"""Cases and typical cases dated by when they happened (register time, publish time), within
their campaign; a record naming an unknown campaign or special action is refused naming it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
    add_party,
    case_msg,
    create_campaign,
    create_case,
    snapshot,
    stats,
)
from tests.support.rpc import DAY_US, bad_fields, expect_error, ts
from tests.support.servers import Tokens

OWN_CAMPAIGNS = True  # the tests make the campaigns they name
JUNE, JULY, AUGUST, SEPTEMBER = (
    int(datetime(2021, m, 1, tzinfo=UTC).timestamp() * 1_000_000) for m in (6, 7, 8, 9)
)
TODAY = SEPTEMBER + 70 * DAY_US  # entered after the campaign
INVALID = grpc.StatusCode.INVALID_ARGUMENT
C = "summer-2021"


@pytest.fixture
async def summer(campaigns: CasesClient, tokens: Tokens, clock: ManualClock) -> str:
    clock.current = TODAY
    await create_campaign(
        campaigns,
        tokens("office", "admin"),
        "k1",
        C,
        start_us=JUNE,
        end_us=SEPTEMBER,
        special_actions=[("minors", "Minors")],
    )
    return C


def dated(number: str, at: int | None, **fields: object) -> pb.Case:
    case = case_msg(number, **{"campaign_id": C, **fields})  # type: ignore[arg-type]
    if at is not None:
        case.register_time.CopyFrom(ts(at))
    return case


BAD = [
    ("unknown campaign", dated("1", JULY, campaign_id="nosuch"), "case.campaign_id"),
    ("unknown special action", dated("2", JULY, special_action="nosuch"), "case.special_action"),
    ("before the campaign", dated("3", JUNE - 1), "case.register_time"),
    ("after the campaign", dated("4", SEPTEMBER), "case.register_time"),
    ("in the future", dated("5", TODAY + DAY_US), "case.register_time"),
    ("made today, outside the campaign", dated("6", None), "case.register_time"),
]


@pytest.mark.parametrize(("case", "field"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
async def test_a_case_its_campaign_refuses_writes_nothing(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    summer: str,
    case: pb.Case,
    field: str,
) -> None:
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(create_case(client, tokens("mps"), "c1", case), INVALID)
    assert field in bad_fields(err)
    assert await snapshot(client, campaigns, tokens) == before


async def test_an_update_to_an_unknown_special_action_is_refused(
    client: CasesClient, tokens: Tokens, summer: str
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", dated("1", JULY))
    case.special_action = "nosuch"
    err = await expect_error(
        client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1", case=case, update_mask={"paths": ["special_action"]}
            ),
            metadata=mps,
        ),
        INVALID,
    )
    assert bad_fields(err) == ["case.special_action"]


async def test_a_clue_naming_an_unknown_campaign_is_refused(
    client: CasesClient, tokens: Tokens, summer: str
) -> None:
    for campaign, special, field in (
        ("nosuch", "", "clue.campaign_id"),
        (C, "x", "clue.special_action"),
    ):
        err = await expect_error(
            client.record_clue(
                pb.RecordClueRequest(
                    request_id="r1",
                    clue=pb.Clue(
                        source=pb.CLUE_SOURCE_PUBLIC_REPORT,
                        summary="a report",
                        holder_department="office",
                        category="obscene",
                        campaign_id=campaign,
                        special_action=special,
                    ),
                ),
                metadata=tokens("office"),
            ),
            INVALID,
        )
        assert bad_fields(err) == [field]


async def test_cases_and_typical_cases_count_when_they_happened(
    client: CasesClient, tokens: Tokens, summer: str
) -> None:
    mps, office = tokens("mps"), tokens("office")
    june = await create_case(client, mps, "c1", dated("6·01", JUNE + 3 * DAY_US))
    assert june.register_time.ToMicroseconds() == JUNE + 3 * DAY_US
    assert june.create_time.ToMicroseconds() == TODAY
    await create_case(client, mps, "c2", dated("7·01", JULY + 3 * DAY_US))
    await create_case(
        client, mps, "c3", dated("7·02", JULY + 4 * DAY_US, kind=pb.CASE_KIND_ADMINISTRATIVE)
    )
    suspect = await add_party(client, mps, "p1", june.name, "Zhang Wei")
    await client.record_measure(
        pb.RecordMeasureRequest(
            request_id="m1",
            party=suspect.name,
            measure=pb.MEASURE_CRIMINAL_DETENTION,
            time=ts(AUGUST + DAY_US),
        ),
        metadata=mps,
    )

    def publish(rid: str, at: int | None) -> Any:
        t = pb.TypicalCase(
            case=june.name, title="The 6·01 case", region="Jinhua", summary="Zhang XX"
        )
        if at is not None:
            t.publish_time.CopyFrom(ts(at))
        return client.publish_typical_case(
            pb.PublishTypicalCaseRequest(request_id=rid, typical_case=t), metadata=mps
        )

    for rid, at in (("t0", None), ("t1", JUNE - DAY_US), ("t2", TODAY + DAY_US)):
        err = await expect_error(publish(rid, at), INVALID)
        assert bad_fields(err) == ["typical_case.publish_time"]
    typical = await publish("t3", AUGUST + 10 * DAY_US)
    assert typical.typical_case.publish_time.ToMicroseconds() == AUGUST + 10 * DAY_US

    async def count(subject: pb.StatsSubject.ValueType, start: int, end: int) -> int:
        got = await stats(
            client, office, subject, campaign_id=C, start_time=ts(start), end_time=ts(end)
        )
        return got.total.count

    months = ((JUNE, JULY), (JULY, AUGUST), (AUGUST, SEPTEMBER), (SEPTEMBER, TODAY + DAY_US))
    cases = [await count(pb.STATS_SUBJECT_CASES, a, b) for a, b in months]
    assert cases == [1, 2, 0, 0]
    typical_cases = [await count(pb.STATS_SUBJECT_TYPICAL_CASES, a, b) for a, b in months]
    assert typical_cases == [0, 0, 1, 0]
    measures = [await count(pb.STATS_SUBJECT_MEASURES, a, b) for a, b in months]
    assert measures == [0, 0, 1, 0]
