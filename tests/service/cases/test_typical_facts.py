"""A typical case's text states figures its case records (illegal gains, items, customers,
sentences): a text whose figures the records contradict is refused with the field and the
contradiction named, nothing written; a text that agrees with them is published; a draft
whose case's facts changed since it was vetted is no longer published as it stands."""

from __future__ import annotations

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from tests.service.cases.helpers import (
    YUAN,
    add_party,
    case_msg,
    create_case,
    mask,
    publish_draft,
    snapshot,
    vetted_draft,
)
from tests.support.rpc import Metadata, bad_fields, error_reason, expect_error
from tests.support.servers import Tokens

FACTS = pb.CaseFacts(
    illegal_gains_fen=2_034_000 * YUAN,
    items=[pb.ItemCount(type="video", count=8_012), pb.ItemCount(type="account", count=12_000)],
    customers=100_321,
)
# The seed's Jinhua and Quanjiao cases as their releases word them, and in English.
AGREEING = {
    "title": "浙江金华查处“匠心”网站传播淫秽物品案",
    "region": "浙江金华",
    "summary": "涉案淫秽视频8000余部，涉案账号1.2万个，传播受众10万余人，非法获利200余万元。"
    "More than 8,000 obscene videos were involved, with illegal gains of more than 2 million "
    "yuan, disseminated to more than 100,000 customers; in 3 months the funds involved "
    "exceeded 36 million yuan.",
    "outcome": "主犯江某某被判处有期徒刑6年，其他1人被判处有期徒刑三年六个月。The principal "
    "culprit was sentenced to 6 years' imprisonment.",
}


async def _case(client: CasesClient, tokens: Tokens) -> pb.Case:
    """A case with its facts, the principal culprit sentenced to 6 years and another to 3½."""
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg("JH-1", region="330700", facts=FACTS))
    for i, (name, months) in enumerate((("江伟明", 72), ("李强", 42))):
        party = await add_party(client, mps, f"p{i}", case.name, name)
        await client.record_sentence(
            pb.RecordSentenceRequest(
                request_id=f"s{i}", party=party.name, sentence=pb.Sentence(term_months=months)
            ),
            metadata=mps,
        )
    return case


async def _publish(client: CasesClient, md: Metadata, case: str, **text: str) -> pb.TypicalCase:
    return (
        await client.publish_typical_case(
            pb.PublishTypicalCaseRequest(
                request_id=f"t-{case}",
                typical_case=pb.TypicalCase(case=case, **{**AGREEING, **text}),
            ),
            metadata=md,
        )
    ).typical_case


async def _draft(client: CasesClient, md: Metadata, case: str, **text: str) -> pb.TypicalCase:
    typical = pb.TypicalCase(case=case, **{**AGREEING, **text})
    return await vetted_draft(client, md, "d1", typical)


@pytest.mark.parametrize(
    ("field", "text", "said"),
    [
        ("summary", "涉案淫秽视频800余部。", "800余部"),  # 8,012 recorded
        ("summary", "非法获利3万余元。", "2,034,000.00 yuan"),
        ("summary", "涉案账号1200个。", "12,000 account"),
        ("summary", "传播受众100余万人。", "100,321 customers"),
        ("summary", "with illegal gains of more than 20 million yuan", "20 million yuan"),
        ("summary", "more than 80,000 obscene videos", "8,012 video"),
        ("outcome", "主犯江某某被判处有期徒刑3年。", "有期徒刑3年"),  # 6 and 3½ years recorded
        ("outcome", "sentenced to 5 years' imprisonment", "60 months"),
        ("title", "浙江金华查处涉案视频8万余部的“匠心”网站案", "8万余部"),
    ],
)
async def test_a_text_the_records_contradict_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, field: str, text: str, said: str
) -> None:
    case = await _case(client, tokens)
    before = await snapshot(client, campaigns, tokens)
    for call in (_publish, _draft):
        err = await expect_error(
            call(client, tokens("mps"), case.name, **{field: text}),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad_fields(err) == [f"typical_case.{field}"]
        assert error_reason(err) == "TEXT_CONTRADICTS_FACTS"
        assert said in (err.message or ""), err.message
        assert "the case records" in (err.message or "")
    assert await snapshot(client, campaigns, tokens) == before


async def test_every_contradicted_field_is_named(client: CasesClient, tokens: Tokens) -> None:
    case = await _case(client, tokens)
    err = await expect_error(
        _publish(
            client,
            tokens("mps"),
            case.name,
            summary="非法获利3万余元。",
            outcome="被判处有期徒刑3年。",
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == ["typical_case.summary", "typical_case.outcome"]


async def test_a_text_that_agrees_with_the_records_is_published(
    client: CasesClient, tokens: Tokens
) -> None:
    case = await _case(client, tokens)
    published = await _publish(client, tokens("mps"), case.name)
    assert published.summary == AGREEING["summary"] and published.region_code == "330700"
    # Figures the case does not record (funds involved, provinces, days) are not compared.
    other = await create_case(client, tokens("mps"), "c2", case_msg("ZS-1", region="330900"))
    await _publish(client, tokens("mps"), other.name, summary="非法获利3万余元，涉案账号1200个。")


async def test_a_draft_whose_case_changed_is_vetted_again(
    client: CasesClient, tokens: Tokens
) -> None:
    mps, office = tokens("mps"), tokens("office")
    case = await _case(client, tokens)
    draft = await _draft(client, mps, case.name)
    await client.update_case(
        pb.UpdateCaseRequest(
            request_id="u1",
            case=pb.Case(
                name=case.name, etag=case.etag, facts=pb.CaseFacts(illegal_gains_fen=30_500 * YUAN)
            ),
            update_mask=mask("facts"),
        ),
        metadata=mps,
    )
    err = await expect_error(
        publish_draft(client, office, "pub1", draft.name), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error_reason(err) == "DRAFT_CONTRADICTS_FACTS"
    assert "typical_case.summary" in (err.message or "") and "30,500.00" in (err.message or "")
    # Vetted again, to the facts as they are now: published.
    again = await vetted_draft(
        client,
        mps,
        "d2",
        pb.TypicalCase(case=case.name, **{**AGREEING, "summary": "非法获利3万余元。"}),
    )
    assert (await publish_draft(client, office, "pub2", again.name)).summary == "非法获利3万余元。"
