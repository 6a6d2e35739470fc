"""Typical cases: anonymised public summaries, refused when they contain a party's real name
(only the lead office, which sees the names, writes text checked against them; the office
publishes what it vetted), frozen once published, listed by campaign."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from netnet.cases.v1 import cases_pb2 as pb
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
    Campaigns,
    Stub,
    add_party,
    case_msg,
    create_case,
    mask,
    publish_draft,
    regional,
    snapshot,
    vetted_draft,
)
from tests.support.rpc import Metadata, bad_fields, error_reason, expect_error
from tests.support.servers import START_US, Tokens

GOOD = {
    "title": "Quanjiao, Anhui detected the 5·11 case of spreading obscene materials for profit",
    "region": "Quanjiao, Anhui",
    "summary": "The criminal suspect Zhu XX created a pornographic website on his own and "
    "recruited agents to promote it; 江某某 handled the payments.",
    "outcome": "The main criminal suspects Zhu XX, 江某某 and others have been criminally "
    "detained.",
}


async def publish(
    stub: Stub, md: Metadata, request_id: str, case: str, **text: str
) -> pb.TypicalCase:
    fields = {**GOOD, **text}
    return (
        await stub.PublishTypicalCase(
            pb.PublishTypicalCaseRequest(
                request_id=request_id, typical_case=pb.TypicalCase(case=case, **fields)
            ),
            metadata=md,
        )
    ).typical_case


async def _case_with_parties(stub: Stub, tokens: Tokens) -> pb.Case:
    mps = tokens("mps")
    case = await create_case(stub, mps, "c1", case_msg(assisting=["cac"]))
    await add_party(stub, mps, "p1", case.name, "Zhu Dawei", "organiser")
    await add_party(stub, mps, "p2", case.name, "江伟", "payments")
    return case


LEAKS = [
    "Zhu Dawei",
    "zhu dawei",
    "ZHU   DAWEI",
    "ZhuDawei",
    "Dawei",
    "江伟",
]


async def draft(
    stub: Stub, md: Metadata, request_id: str, case: str, **text: str
) -> pb.TypicalCase:
    return await vetted_draft(stub, md, request_id, pb.TypicalCase(case=case, **{**GOOD, **text}))


@pytest.mark.parametrize("field", ["title", "region", "summary", "outcome"])
@pytest.mark.parametrize("leak", LEAKS)
async def test_a_real_name_in_the_lead_offices_text_is_refused(
    stub: Stub, campaigns: Campaigns, tokens: Tokens, field: str, leak: str
) -> None:
    """The lead office sees the real names: it is told which field holds one."""
    case = await _case_with_parties(stub, tokens)
    before = await snapshot(stub, campaigns, tokens)
    text = {field: f"{GOOD[field]} ({leak})"}
    for call in (publish, draft):
        err = await expect_error(
            call(stub, tokens("mps"), "t1", case.name, **text),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(err) == "REAL_NAME_IN_TEXT"
        assert f"typical_case.{field}" in (err.details() or "")
    assert await snapshot(stub, campaigns, tokens) == before


def _answer(err: grpc.aio.AioRpcError) -> tuple[object, ...]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    return err.code(), err.details(), status.SerializeToString() if status else b""


@pytest.mark.parametrize("guess", ["江伟", "Dawei", "Zhu Dawei"])
async def test_a_guessed_name_gets_no_answer(
    stub: Stub, campaigns: Campaigns, tokens: Tokens, guess: str
) -> None:
    """Offices that see only 江某某 and Zhu XX submit no text that is compared with the real
    names: a right guess and a wrong one get the same answer, and nothing is written."""
    case = await _case_with_parties(stub, tokens)
    wrong = {"江伟": "江明华", "Dawei": "Minghua", "Zhu Dawei": "Zhu Minghua"}[guess]
    before = await snapshot(stub, campaigns, tokens)
    for md in (
        tokens("office"),  # sees the case, masked
        tokens("cac"),  # assisting
        regional(tokens, "mps", "110000"),  # the lead ministry, another region's office
    ):
        for call in (publish, draft):
            answers = [
                _answer(
                    await expect_error(
                        call(stub, md, f"t-{n}", case.name, summary=f"{name} ran the site"),
                        grpc.StatusCode.PERMISSION_DENIED,
                    )
                )
                for n, name in enumerate((guess, wrong))
            ]
            assert answers[0] == answers[1]
            assert "real name" not in str(answers[0][1])
    assert await snapshot(stub, campaigns, tokens) == before


async def test_publish_anonymised_text(stub: Stub, tokens: Tokens, clock: ManualClock) -> None:
    case = await _case_with_parties(stub, tokens)
    clock.advance(86_400)
    vetted = await draft(stub, tokens("mps", operator="detective"), "d1", case.name)
    assert vetted.state == pb.TYPICAL_CASE_STATE_DRAFT
    assert not vetted.HasField("publish_time") and vetted.published_by == ""
    clock.advance(60)
    t = await publish_draft(stub, tokens("office", operator="press-officer"), "t1", vetted.name)
    assert t.name == vetted.name
    assert t.case == case.name
    assert t.campaign_id == "netnet-2021"
    assert t.state == pb.TYPICAL_CASE_STATE_PUBLISHED
    assert (t.title, t.region, t.summary, t.outcome) == (
        GOOD["title"],
        GOOD["region"],
        GOOD["summary"],
        GOOD["outcome"],
    )
    assert t.publish_time.ToMicroseconds() == START_US + (86_400 + 60) * 1_000_000
    assert t.published_by == "press-officer"
    # A public summary: every department reads it.
    for dept in ("miit", "nppa", "cac"):
        got = (
            await stub.GetTypicalCase(pb.GetTypicalCaseRequest(name=t.name), metadata=tokens(dept))
        ).typical_case
        assert got == t
    # The lead may publish its own text too; the outcome is optional.
    t2 = await publish(stub, tokens("mps"), "t2", case.name, outcome="")
    assert t2.outcome == "" and t2.name != t.name
    assert t2.state == pb.TYPICAL_CASE_STATE_PUBLISHED


async def test_a_draft_is_for_those_who_see_the_case_until_published(
    stub: Stub, campaigns: Campaigns, tokens: Tokens
) -> None:
    case = await _case_with_parties(stub, tokens)
    vetted = await draft(stub, tokens("mps"), "d1", case.name)
    for dept in ("mps", "cac", "office"):  # lead, assisting, coordinating office
        got = await stub.GetTypicalCase(
            pb.GetTypicalCaseRequest(name=vetted.name), metadata=tokens(dept)
        )
        assert got.typical_case == vetted
    for md in (tokens("miit"), regional(tokens, "mps", "110000")):
        await expect_error(
            stub.GetTypicalCase(pb.GetTypicalCaseRequest(name=vetted.name), metadata=md),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    listed = await stub.ListTypicalCases(pb.ListTypicalCasesRequest(), metadata=tokens("mps"))
    assert list(listed.typical_cases) == []
    before = await snapshot(stub, campaigns, tokens)
    # Only the lead office or the coordinating office publishes it, once, as vetted.
    for md in (tokens("cac"), tokens("miit"), regional(tokens, "mps", "110000")):
        err = await expect_error(
            publish_draft(stub, md, "p1", vetted.name), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(err) == "NOT_PUBLISHER"
    err = await expect_error(
        stub.PublishTypicalCase(
            pb.PublishTypicalCaseRequest(
                request_id="p2",
                typical_case=pb.TypicalCase(name=vetted.name, summary="Changed.", title="New"),
            ),
            metadata=tokens("office"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == ["typical_case.title", "typical_case.summary"]
    await expect_error(
        publish_draft(stub, tokens("office"), "p3", "typicalCases/99"), grpc.StatusCode.NOT_FOUND
    )
    assert await snapshot(stub, campaigns, tokens) == before
    published = await publish_draft(stub, tokens("office"), "p4", vetted.name)
    err = await expect_error(
        publish_draft(stub, tokens("mps"), "p5", vetted.name),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "ALREADY_PUBLISHED"
    listed = await stub.ListTypicalCases(pb.ListTypicalCasesRequest(), metadata=tokens("miit"))
    assert list(listed.typical_cases) == [published]


async def test_a_draft_vetted_before_a_party_was_added_is_vetted_again(
    stub: Stub, campaigns: Campaigns, tokens: Tokens
) -> None:
    """The new party's name was not checked against the text: the lead office vets again."""
    mps = tokens("mps")
    case = await _case_with_parties(stub, tokens)
    vetted = await draft(stub, mps, "d1", case.name, summary="Liu XX ran the payments.")
    await add_party(stub, mps, "p3", case.name, "Liu Qiang")
    before = await snapshot(stub, campaigns, tokens)
    err = await expect_error(
        publish_draft(stub, tokens("office"), "t1", vetted.name),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "DRAFT_STALE"
    assert await snapshot(stub, campaigns, tokens) == before
    again = await draft(stub, mps, "d2", case.name, summary="Liu XX ran the payments.")
    assert (await publish_draft(stub, tokens("office"), "t2", again.name)).name == again.name


async def test_only_the_lead_office_publishes_its_own_text(
    stub: Stub, campaigns: Campaigns, tokens: Tokens
) -> None:
    case = await _case_with_parties(stub, tokens)
    before = await snapshot(stub, campaigns, tokens)
    for md in (
        tokens("cac"),
        tokens("miit"),
        tokens("office", "analyst"),
        tokens("mps", "auditor"),
        tokens("office"),  # publishes only a draft the lead office vetted
        regional(tokens, "mps", "110000"),  # not the leading office
    ):
        await expect_error(publish(stub, md, "t1", case.name), grpc.StatusCode.PERMISSION_DENIED)
    assert await snapshot(stub, campaigns, tokens) == before


async def test_published_summaries_are_frozen(
    stub: Stub, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    case = await _case_with_parties(stub, tokens)
    t = await publish(stub, mps, "t1", case.name)
    clock.advance(3600)
    await stub.UpdateCase(
        pb.UpdateCaseRequest(
            request_id="u1",
            case=pb.Case(
                name=case.name,
                etag=case.etag,
                title="Renamed",
                campaign_id="qinglang-2021",
                lead_region="341100",
                facts=pb.CaseFacts(illegal_gains_fen=1),
            ),
            update_mask=mask("title", "campaign_id", "lead_region", "facts"),
        ),
        metadata=mps,
    )
    await add_party(stub, mps, "p3", case.name, "Liu Qiang")
    await stub.TransitionCase(
        pb.TransitionCaseRequest(request_id="s1", name=case.name, state=pb.CASE_STATE_DROPPED),
        metadata=mps,
    )
    got = (
        await stub.GetTypicalCase(pb.GetTypicalCaseRequest(name=t.name), metadata=mps)
    ).typical_case
    assert got == t
    listed = (
        await stub.ListTypicalCases(
            pb.ListTypicalCasesRequest(campaign_id="netnet-2021"), metadata=mps
        )
    ).typical_cases
    assert list(listed) == [t]
    later = (
        await stub.ListTypicalCases(
            pb.ListTypicalCasesRequest(campaign_id="qinglang-2021"), metadata=mps
        )
    ).typical_cases
    assert list(later) == []


async def test_typical_cases_are_listed_by_campaign(stub: Stub, tokens: Tokens) -> None:
    mps = tokens("mps")
    published: dict[str, list[str]] = {"netnet-2021": [], "qinglang-2021": [], "": []}
    for i in range(7):
        campaign = list(published)[i % 3]
        case = await create_case(stub, mps, f"c{i}", case_msg(f"N-{i}", campaign_id=campaign))
        published[campaign].append((await publish(stub, mps, f"t{i}", case.name)).name)

    async def names(campaign: str, page_size: int) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            page = await stub.ListTypicalCases(
                pb.ListTypicalCasesRequest(
                    campaign_id=campaign, page_size=page_size, page_token=token
                ),
                metadata=tokens("nrta"),
            )
            assert len(page.typical_cases) <= page_size
            assert all(t.campaign_id == campaign for t in page.typical_cases if campaign)
            out += [t.name for t in page.typical_cases]
            token = page.next_page_token
            if not token:
                return out

    assert await names("netnet-2021", 2) == published["netnet-2021"]
    assert await names("qinglang-2021", 1) == published["qinglang-2021"]
    assert await names("", 3) == sorted(
        [n for group in published.values() for n in group], key=lambda n: int(n.split("/")[1])
    )
    assert await names("other", 5) == []


@pytest.mark.parametrize(
    ("typical", "fields"),
    [
        (pb.TypicalCase(case="cases/1", region="r", summary="s"), ["typical_case.title"]),
        (pb.TypicalCase(case="cases/1", title="t", summary="s"), ["typical_case.region"]),
        (pb.TypicalCase(case="cases/1", title="t", region="r"), ["typical_case.summary"]),
        (
            pb.TypicalCase(case="cases/1", title="t" * 257, region="r", summary="s"),
            ["typical_case.title"],
        ),
        (
            pb.TypicalCase(case="cases/1", title="t", region="r", summary="s" * 4001),
            ["typical_case.summary"],
        ),
        (pb.TypicalCase(case="case/1", title="t", region="r", summary="s"), ["typical_case.case"]),
        (
            pb.TypicalCase(case="cases/1"),
            ["typical_case.title", "typical_case.region", "typical_case.summary"],
        ),
    ],
)
async def test_bad_typical_cases_are_invalid(
    stub: Stub, campaigns: Campaigns, tokens: Tokens, typical: pb.TypicalCase, fields: list[str]
) -> None:
    await create_case(stub, tokens("mps"), "c1", case_msg())
    before = await snapshot(stub, campaigns, tokens)
    err = await expect_error(
        stub.PublishTypicalCase(
            pb.PublishTypicalCaseRequest(request_id="t1", typical_case=typical),
            metadata=tokens("mps"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == fields
    await expect_error(publish(stub, tokens("mps"), "t2", "cases/99"), grpc.StatusCode.NOT_FOUND)
    await expect_error(
        stub.GetTypicalCase(pb.GetTypicalCaseRequest(name="typicalCases/9"), metadata=tokens()),
        grpc.StatusCode.NOT_FOUND,
    )
    assert await snapshot(stub, campaigns, tokens) == before
