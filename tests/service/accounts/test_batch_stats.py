"""BatchGetStats: several queries answered together, exactly as one by one."""

from __future__ import annotations

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.common.v1 import common_pb2
from tests.service.accounts.helpers import action, record
from tests.support.rpc import bad_fields, expect_error

DEPT = common_pb2.DIMENSION_DEPARTMENT
ACTION = common_pb2.DIMENSION_ACTION


async def test_batch_equals_one_by_one(client, tokens) -> None:  # type: ignore[no-untyped-def]
    for i, dept in enumerate(("cac", "cac", "mps")):
        await record(client, tokens(dept), action(f"r{i}", f"u{i}", department=dept))
    queries = [
        pb.GetStatsRequest(group_by=[DEPT]),
        pb.GetStatsRequest(group_by=[DEPT, ACTION]),
        pb.GetStatsRequest(filter=common_pb2.StatsFilter(departments=["cac"])),
    ]
    md = tokens("office", "analyst")
    batch = await client.batch_get_stats(pb.BatchGetStatsRequest(requests=queries), metadata=md)
    singles = [await client.get_stats(q, metadata=md) for q in queries]
    assert list(batch.responses) == singles
    assert [r.department for r in batch.responses[0].rows] == ["cac", "mps"]
    assert batch.responses[2].total.count == 2


async def test_a_bad_query_is_named_by_its_position(client, tokens) -> None:  # type: ignore[no-untyped-def]
    md = tokens("office", "analyst")
    bad = pb.BatchGetStatsRequest(
        requests=[pb.GetStatsRequest(group_by=[DEPT]), pb.GetStatsRequest(group_by=[DEPT, DEPT])]
    )
    err = await expect_error(
        client.batch_get_stats(bad, metadata=md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["requests[1].group_by[1]"]
    many = pb.BatchGetStatsRequest(requests=[pb.GetStatsRequest()] * 101)
    err = await expect_error(
        client.batch_get_stats(many, metadata=md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(err) == ["requests"]
