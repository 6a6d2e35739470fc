from __future__ import annotations

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from tests.support.servers import CampaignOwner


async def test_status_counts_across_sources(stack, tokens) -> None:  # type: ignore[no-untyped-def]
    cac, mps = tokens("cac"), tokens("mps")
    await stack.campaigns.create_campaign(
        CampaignOwner.create_request("netnet-2021"), metadata=tokens("office", "admin")
    )
    for i in range(3):
        await stack.accounts.record_action(
            apb.RecordActionRequest(
                action=apb.ActionInput(
                    request_id=f"a{i}",
                    account=apb.AccountRef(
                        platform="weibo", platform_uid=f"u{i}", kind=apb.ACCOUNT_KIND_USER
                    ),
                    action=apb.ACTION_TYPE_BAN,
                    category="obscene",
                    department="cac",
                    campaign_id="netnet-2021",
                )
            ),
            metadata=cac,
        )
    await stack.cases.create_case(
        cpb.CreateCaseRequest(
            request_id="c1",
            case=cpb.Case(
                number="5·11",
                title="t",
                kind=cpb.CASE_KIND_CRIMINAL,
                lead_department="mps",
                categories=["obscene"],
                campaign_id="netnet-2021",
            ),
        ),
        metadata=mps,
    )
    reply = await stack.gateway.get_campaign_status(
        pb.GetCampaignStatusRequest(campaign_id="netnet-2021"), metadata=tokens("office"), timeout=5
    )
    s = reply.status
    assert s.complete, s.sources
    assert s.total.accounts_handled == 3 and s.total.cases_criminal == 1
    by_dept = {d.department: d.figures for d in s.departments}
    assert by_dept["cac"].accounts_handled == 3 and by_dept["mps"].cases_criminal == 1
    bulletin = await stack.gateway.generate_bulletin(
        pb.GenerateBulletinRequest(campaign_id="netnet-2021"), metadata=tokens("office")
    )
    assert "3 accounts" in bulletin.text and "1 case" in bulletin.text, bulletin.text
