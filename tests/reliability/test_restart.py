"""Everything written survives a clean stop: a new server on the same data directory serves
the same accounts, actions, statistics, request ids, change feed and audit chain."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from netnet.common.v1 import common_pb2
from services.accounts.__main__ import SPEC
from services.common.clock import ManualClock
from services.common.server import RunningServer, start
from tests.reliability.support import Model, Plan, assert_stats_match
from tests.support.servers import START_US, CampaignOwner, Tokens, channel_to, service_settings


async def _changes(
    client: AccountsClient, md: list[tuple[str, str]], after: int, n: int
) -> list[common_pb2.ChangeEvent]:
    """The next n events of the change feed after `after` (the feed itself never ends)."""
    events: list[common_pb2.ChangeEvent] = []
    changes = client.watch_changes(after_seq=after, metadata=md, timeout=10)
    async with aclosing(changes):
        async for resp in changes:
            events.append(resp.event)
            if len(events) == n:
                break
    return events


def _record(request_id: str, uid: str, action: int = pb.ACTION_TYPE_BAN) -> pb.RecordActionRequest:
    return pb.RecordActionRequest(
        action=pb.ActionInput(
            request_id=request_id,
            account=pb.AccountRef(platform="qq", platform_uid=uid, kind=pb.ACCOUNT_KIND_USER),
            action=action,
            category="fraud",
            department="cac",
            campaign_id="netnet-2021",
        )
    )


async def _start(
    data_dir: Path, clock: ManualClock, owner: CampaignOwner
) -> tuple[RunningServer, grpc.aio.Channel]:
    settings = replace(service_settings(SPEC.name, data_dir), **owner.keys(), cases_addr=owner.addr)
    server = await start(SPEC, settings, clock)
    channel = await channel_to(server.port)
    return server, channel


async def test_records_survive_restart(
    data_dir: Path, tokens: Tokens, clock: ManualClock, campaign_owner: CampaignOwner
) -> None:
    md, auditor = tokens("cac"), tokens("cac", "auditor")
    plan = Plan("rs", "cac", 2_500, 1_000, 900, START_US)
    model = Model()
    model.add(plan)

    server, channel = await _start(data_dir, clock, campaign_owner)
    try:
        client = AccountsClient(channel=channel, token="")
        first = await client.record_action(_record("r-1", "u-1"), metadata=md)
        model.live["r-1"] = ("u-1", ("cac", "ban", "fraud", "netnet-2021", ""))
        imported = await client.import_actions(plan.stream(), metadata=md)
        assert imported.summary.accepted == plan.valid_total
        victim = (
            (
                await client.list_account_actions(
                    pb.ListAccountActionsRequest(parent="accounts/2"), metadata=md
                )
            ).response
        ).actions[0]
        retract = pb.RetractActionRequest(request_id="x-1", name=victim.name, reason="typo")
        retracted = await client.retract_action(retract, metadata=md)
        model.retract(victim.request_id)
        account = await client.get_account(pb.GetAccountRequest(name="accounts/2"), metadata=md)
        before_changes = await _changes(client, md, 0, 5)
        before_audit = (
            await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
        ).verification
        await assert_stats_match(client, md, model)
    finally:
        await channel.close()
        await server.stop()
    # One record, three import batches, one retraction: five changes, five audit entries.
    assert [e.kind for e in before_changes] == [1, 4, 4, 4, 3]
    assert before_audit.ok and before_audit.entries_checked == 5

    clock.advance(60)
    server, channel = await _start(data_dir, clock, campaign_owner)
    try:
        health = health_pb2_grpc.HealthStub(channel)  # the gRPC health service: not in the SDK
        check = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        client = AccountsClient(channel=channel, token="")

        # The same data, byte for byte as the first server served it.
        again = await client.get_account(pb.GetAccountRequest(name="accounts/2"), metadata=md)
        assert again.account == account.account
        await assert_stats_match(client, md, model)
        assert await _changes(client, md, 0, 5) == before_changes

        # Request ids are remembered: retries answer as the first time and change nothing.
        retry = await client.record_action(_record("r-1", "u-1"), metadata=md)
        assert retry.duplicate and retry.action == first.action
        assert await client.retract_action(retract, metadata=md) == retracted
        replay = await client.import_actions(plan.stream(), metadata=md)
        assert (replay.summary.accepted, replay.summary.duplicates) == (0, plan.valid_total)
        try:
            await client.record_action(_record("r-1", "u-1", pb.ACTION_TYPE_WARN), metadata=md)
            raise AssertionError("a reused request id with a different body was accepted")
        except NetNetError as e:
            assert e.code == grpc.StatusCode.INVALID_ARGUMENT
        await assert_stats_match(client, md, model)

        # New writes continue the sequences: fresh ids, the feed resumes after the last seq.
        new = await client.record_action(_record("r-2", "u-new"), metadata=md)
        model.live["r-2"] = ("u-new", ("cac", "ban", "fraud", "netnet-2021", ""))
        assert int(new.account.name.split("/")[1]) == plan.accounts + 2
        assert new.action.name.rsplit("/", 1)[1] == str(1 + plan.valid_total + 1)
        (event,) = await _changes(client, md, before_changes[-1].seq, 1)
        assert (event.seq, event.kind, event.resource) == (6, 1, new.action.name)
        await assert_stats_match(client, md, model)

        # The audit chain still verifies across the restart; the replayed import is audited.
        verification = (
            await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
        ).verification
        assert verification.ok, verification
        assert verification.entries_checked == 5 + 3 + 1
    finally:
        await channel.close()
        await server.stop()
