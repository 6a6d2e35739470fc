from __future__ import annotations

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import NetNetError


async def test_case_party_masking_and_typical_case(client, tokens) -> None:  # type: ignore[no-untyped-def]
    mps, cac = tokens("mps"), tokens("cac")
    case = (
        await client.create_case(
            pb.CreateCaseRequest(
                request_id="c1",
                case=pb.Case(
                    number="5·11",
                    title="Porn site laundering via game top-ups",
                    kind=pb.CASE_KIND_CRIMINAL,
                    lead_department="mps",
                    lead_region="341124",
                    assisting_departments=["cac"],
                    categories=["obscene"],
                    campaign_id="netnet-2021",
                    facts=pb.CaseFacts(illegal_gains_fen=200_000_000),
                ),
            ),
            metadata=mps,
        )
    ).case
    party = (
        await client.add_party(
            pb.AddPartyRequest(
                request_id="p1",
                parent=case.name,
                party=pb.Party(kind=pb.PARTY_KIND_SUSPECT, real_name="Zhu Dawei", role="organiser"),
            ),
            metadata=mps,
        )
    ).party
    assert party.real_name == "Zhu Dawei" and party.masked_name == "Zhu XX"
    seen = (
        await client.list_parties(pb.ListPartiesRequest(parent=case.name), metadata=cac)
    ).response
    assert [(p.real_name, p.masked_name) for p in seen.parties] == [("", "Zhu XX")]
    with pytest.raises(NetNetError) as e:
        await client.publish_typical_case(
            pb.PublishTypicalCaseRequest(
                request_id="t1",
                typical_case=pb.TypicalCase(
                    case=case.name,
                    title="5·11",
                    region="Quanjiao, Anhui",
                    summary="Zhu Dawei built a porn site",
                ),
            ),
            metadata=mps,
        )
    assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "typical_case.summary" in (e.value.message or "")
    ok = await client.publish_typical_case(
        pb.PublishTypicalCaseRequest(
            request_id="t2",
            typical_case=pb.TypicalCase(
                case=case.name,
                title="5·11",
                region="Quanjiao, Anhui",
                summary="Zhu XX built a porn site",
            ),
        ),
        metadata=mps,
    )
    assert ok.typical_case.campaign_id == "netnet-2021"
    with pytest.raises(NetNetError) as e:
        await client.get_case(pb.GetCaseRequest(name=case.name), metadata=tokens("miit"))
    assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    stats = await client.get_stats(
        pb.GetStatsRequest(subject=pb.STATS_SUBJECT_ILLEGAL_GAINS), metadata=cac
    )
    assert stats.total.count == 200_000_000
