"""Builders and checks shared by the accounts service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from netnet.accounts.v1 import accounts_pb2 as pb
from tests.conftest import START_US

if TYPE_CHECKING:
    from netnet.accounts.v1.accounts_pb2_grpc import AccountServiceAsyncStub as Stub
    from tests.conftest import Tokens
else:
    Stub = Any
    Tokens = Any

Metadata = list[tuple[str, str]]
DAY_US = 86_400 * 1_000_000
HOUR_US = 3_600 * 1_000_000

__all__ = [
    "DAY_US",
    "HOUR_US",
    "START_US",
    "Metadata",
    "Snapshot",
    "Stub",
    "Tokens",
    "action",
    "bad_fields",
    "error_reason",
    "expect_error",
    "record",
    "snapshot",
    "stream",
    "ts",
]


def ts(us: int) -> Timestamp:
    t = Timestamp()
    t.FromMicroseconds(us)
    return t


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


async def record(stub: Stub, md: Metadata, a: pb.ActionInput) -> pb.RecordActionResponse:
    return await stub.RecordAction(pb.RecordActionRequest(action=a), metadata=md)


async def stream(
    batches: Iterable[Iterable[pb.ActionInput]],
) -> AsyncIterator[pb.ImportActionsRequest]:
    for batch in batches:
        yield pb.ImportActionsRequest(actions=list(batch))


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    """Await call, which must fail with code; returns the error."""
    try:
        result = await call
    except grpc.aio.AioRpcError as e:
        assert e.code() == code, f"expected {code.name}, got {e.code().name}: {e.details()}"
        return e
    raise AssertionError(f"expected {code.name}, the call succeeded with {result!r}")


def _details(err: grpc.aio.AioRpcError) -> list[Any]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, "no google.rpc.Status in the trailers"
    return list(status.details)


def bad_fields(err: grpc.aio.AioRpcError) -> list[str]:
    """The fields named by the google.rpc.BadRequest detail of an INVALID_ARGUMENT error."""
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields: list[str] = []
    found = False
    for detail in _details(err):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            detail.Unpack(br)
            fields += [v.field for v in br.field_violations]
            found = True
    assert found, "no BadRequest detail"
    return fields


def error_reason(err: grpc.aio.AioRpcError) -> str:
    for detail in _details(err):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo detail")


@dataclass(frozen=True)
class Snapshot:
    """What the service holds, as seen through its API: changes when anything is written."""

    total: int
    distinct: int
    accounts: tuple[tuple[str, int, int, str], ...]
    audit_entries: int
    audit_head: str


async def snapshot(stub: Stub, tokens: Tokens) -> Snapshot:
    md = tokens("office", "auditor", "analyst")
    stats = await stub.GetStats(pb.GetStatsRequest(), metadata=md)
    accounts: list[tuple[str, int, int, str]] = []
    token = ""
    while True:
        page = await stub.ListAccounts(
            pb.ListAccountsRequest(page_size=1000, page_token=token), metadata=md
        )
        accounts += [(a.name, a.status, a.action_count, a.etag) for a in page.accounts]
        token = page.next_page_token
        if not token:
            break
    verification = (
        await stub.VerifyAuditChain(pb.VerifyAuditChainRequest(), metadata=md)
    ).verification
    assert verification.ok, verification.problem
    entries = (
        await stub.ListAuditEntries(pb.ListAuditEntriesRequest(page_size=1000), metadata=md)
    ).entries
    return Snapshot(
        stats.total.count,
        stats.total.distinct_subjects,
        tuple(accounts),
        verification.entries_checked,
        entries[-1].hash if entries else "",
    )
