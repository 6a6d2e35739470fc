"""Reference data is the process's, read once into its settings: a server checks records
against the departments and categories it was started with."""

from __future__ import annotations

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from netnet.common.v1 import common_pb2
from services.accounts.__main__ import SPEC
from services.common.config import reference
from services.common.reference import Reference
from services.common.server import RunningServer
from tests.service.accounts.helpers import action, record
from tests.support.rpc import bad_fields, error_reason, expect_error
from tests.support.servers import Tokens, channel_to

DEFAULT = reference({})
# Another deployment's: one more category, and no mps department.
OTHER = Reference(
    departments={k: v for k, v in DEFAULT.departments.items() if k != "mps"},
    categories={**DEFAULT.categories, "deepfake": "Deepfake content"},
)


async def test_a_server_checks_records_against_the_reference_it_was_given(
    serve,
    tokens: Tokens,  # type: ignore[no-untyped-def]
) -> None:
    other: RunningServer = await serve(SPEC, reference=OTHER)
    default: RunningServer = await serve(SPEC)
    md = tokens("cac")
    async with (
        await channel_to(other.port) as other_channel,
        await channel_to(default.port) as default_channel,
    ):
        on_other = AccountsClient(channel=other_channel, token="")
        on_default = AccountsClient(channel=default_channel, token="")
        taken = await record(on_other, md, action("r1", "u1", category="deepfake"))
        assert taken.action.category == "deepfake" and not taken.duplicate
        err = await expect_error(
            record(on_default, md, action("r1", "u1", category="deepfake")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad_fields(err) == ["action.category"]
        # A department the deployment does not have is no credential of it.
        err = await expect_error(
            record(on_other, tokens("mps"), action("r2", "u2", department="mps")),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(err) == "TOKEN_INVALID"
        assert await record(on_default, tokens("mps"), action("r2", "u2", department="mps"))
        # Stats filters name the same reference data.
        stats = await on_other.get_stats(
            pb.GetStatsRequest(
                subject=pb.STATS_SUBJECT_ACCOUNTS,
                filter=common_pb2.StatsFilter(categories=["deepfake"]),
            ),
            metadata=md,
        )
        assert stats.total.count == 1
        err = await expect_error(
            on_default.get_stats(
                pb.GetStatsRequest(
                    subject=pb.STATS_SUBJECT_ACCOUNTS,
                    filter=common_pb2.StatsFilter(categories=["deepfake"]),
                ),
                metadata=md,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad_fields(err) == ["filter.categories[0]"]
