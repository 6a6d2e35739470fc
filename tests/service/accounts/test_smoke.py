from __future__ import annotations

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.common.v1 import common_pb2


async def test_record_and_stats(client, tokens) -> None:  # type: ignore[no-untyped-def]
    md = tokens("cac")
    req = pb.RecordActionRequest(
        action=pb.ActionInput(
            request_id="r1",
            account=pb.AccountRef(
                platform="weibo", platform_uid="u1", kind=pb.ACCOUNT_KIND_USER, handle="h"
            ),
            action=pb.ACTION_TYPE_BAN,
            category="obscene",
            department="cac",
            campaign_id="netnet-2021",
        )
    )
    resp = await client.record_action(req, metadata=md)
    assert resp.account.status == pb.ACCOUNT_STATUS_BANNED
    stats = await client.get_stats(
        pb.GetStatsRequest(group_by=[common_pb2.DIMENSION_DEPARTMENT]), metadata=md
    )
    assert stats.total.count == 1 and stats.total.distinct_subjects == 1
