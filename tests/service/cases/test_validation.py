"""Bad input is INVALID_ARGUMENT with a google.rpc.BadRequest naming every bad field, and
nothing is written."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from tests.service.cases.helpers import case_msg, create_case, mask, snapshot
from tests.support.rpc import bad_fields, expect_error
from tests.support.servers import Tokens

CASE_ERRORS: list[tuple[dict[str, Any], list[str]]] = [
    ({"number": "5 11"}, ["case.number"]),
    ({"number": " 5·11"}, ["case.number"]),
    ({"number": ""}, ["case.number"]),
    ({"number": "N" * 33}, ["case.number"]),
    ({"title": ""}, ["case.title"]),
    ({"title": "t" * 257}, ["case.title"]),
    ({"kind": pb.CASE_KIND_UNSPECIFIED}, ["case.kind"]),
    ({"kind": 9}, ["case.kind"]),
    ({"lead": ""}, ["case.lead_department"]),
    ({"region": "34112"}, ["case.lead_region"]),
    ({"region": "Quanjiao"}, ["case.lead_region"]),
    ({"assisting": ["mps"]}, ["case.assisting_departments"]),
    ({"assisting": ["cac", "police"]}, ["case.assisting_departments"]),
    ({"provinces": ["33000"]}, ["case.provinces"]),
    ({"provinces": ["330700"]}, ["case.provinces"]),  # a city, not a province
    ({"provinces": ["Zhejiang"]}, ["case.provinces"]),
    ({"campaign_id": "Net Net 2021"}, ["case.campaign_id"]),
    ({"campaign_id": "", "special_action": "minors"}, ["case.special_action"]),
    ({"special_action": "Minors!"}, ["case.special_action"]),
    ({"categories": []}, ["case.categories"]),
    ({"categories": ["gossip"]}, ["case.categories"]),
    ({"categories": ["obscene", "Obscene"]}, ["case.categories"]),
    ({"categories": ["obscene"] * 11}, ["case.categories"]),
    ({"linked": ["cases/1"]}, ["case.linked_resources"]),
    ({"linked": ["sites/abc"]}, ["case.linked_resources"]),
    ({"linked": ["sites/0"]}, ["case.linked_resources"]),
    ({"linked": ["accounts/7", "https://example.com"]}, ["case.linked_resources"]),
    ({"linked": ["sites/1/actions/2"]}, ["case.linked_resources"]),
    (
        {"facts": pb.CaseFacts(illegal_gains_fen=-1)},
        ["case.facts.illegal_gains_fen"],
    ),
    ({"facts": pb.CaseFacts(customers=-1)}, ["case.facts.customers"]),
    ({"facts": pb.CaseFacts(victim_count=-3)}, ["case.facts.victim_count"]),
    ({"facts": pb.CaseFacts(data_volume_bytes=-1)}, ["case.facts.data_volume_bytes"]),
    (
        {"facts": pb.CaseFacts(items=[pb.ItemCount(type="video", count=-8000)])},
        ["case.facts.items"],
    ),
    ({"facts": pb.CaseFacts(items=[pb.ItemCount(count=8000)])}, ["case.facts.items"]),
    (
        {
            "number": "5 11",
            "kind": 0,
            "categories": ["gossip"],
            "provinces": ["1"],
            "linked": ["x"],
            "facts": pb.CaseFacts(customers=-1, victim_count=-1),
        },
        [
            "case.number",
            "case.kind",
            "case.provinces",
            "case.categories",
            "case.facts.customers",
            "case.facts.victim_count",
            "case.linked_resources",
        ],
    ),
]


@pytest.mark.parametrize(("change", "fields"), CASE_ERRORS, ids=lambda v: str(v)[:40])
async def test_bad_cases_are_invalid_and_nothing_is_written(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    change: dict[str, Any],
    fields: list[str],
) -> None:
    mps = tokens("mps")
    await create_case(client, mps, "c0", case_msg("OK-1"))
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        create_case(client, mps, "c1", case_msg(**change)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert sorted(bad_fields(err)) == sorted(fields)
    for f in fields:
        assert f in (err.message or "")
    assert await snapshot(client, campaigns, tokens) == before
    # The same request id is still free for a good request.
    made = await create_case(client, mps, "c1", case_msg("OK-2"))
    assert made.number == "OK-2"


async def test_a_case_number_may_be_chinese_or_dotted(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    for i, number in enumerate(["5·11", "5·03", "6·07", "浙金公网-2021.04", "A/12_3"]):
        made = await create_case(client, mps, f"c{i}", case_msg(number))
        assert made.number == number


async def test_a_special_action_needs_a_campaign_on_update_too(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(campaign_id=""))
    before = await snapshot(client, campaigns, tokens)
    for i, (paths, values) in enumerate(
        [
            (("special_action",), pb.Case(special_action="minors")),
            (("campaign_id", "special_action"), pb.Case(special_action="minors")),
            (("special_action",), pb.Case(special_action="Bad Slug", campaign_id="netnet-2021")),
        ]
    ):
        values.name, values.etag = case.name, case.etag
        err = await expect_error(
            client.update_case(
                pb.UpdateCaseRequest(request_id=f"u{i}", case=values, update_mask=mask(*paths)),
                metadata=mps,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad_fields(err) == ["case.special_action"]
    assert await snapshot(client, campaigns, tokens) == before


CLUE_ERRORS: list[tuple[pb.Clue, list[str]]] = [
    (pb.Clue(summary="s", category="obscene"), ["clue.source"]),
    (pb.Clue(source=pb.CLUE_SOURCE_PATROL, category="obscene"), ["clue.summary"]),
    (
        pb.Clue(source=pb.CLUE_SOURCE_PATROL, summary="s" * 4001, category="obscene"),
        ["clue.summary"],
    ),
    (pb.Clue(source=pb.CLUE_SOURCE_PATROL, summary="s", category="gossip"), ["clue.category"]),
    (pb.Clue(source=pb.CLUE_SOURCE_PATROL, summary="s"), ["clue.category"]),
    (
        pb.Clue(source=pb.CLUE_SOURCE_PATROL, summary="s", category="obscene", holder_region="x"),
        ["clue.holder_region"],
    ),
    (
        pb.Clue(source=pb.CLUE_SOURCE_PATROL, summary="s", category="obscene", campaign_id="A B"),
        ["clue.campaign_id"],
    ),
    (
        pb.Clue(
            source=pb.CLUE_SOURCE_PATROL, summary="s", category="obscene", special_action="minors"
        ),
        ["clue.special_action"],
    ),
    (pb.Clue(), ["clue.source", "clue.summary", "clue.category"]),
]


@pytest.mark.parametrize(("clue", "fields"), CLUE_ERRORS, ids=lambda v: str(v)[:40])
async def test_bad_clues_are_invalid_and_nothing_is_written(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clue: pb.Clue, fields: list[str]
) -> None:
    before = await snapshot(client, campaigns, tokens)
    request = pb.Clue()
    request.CopyFrom(clue)
    request.holder_department = "cac"
    err = await expect_error(
        client.record_clue(
            pb.RecordClueRequest(request_id="r1", clue=request), metadata=tokens("cac")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == fields
    assert await snapshot(client, campaigns, tokens) == before


@pytest.mark.parametrize("request_id", ["", "x" * 129])
async def test_a_mutation_needs_a_request_id(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, request_id: str
) -> None:
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        create_case(client, tokens("mps"), request_id, case_msg()), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["request_id"]
    assert await snapshot(client, campaigns, tokens) == before
