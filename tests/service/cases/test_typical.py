"""Typical cases: anonymised public summaries, refused when they contain a party's real name
(only the lead office, which sees the names, writes text checked against them; the office
publishes what it vetted), frozen once published, listed by campaign."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
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
    client: CasesClient, md: Metadata, request_id: str, case: str, **text: str
) -> pb.TypicalCase:
    fields = {**GOOD, **text}
    return (
        await client.publish_typical_case(
            pb.PublishTypicalCaseRequest(
                request_id=request_id, typical_case=pb.TypicalCase(case=case, **fields)
            ),
            metadata=md,
        )
    ).typical_case


async def _case_with_parties(client: CasesClient, tokens: Tokens) -> pb.Case:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    await add_party(client, mps, "p1", case.name, "Zhu Dawei", "organiser")
    await add_party(client, mps, "p2", case.name, "江伟", "payments")
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
    client: CasesClient, md: Metadata, request_id: str, case: str, **text: str
) -> pb.TypicalCase:
    return await vetted_draft(client, md, request_id, pb.TypicalCase(case=case, **{**GOOD, **text}))


@pytest.mark.parametrize("field", ["title", "region", "summary", "outcome"])
@pytest.mark.parametrize("leak", LEAKS)
async def test_a_real_name_in_the_lead_offices_text_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, field: str, leak: str
) -> None:
    """The lead office sees the real names: it is told which field holds one."""
    case = await _case_with_parties(client, tokens)
    before = await snapshot(client, campaigns, tokens)
    text = {field: f"{GOOD[field]} ({leak})"}
    for call in (publish, draft):
        err = await expect_error(
            call(client, tokens("mps"), "t1", case.name, **text),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(err) == "REAL_NAME_IN_TEXT"
        assert f"typical_case.{field}" in (err.message or "")
    assert await snapshot(client, campaigns, tokens) == before


async def _answer(
    client: CasesClient, md: Metadata, request_id: str, case: str, publish: bool, summary: str
) -> tuple[object, ...]:
    """The refusal of a publish (or draft) of this summary, whole: made on the generated stub,
    whose error keeps the status with every detail, byte for byte (the SDK's typed error
    keeps its reason and fields only)."""
    typical = pb.TypicalCase(case=case, **{**GOOD, "summary": summary})
    if publish:
        call = client.stub.PublishTypicalCase(
            pb.PublishTypicalCaseRequest(request_id=request_id, typical_case=typical), metadata=md
        )
    else:
        call = client.stub.DraftTypicalCase(
            pb.DraftTypicalCaseRequest(request_id=request_id, typical_case=typical), metadata=md
        )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    err = caught.value
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    return err.code(), err.details(), status.SerializeToString() if status else b""


@pytest.mark.parametrize("guess", ["江伟", "Dawei", "Zhu Dawei"])
async def test_a_guessed_name_gets_no_answer(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, guess: str
) -> None:
    """Offices that see only 江某某 and Zhu XX submit no text that is compared with the real
    names: a right guess and a wrong one get the same answer, and nothing is written."""
    case = await _case_with_parties(client, tokens)
    wrong = {"江伟": "江明华", "Dawei": "Minghua", "Zhu Dawei": "Zhu Minghua"}[guess]
    before = await snapshot(client, campaigns, tokens)
    for md in (
        tokens("office"),  # sees the case, masked
        tokens("cac"),  # assisting
        regional(tokens, "mps", "110000"),  # the lead ministry, another region's office
    ):
        for publishing in (True, False):
            answers = [
                await _answer(client, md, f"t-{n}", case.name, publishing, f"{name} ran the site")
                for n, name in enumerate((guess, wrong))
            ]
            assert answers[0] == answers[1]
            assert "real name" not in str(answers[0][1])
    assert await snapshot(client, campaigns, tokens) == before


async def test_publish_anonymised_text(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    case = await _case_with_parties(client, tokens)
    clock.advance(86_400)
    vetted = await draft(client, tokens("mps", operator="detective"), "d1", case.name)
    assert vetted.state == pb.TYPICAL_CASE_STATE_DRAFT
    assert not vetted.HasField("publish_time") and vetted.published_by == ""
    clock.advance(60)
    t = await publish_draft(client, tokens("office", operator="press-officer"), "t1", vetted.name)
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
            await client.get_typical_case(
                pb.GetTypicalCaseRequest(name=t.name), metadata=tokens(dept)
            )
        ).typical_case
        assert got == t
    # The lead may publish its own text too; the outcome is optional.
    t2 = await publish(client, tokens("mps"), "t2", case.name, outcome="")
    assert t2.outcome == "" and t2.name != t.name
    assert t2.state == pb.TYPICAL_CASE_STATE_PUBLISHED


async def test_a_draft_is_for_those_who_see_the_case_until_published(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    case = await _case_with_parties(client, tokens)
    vetted = await draft(client, tokens("mps"), "d1", case.name)
    for dept in ("mps", "cac", "office"):  # lead, assisting, coordinating office
        got = await client.get_typical_case(
            pb.GetTypicalCaseRequest(name=vetted.name), metadata=tokens(dept)
        )
        assert got.typical_case == vetted
    for md in (tokens("miit"), regional(tokens, "mps", "110000")):
        await expect_error(
            client.get_typical_case(pb.GetTypicalCaseRequest(name=vetted.name), metadata=md),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    listed = (
        await client.list_typical_cases(pb.ListTypicalCasesRequest(), metadata=tokens("mps"))
    ).response
    assert list(listed.typical_cases) == []
    before = await snapshot(client, campaigns, tokens)
    # Only the lead office or the coordinating office publishes it, once, as vetted.
    for md in (tokens("cac"), tokens("miit"), regional(tokens, "mps", "110000")):
        err = await expect_error(
            publish_draft(client, md, "p1", vetted.name), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(err) == "NOT_PUBLISHER"
    err = await expect_error(
        client.publish_typical_case(
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
        publish_draft(client, tokens("office"), "p3", "typicalCases/99"), grpc.StatusCode.NOT_FOUND
    )
    assert await snapshot(client, campaigns, tokens) == before
    published = await publish_draft(client, tokens("office"), "p4", vetted.name)
    err = await expect_error(
        publish_draft(client, tokens("mps"), "p5", vetted.name),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "ALREADY_PUBLISHED"
    listed = (
        await client.list_typical_cases(pb.ListTypicalCasesRequest(), metadata=tokens("miit"))
    ).response
    assert list(listed.typical_cases) == [published]


async def test_a_draft_vetted_before_a_party_was_added_is_vetted_again(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    """The new party's name was not checked against the text: the lead office vets again."""
    mps = tokens("mps")
    case = await _case_with_parties(client, tokens)
    vetted = await draft(client, mps, "d1", case.name, summary="Liu XX ran the payments.")
    await add_party(client, mps, "p3", case.name, "Liu Qiang")
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        publish_draft(client, tokens("office"), "t1", vetted.name),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "DRAFT_STALE"
    assert await snapshot(client, campaigns, tokens) == before
    again = await draft(client, mps, "d2", case.name, summary="Liu XX ran the payments.")
    assert (await publish_draft(client, tokens("office"), "t2", again.name)).name == again.name


async def test_only_the_lead_office_publishes_its_own_text(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    case = await _case_with_parties(client, tokens)
    before = await snapshot(client, campaigns, tokens)
    for md in (
        tokens("cac"),
        tokens("miit"),
        tokens("office", "analyst"),
        tokens("mps", "auditor"),
        tokens("office"),  # publishes only a draft the lead office vetted
        regional(tokens, "mps", "110000"),  # not the leading office
    ):
        await expect_error(publish(client, md, "t1", case.name), grpc.StatusCode.PERMISSION_DENIED)
    assert await snapshot(client, campaigns, tokens) == before


async def test_published_summaries_are_frozen(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    case = await _case_with_parties(client, tokens)
    t = await publish(client, mps, "t1", case.name)
    clock.advance(3600)
    await client.update_case(
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
    await add_party(client, mps, "p3", case.name, "Liu Qiang")
    await client.transition_case(
        pb.TransitionCaseRequest(request_id="s1", name=case.name, state=pb.CASE_STATE_DROPPED),
        metadata=mps,
    )
    got = (
        await client.get_typical_case(pb.GetTypicalCaseRequest(name=t.name), metadata=mps)
    ).typical_case
    assert got == t
    listed = (
        (
            await client.list_typical_cases(
                pb.ListTypicalCasesRequest(campaign_id="netnet-2021"), metadata=mps
            )
        ).response
    ).typical_cases
    assert list(listed) == [t]
    later = (
        (
            await client.list_typical_cases(
                pb.ListTypicalCasesRequest(campaign_id="qinglang-2021"), metadata=mps
            )
        ).response
    ).typical_cases
    assert list(later) == []


async def test_typical_cases_are_listed_by_campaign(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    published: dict[str, list[str]] = {"netnet-2021": [], "qinglang-2021": [], "": []}
    for i in range(7):
        campaign = list(published)[i % 3]
        case = await create_case(client, mps, f"c{i}", case_msg(f"N-{i}", campaign_id=campaign))
        published[campaign].append((await publish(client, mps, f"t{i}", case.name)).name)

    async def names(campaign: str, page_size: int) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            page = (
                await client.list_typical_cases(
                    pb.ListTypicalCasesRequest(
                        campaign_id=campaign, page_size=page_size, page_token=token
                    ),
                    metadata=tokens("nrta"),
                )
            ).response
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
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    typical: pb.TypicalCase,
    fields: list[str],
) -> None:
    await create_case(client, tokens("mps"), "c1", case_msg())
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        client.publish_typical_case(
            pb.PublishTypicalCaseRequest(request_id="t1", typical_case=typical),
            metadata=tokens("mps"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == fields
    await expect_error(publish(client, tokens("mps"), "t2", "cases/99"), grpc.StatusCode.NOT_FOUND)
    await expect_error(
        client.get_typical_case(pb.GetTypicalCaseRequest(name="typicalCases/9"), metadata=tokens()),
        grpc.StatusCode.NOT_FOUND,
    )
    assert await snapshot(client, campaigns, tokens) == before
