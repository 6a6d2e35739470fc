"""netnet.accounts.v1.AccountService: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial

import grpc

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.accounts.v1 import accounts_pb2_grpc as pb_grpc
from services.accounts import operations, store
from services.accounts.domain import (
    GROUP_ROLLUP,
    ROLLUP,
    Account,
    ActionInput,
    ActionRecord,
    ident_key,
    validate,
)
from services.common import names, paging, rollups, standard
from services.common.auth import check_record_department, require_role, require_writer_for
from services.common.campaigns import Campaign
from services.common.catalogue import Catalogue, caller_metadata
from services.common.context import Principal
from services.common.convert import to_ts, to_us
from services.common.errors import FieldViolation, InvalidArgument, NotFound, Violations
from services.common.importer import Importer
from services.common.reference import Reference
from services.common.server import Runtime
from services.common.storage import Conn
from services.common.storage.keys import hash64

STATS: standard.Subjects = {
    pb.STATS_SUBJECT_UNSPECIFIED: (ROLLUP, True),  # accounts and groups together
    pb.STATS_SUBJECT_ACCOUNTS: (ROLLUP, True, GROUP_ROLLUP),
    pb.STATS_SUBJECT_GROUPS: (GROUP_ROLLUP, True),
}
WRITERS = ("operator", "admin", "service")


def _with_departments(
    c: Conn, accounts: list[Account]
) -> tuple[list[Account], dict[int, list[str]]]:
    return accounts, rollups.departments_of(c, ROLLUP, [a.id for a in accounts])


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


class AccountServicer(standard.StandardRpcs, pb_grpc.AccountServiceServicer):
    messages = pb
    stats = STATS

    def __init__(self, runtime: Runtime, catalogue: Catalogue) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.catalogue = catalogue

    async def RecordAction(
        self, request: pb.RecordActionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordActionResponse:
        a = action_input(request.action, "action.")
        principal = require_writer_for(a.department)
        now = self.rt.clock.now_us()
        known = await self.catalogue.resolve([a.campaign_id], caller_metadata(context))
        v = Violations()
        validate(a, now, v, known, self.rt.settings.reference, prefix="action.")
        v.raise_if_any()
        try:
            # Calls of one principal waiting at the same moment are written as one batch.
            answer = await self.db.write_batched(_record_calls, (principal, a, now), principal)
        except InvalidArgument as e:  # fields of the input: name them by their request path
            raise InvalidArgument(
                [FieldViolation(f"action.{f.field}", f.description) for f in e.violations],
                reason=e.reason,
            ) from None
        return answer  # type: ignore[no-any-return]

    async def RetractAction(
        self, request: pb.RetractActionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetractActionResponse:
        principal = require_role(*WRITERS)
        v = Violations()
        v.check(0 < len(request.request_id) <= 128, "request_id", "required")
        v.check(0 < len(request.reason) <= 512, "reason", "required, at most 512 characters")
        v.raise_if_any()
        account_id, action_id = names.parse(request.name, "name", "accounts", "actions")
        now = self.rt.clock.now_us()

        def work(c: Conn) -> pb.RetractActionResponse:
            rec, account = operations.retract(
                c, principal, account_id, action_id, request.reason, request.request_id, now
            )
            deps = rollups.departments_of(c, ROLLUP, [account.id]).get(account.id)
            return pb.RetractActionResponse(
                action=action_pb(rec), account=account_pb(account, deps)
            )

        return pb.RetractActionResponse.FromString(
            await standard.once(
                self.rt,
                request,
                "RetractAction",
                request.request_id,
                work,
                # Before any replay: a stored answer is no way around the department check.
                guard=lambda c: operations.owned_action(c, principal, account_id, action_id),
            )
        )

    async def ImportActions(
        self,
        request_iterator: AsyncIterator[pb.ImportActionsRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.ImportActionsResponse:
        principal = require_role(*WRITERS)
        md = caller_metadata(context)
        importer: Importer[pb.ImportActionsRequest, ActionInput] = Importer(
            service="accounts",
            clock=self.rt.clock,
            field="actions",
            campaigns=lambda records: self.catalogue.resolve(
                (r.campaign_id for r in records),  # type: ignore[attr-defined]
                md,
            ),
            prepare=partial(_prepare, principal=principal, ref=self.rt.settings.reference),
            write=lambda items, now: self.db.write_in_steps(
                partial(operations.record, principal=principal, items=items, now_us=now)
            ),
        )
        return pb.ImportActionsResponse(summary=await importer.run(request_iterator))

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAccountResponse:
        (account_id,) = names.parse(request.name, "name", "accounts")
        rows, deps = await self.db.read(
            lambda c: _with_departments(c, [a for a in [store.get_account(c, account_id)] if a])
        )
        if not rows:
            raise NotFound(f"{request.name} not found")
        return pb.GetAccountResponse(account=account_pb(rows[0], deps.get(account_id)))

    async def BatchGetAccounts(
        self, request: pb.BatchGetAccountsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetAccountsResponse:
        ids = standard.batch_ids(request.names, "accounts")
        rows, deps = await self.db.read(
            lambda c: _with_departments(c, list(store.get_accounts(c, ids).values()))
        )
        found, missing = standard.found_and_missing(request.names, ids, {a.id: a for a in rows})
        return pb.BatchGetAccountsResponse(
            accounts=[account_pb(a, deps.get(a.id)) for a in found], not_found=missing
        )

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAccountsResponse:
        size = paging.page_size(request.page_size)
        marks = {
            k: val
            for k, val in (
                ("department", request.department),
                ("campaign_id", request.campaign_id),
                ("category", request.category),
            )
            if val
        }
        if request.platform_uid and not request.platform:
            raise InvalidArgument([FieldViolation("platform", "required with platform_uid")])
        ident = ident_key(request.platform, request.platform_uid) if request.platform_uid else 0
        bound = [request.platform, request.kind, request.status, marks, request.platform_uid]
        after = paging.decode(request.page_token, bound) or 0
        rows, deps = await self.db.read(
            lambda c: _with_departments(
                c,
                store.list_accounts(
                    c,
                    after,
                    size + 1,
                    request.platform,
                    request.kind,
                    request.status,
                    marks,
                    ident,
                ),
            )
        )
        page, token = paging.cut(rows, size, bound)
        return pb.ListAccountsResponse(
            accounts=[account_pb(a, deps.get(a.id)) for a in page], next_page_token=token
        )

    async def ListAccountActions(
        self, request: pb.ListAccountActionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAccountActionsResponse:
        page, token = await standard.child_page(
            self.rt,
            request,
            "accounts",
            lambda c, i: store.get_account(c, i) is not None,
            store.actions_of,
        )
        return pb.ListAccountActionsResponse(
            actions=[action_pb(r) for r in page], next_page_token=token
        )


def _record_calls(
    c: Conn, items: list[tuple[Principal, ActionInput, int]]
) -> list[tuple[bool, object]]:
    """RecordAction calls of one principal (the batch key), answered in the writing
    transaction."""
    answers = operations.record_calls(
        c, items[0][0], [a for _, a, _ in items], max(now for _, _, now in items)
    )
    return [
        (
            True,
            pb.RecordActionResponse(
                action=action_pb(x.action),
                account=account_pb(x.account, x.departments),
                duplicate=x.duplicate,
            ),
        )
        if ok and isinstance(x, operations.Answer)
        else (False, x)
        for ok, x in answers
    ]


def _prepare(
    m: object,
    now: int,
    v: Violations,
    campaigns: Mapping[str, Campaign | None],
    principal: Principal,
    ref: Reference,
) -> ActionInput:
    a = action_input(m)  # type: ignore[arg-type]
    check_record_department(principal, a.department, v)
    validate(a, now, v, campaigns, ref)
    return a


def register(server: grpc.aio.Server, runtime: Runtime) -> list[str]:
    catalogue = Catalogue(runtime.settings.cases_addr)
    runtime.on_stop.append(catalogue.close)
    pb_grpc.add_AccountServiceServicer_to_server(AccountServicer(runtime, catalogue), server)
    return [pb.DESCRIPTOR.services_by_name["AccountService"].full_name]
