"""Builders shared by the gateway tests: a recorder that writes through the
services' own APIs and keeps a ledger of what it wrote (the brute-force truth)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as campb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock, day_of
from tests.support.oracles import Ledger, Rec
from tests.support.rpc import DAY_US, Metadata, ts

if TYPE_CHECKING:
    from tests.service.gateway.conftest import Stack
    from tests.support.servers import Tokens
else:
    Tokens = Stack = Any


# --- writing through the services, into the ledger -------------------------------------------


@dataclass
class CaseInfo:
    name: str
    department: str
    campaign: str
    special_action: str


class Recorder:
    """Writes through the services' own APIs (as the department named) and notes each live
    record in the ledger."""

    def __init__(self, api: Stack, tokens: Tokens, clock: ManualClock) -> None:
        self.api, self.tokens, self.clock = api, tokens, clock
        self.ledger = Ledger(today=lambda: day_of(clock.now_us()))
        self.cases: dict[str, CaseInfo] = {}
        self._ids = itertools.count(1)

    def rid(self, prefix: str = "r") -> str:
        return f"{prefix}-{next(self._ids)}"

    def md(self, department: str) -> Metadata:
        return self.tokens(department)

    async def campaign(
        self, slug: str, title: str, special_actions: Iterable[tuple[str, str]] = ()
    ) -> campb.Campaign:
        now = self.clock.now_us()
        reply = await self.api.campaigns.create_campaign(
            campb.CreateCampaignRequest(
                request_id=self.rid("campaign"),
                campaign=campb.Campaign(
                    id=slug,
                    title=title,
                    start_time=ts(now - 30 * DAY_US),
                    end_time=ts(now + 90 * DAY_US),
                    lead_department="office",
                    participating_departments=["cpd", "cac", "miit", "mps", "mct", "nrta"],
                    special_actions=[
                        campb.SpecialAction(id=i, title=t) for i, t in special_actions
                    ],
                ),
            ),
            metadata=self.tokens("office", "admin"),
        )
        return reply.campaign

    async def account(
        self,
        department: str,
        uid: str,
        action: int,
        campaign: str,
        special_action: str = "",
        *,
        platform: str = "weibo",
        kind: int = apb.ACCOUNT_KIND_USER,
        handle: str = "",
        case: str = "",
    ) -> apb.RecordActionResponse:
        reply = await self.api.accounts.record_action(
            apb.RecordActionRequest(
                action=apb.ActionInput(
                    request_id=self.rid("account"),
                    account=apb.AccountRef(
                        platform=platform, platform_uid=uid, kind=kind, handle=handle or uid
                    ),
                    action=action,  # type: ignore[arg-type]
                    category="obscene",
                    department=department,
                    campaign_id=campaign,
                    special_action=special_action,
                    case=case,
                )
            ),
            metadata=self.md(department),
        )
        self.ledger.add(
            Rec(
                "group" if kind == apb.ACCOUNT_KIND_GROUP else "account",
                apb.ActionType.Name(action).removeprefix("ACTION_TYPE_").lower(),
                reply.account.name,
                department,
                campaign,
                special_action,
            )
        )
        return reply

    async def retract_account(self, department: str, action: apb.AccountAction) -> None:
        await self.api.accounts.retract_action(
            apb.RetractActionRequest(
                request_id=self.rid("retract"), name=action.name, reason="recorded by mistake"
            ),
            metadata=self.md(department),
        )
        kind = next(r.kind for r in self.ledger.records if r.subject == action.account)
        self.ledger.remove(
            Rec(
                kind,
                apb.ActionType.Name(action.action).removeprefix("ACTION_TYPE_").lower(),
                action.account,
                action.department,
                action.campaign_id,
                action.special_action,
            )
        )

    async def site(
        self,
        department: str,
        identifier: str,
        action: int,
        campaign: str,
        special_action: str = "",
        *,
        kind: int = spb.SITE_KIND_WEBSITE,
    ) -> spb.RecordSiteActionResponse:
        notify = action == spb.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION
        reply = await self.api.sites.record_site_action(
            spb.RecordSiteActionRequest(
                action=spb.SiteActionInput(
                    request_id=self.rid("site"),
                    site=spb.SiteRef(kind=kind, identifier=identifier),  # type: ignore[arg-type]
                    action=action,  # type: ignore[arg-type]
                    category="obscene",
                    department=department,
                    campaign_id=campaign,
                    special_action=special_action,
                    due_time=ts(self.clock.now_us() + 30 * DAY_US) if notify else None,
                    problems=["collects personal data without consent"] if notify else [],
                )
            ),
            metadata=self.md(department),
        )
        self.ledger.add(
            Rec(
                "app" if kind == spb.SITE_KIND_APP else "site",
                spb.SiteActionType.Name(action).removeprefix("SITE_ACTION_TYPE_").lower(),
                reply.site.name,
                department,
                campaign,
                special_action,
            )
        )
        return reply

    async def notice_batch(
        self, department: str, apps: list[str], campaign: str, special_action: str = ""
    ) -> spb.NoticeBatch:
        md = self.md(department)
        batch = (
            await self.api.sites.create_notice_batch(
                spb.CreateNoticeBatchRequest(
                    request_id=self.rid("batch"),
                    batch=spb.NoticeBatch(
                        title=f"Apps infringing user rights ({len(apps)})",
                        department=department,
                        category="user_rights",
                        campaign_id=campaign,
                        special_action=special_action,
                        due_time=ts(self.clock.now_us() + 30 * DAY_US),
                    ),
                ),
                metadata=md,
            )
        ).batch
        await self.api.sites.add_notice_entries(
            spb.AddNoticeEntriesRequest(
                request_id=self.rid("entries"),
                batch=batch.name,
                entries=[
                    spb.NoticeEntry(
                        site=spb.SiteRef(kind=spb.SITE_KIND_APP, identifier=a),
                        problems=["excessive permissions"],
                    )
                    for a in apps
                ],
            ),
            metadata=md,
        )
        published = (
            await self.api.sites.publish_notice_batch(
                spb.PublishNoticeBatchRequest(request_id=self.rid("publish"), name=batch.name),
                metadata=md,
            )
        ).batch
        self.ledger.add(Rec("batch", "published", batch.name, department, campaign, special_action))
        for a in apps:
            found = (
                await self.api.sites.list_sites(
                    spb.ListSitesRequest(kind=spb.SITE_KIND_APP, identifier=a), metadata=md
                )
            ).response
            (app,) = found.sites
            self.ledger.add(
                Rec("app", "notify_rectification", app.name, department, campaign, special_action)
            )
        return published

    async def content(
        self,
        department: str,
        host: str,
        content_sha256: str,
        handler: int,
        campaign: str,
        special_action: str = "",
    ) -> spb.RecordDispositionResponse:
        reply = await self.api.sites.record_disposition(
            spb.RecordDispositionRequest(
                disposition=spb.DispositionInput(
                    request_id=self.rid("content"),
                    site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier=host),
                    locator=f"https://{host}/item/{content_sha256[:8]}",
                    content_sha256=content_sha256,
                    category="vulgar",
                    measure=spb.MEASURE_DELETE,
                    handler=handler,  # type: ignore[arg-type]
                    department=department,
                    campaign_id=campaign,
                    special_action=special_action,
                )
            ),
            metadata=self.md(department),
        )
        self.ledger.add(
            Rec(
                "content",
                "direct" if handler == spb.HANDLER_DIRECT else "platform",
                reply.disposition.name,
                department,
                campaign,
                special_action,
            )
        )
        return reply

    async def case(
        self,
        department: str,
        number: str,
        kind: int,
        campaign: str,
        special_action: str = "",
        *,
        title: str = "",
        gains_fen: int = 0,
        assisting: Iterable[str] = (),
        linked: Iterable[str] = (),
        region: str = "",
    ) -> cpb.Case:
        reply = await self.api.cases.create_case(
            cpb.CreateCaseRequest(
                request_id=self.rid("case"),
                case=cpb.Case(
                    number=number,
                    title=title or f"case {number}",
                    kind=kind,  # type: ignore[arg-type]
                    lead_department=department,
                    lead_region=region,
                    assisting_departments=list(assisting),
                    campaign_id=campaign,
                    special_action=special_action,
                    categories=["obscene"],
                    facts=cpb.CaseFacts(illegal_gains_fen=gains_fen),
                    linked_resources=list(linked),
                ),
            ),
            metadata=self.md(department),
        )
        case = reply.case
        self.cases[case.name] = CaseInfo(case.name, department, campaign, special_action)
        kind_name = cpb.CaseKind.Name(kind).removeprefix("CASE_KIND_").lower()
        self.ledger.add(Rec("case", kind_name, case.name, department, campaign, special_action))
        if gains_fen:
            self.ledger.add(
                Rec("gains", "", case.name, department, campaign, special_action, gains_fen)
            )
        return case

    async def party(self, case: str, real_name: str, role: str = "suspect") -> cpb.Party:
        info = self.cases[case]
        reply = await self.api.cases.add_party(
            cpb.AddPartyRequest(
                request_id=self.rid("party"),
                parent=case,
                party=cpb.Party(kind=cpb.PARTY_KIND_SUSPECT, real_name=real_name, role=role),
            ),
            metadata=self.md(info.department),
        )
        return reply.party

    async def measure(self, party: str, measure: int) -> None:
        case = party.split("/parties/")[0]
        info = self.cases[case]
        await self.api.cases.record_measure(
            cpb.RecordMeasureRequest(
                request_id=self.rid("measure"),
                party=party,
                measure=measure,  # type: ignore[arg-type]
            ),
            metadata=self.md(info.department),
        )
        self.ledger.add(
            Rec(
                "measure",
                cpb.Measure.Name(measure).removeprefix("MEASURE_").lower(),
                party,
                info.department,
                info.campaign,
                info.special_action,
            )
        )

    async def typical(
        self, case: str, title: str, region: str, summary: str, outcome: str = ""
    ) -> cpb.TypicalCase:
        info = self.cases[case]
        reply = await self.api.cases.publish_typical_case(
            cpb.PublishTypicalCaseRequest(
                request_id=self.rid("typical"),
                typical_case=cpb.TypicalCase(
                    case=case, title=title, region=region, summary=summary, outcome=outcome
                ),
            ),
            metadata=self.md(info.department),
        )
        self.ledger.add(
            Rec("typical", "published", case, info.department, info.campaign, info.special_action)
        )
        return reply.typical_case


# --- calls and streams -----------------------------------------------------------------------


async def status_of(
    api: Stack, md: Metadata, campaign: str, departments: Iterable[str] = (), deadline: float = 3
) -> pb.CampaignStatus:
    reply = await api.gateway.get_campaign_status(
        pb.GetCampaignStatusRequest(campaign_id=campaign, departments=list(departments)),
        metadata=md,
        timeout=deadline,
    )
    return reply.status


def state_of(status: pb.CampaignStatus, source: str) -> int:
    (row,) = [s for s in status.sources if s.source == source]
    return row.state


async def next_matching(
    statuses: AsyncIterator[pb.WatchCampaignStatusResponse],
    accept: Callable[[pb.WatchCampaignStatusResponse], bool],
    within: float,
) -> tuple[pb.WatchCampaignStatusResponse, int]:
    """The first streamed status that accept() takes, and how many were read to get it."""

    async def scan() -> tuple[pb.WatchCampaignStatusResponse, int]:
        seen = 0
        while True:
            reply = await anext(statuses, None)
            if reply is None:
                raise AssertionError("the status stream ended")
            seen += 1
            if accept(reply):
                return reply, seen

    return await asyncio.wait_for(scan(), within)
