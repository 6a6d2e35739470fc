"""netnet.accounts.v1.AccountService: protobuf in, one use case call, protobuf out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.accounts.v1 import accounts_pb2_grpc as pb_grpc
from services.accounts import operations
from services.accounts.domain import (
    GROUP_ROLLUP,
    ROLLUP,
    Account,
    ActionInput,
    ActionRecord,
)
from services.common import standard
from services.common.catalogue import Catalogue, caller_metadata
from services.common.convert import to_ts, to_us
from services.common.hashing import hash64
from services.common.idempotency import Answered, Once
from services.common.importer import Importer
from services.common.server import Runtime

STATS: standard.Subjects = {
    pb.STATS_SUBJECT_UNSPECIFIED: (ROLLUP, True),  # accounts and groups together
    pb.STATS_SUBJECT_ACCOUNTS: (ROLLUP, True, GROUP_ROLLUP),
    pb.STATS_SUBJECT_GROUPS: (GROUP_ROLLUP, True),
}


def account_pb(a: Account, departments: list[str] | None = None) -> pb.Account:
    return pb.Account(
        departments=departments,
        name=f"accounts/{a.id}",
        platform=a.platform,
        platform_uid=a.platform_uid,
        kind=a.kind,
        handle=a.handle,
        status=a.status,
        suspended_until=to_ts(a.suspended_until_us),
        first_action_time=to_ts(a.first_action_us),
        last_action_time=to_ts(a.last_action_us),
        action_count=a.action_count,
        etag=str(a.revision),
    )


def action_pb(r: ActionRecord) -> pb.AccountAction:
    return pb.AccountAction(
        name=operations.action_name(r.account_id, r.id),
        account=f"accounts/{r.account_id}",
        action=r.action,
        category=r.category,
        legal_basis=r.legal_basis,
        department=r.department,
        region=r.region,
        campaign_id=r.campaign_id,
        special_action=r.special_action,
        case=r.case,
        actor=r.actor,
        request_id=r.request_id,
        effective_time=to_ts(r.effective_us),
        suspend_until=to_ts(r.suspend_until_us),
        record_time=to_ts(r.record_us),
        retracted=r.retracted_us is not None,
        retract_reason=r.retract_reason,
        retracted_by=r.retracted_by,
        retract_time=to_ts(r.retracted_us),
    )


def action_input(m: pb.ActionInput, prefix: str = "") -> ActionInput:
    account = m.account
    return ActionInput(
        m.request_id,
        account.platform,
        account.platform_uid,
        account.kind,
        account.handle,
        m.action,
        m.category,
        m.legal_basis,
        m.department,
        m.region,
        m.campaign_id,
        m.special_action,
        m.case,
        to_us(m.effective_time, m.HasField("effective_time"), f"{prefix}effective_time"),
        to_us(m.suspend_until, m.HasField("suspend_until"), f"{prefix}suspend_until"),
        hash64(m.SerializeToString(deterministic=True)),
    )


def answer_pb(x: operations.Answer) -> pb.RecordActionResponse:
    return pb.RecordActionResponse(
        action=action_pb(x.action),
        account=account_pb(x.account, x.departments),
        duplicate=x.duplicate,
    )


def retracted_pb(x: operations.Answer) -> pb.RetractActionResponse:
    return pb.RetractActionResponse(
        action=action_pb(x.action), account=account_pb(x.account, x.departments)
    )


class AccountServicer(standard.StandardRpcs, pb_grpc.AccountServiceServicer):
    messages = pb
    stats = STATS

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        self.rt = runtime
        self.accounts = operations.Accounts(runtime, catalogue)

    async def RecordAction(
        self, request: pb.RecordActionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordActionResponse:
        a = action_input(request.action, "action.")
        return answer_pb(await self.accounts.record(a, caller_metadata(context), "action."))

    @standard.idempotent(retracted_pb)
    async def RetractAction(
        self, request: pb.RetractActionRequest, context: grpc.aio.ServicerContext, once: Once
    ) -> Answered:
        return await self.accounts.retract(request.name, request.reason, once)

    async def ImportActions(
        self,
        request_iterator: AsyncIterator[pb.ImportActionsRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.ImportActionsResponse:
        intake = self.accounts.intake(caller_metadata(context))
        importer: Importer[pb.ImportActionsRequest, ActionInput] = Importer(
            "accounts", self.rt.clock, "actions", action_input, intake
        )
        return pb.ImportActionsResponse(summary=await importer.run(request_iterator))

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAccountResponse:
        account, departments = await self.accounts.get(request.name)
        return pb.GetAccountResponse(account=account_pb(account, departments))

    async def BatchGetAccounts(
        self, request: pb.BatchGetAccountsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetAccountsResponse:
        found, missing = await self.accounts.batch_get(request.names)
        return pb.BatchGetAccountsResponse(
            accounts=[account_pb(a, deps) for a, deps in found], not_found=missing
        )

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAccountsResponse:
        page, token = await self.accounts.list_accounts(
            request.page_size,
            request.page_token,
            request.platform,
            request.platform_uid,
            request.kind,
            request.status,
            {
                "department": request.department,
                "campaign_id": request.campaign_id,
                "category": request.category,
            },
        )
        return pb.ListAccountsResponse(
            accounts=[account_pb(a, deps) for a, deps in page], next_page_token=token
        )

    async def ListAccountActions(
        self, request: pb.ListAccountActionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAccountActionsResponse:
        page, token = await self.accounts.list_actions(
            request.parent, request.page_size, request.page_token, request.newest_first
        )
        return pb.ListAccountActionsResponse(
            actions=[action_pb(r) for r in page], next_page_token=token
        )


def register(server: grpc.aio.Server, runtime: Runtime) -> list[str]:
    catalogue = Catalogue(runtime.settings.cases_addr, runtime.settings.client_tls)
    runtime.on_stop.append(catalogue.close)
    pb_grpc.add_AccountServiceServicer_to_server(AccountServicer(runtime, catalogue), server)
    return [pb.DESCRIPTOR.services_by_name["AccountService"].full_name]
