"""Builders and checks shared by the accounts service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient
from tests.support.rpc import Metadata, ts

if TYPE_CHECKING:
    from tests.support.servers import Tokens
else:
    Tokens = Any


__all__ = [
    "Snapshot",
    "action",
    "record",
    "snapshot",
    "stream",
]


def action(
    request_id: str,
    uid: str = "u1",
    act: pb.ActionType.ValueType = pb.ACTION_TYPE_BAN,
    department: str = "cac",
    *,
    platform: str = "weibo",
    kind: pb.AccountKind.ValueType = pb.ACCOUNT_KIND_USER,
    handle: str = "",
    category: str = "obscene",
    legal_basis: str = "",
    region: str = "",
    campaign_id: str = "",
    special_action: str = "",
    case: str = "",
    effective_us: int | None = None,
    suspend_until_us: int | None = None,
) -> pb.ActionInput:
    m = pb.ActionInput(
        request_id=request_id,
        account=pb.AccountRef(platform=platform, platform_uid=uid, kind=kind, handle=handle),
        action=act,
        category=category,
        legal_basis=legal_basis,
        department=department,
        region=region,
        campaign_id=campaign_id,
        special_action=special_action,
        case=case,
    )
    if effective_us is not None:
        m.effective_time.CopyFrom(ts(effective_us))
    if suspend_until_us is not None:
        m.suspend_until.CopyFrom(ts(suspend_until_us))
    return m


async def record(
    client: AccountsClient, md: Metadata, a: pb.ActionInput
) -> pb.RecordActionResponse:
    return await client.record_action(pb.RecordActionRequest(action=a), metadata=md)


async def stream(
    batches: Iterable[Iterable[pb.ActionInput]],
) -> AsyncIterator[pb.ImportActionsRequest]:
    for batch in batches:
        yield pb.ImportActionsRequest(actions=list(batch))


@dataclass(frozen=True)
class Snapshot:
    """What the service holds, as seen through its API: changes when anything is written."""

    total: int
    distinct: int
    accounts: tuple[tuple[str, int, int, str], ...]
    audit_entries: int
    audit_head: str


async def snapshot(client: AccountsClient, tokens: Tokens) -> Snapshot:
    md = tokens("office", "auditor", "analyst")
    stats = await client.get_stats(pb.GetStatsRequest(), metadata=md)
    accounts: list[tuple[str, int, int, str]] = []
    token = ""
    while True:
        page = (
            await client.list_accounts(
                pb.ListAccountsRequest(page_size=1000, page_token=token), metadata=md
            )
        ).response
        accounts += [(a.name, a.status, a.action_count, a.etag) for a in page.accounts]
        token = page.next_page_token
        if not token:
            break
    verification = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=md)
    ).verification
    assert verification.ok, verification.problem
    entries = (
        (
            await client.list_audit_entries(pb.ListAuditEntriesRequest(page_size=1000), metadata=md)
        ).response
    ).entries
    return Snapshot(
        stats.total.count,
        stats.total.distinct_subjects,
        tuple(accounts),
        verification.entries_checked,
        entries[-1].hash if entries else "",
    )
