"""netnet.gateway.v1.GatewayService: fans out to the services with the caller's identity."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf.timestamp_pb2 import Timestamp

from gateway import bulletin, bulletin_zh, series, status
from gateway.clients import SOURCES, Backends, Health, Metadata, per_source
from gateway.status import health_row
from netnet.accounts.v1 import accounts_pb2
from netnet.cases.v1 import campaigns_pb2, cases_pb2
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.gateway.v1 import gateway_pb2_grpc as pb_grpc
from netnet.sites.v1 import sites_pb2
from services.common import names
from services.common.context import current_principal, request_id_var
from services.common.convert import checked_us, to_ts
from services.common.errors import FieldViolation, InvalidArgument, Violations
from services.common.interceptor import REQUEST_ID_HEADER
from services.common.paging import MAX_PAGE_SIZE
from services.common.reference import is_slug
from services.common.server import Runtime

log = structlog.get_logger()
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
ACCOUNT_QUERY = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62}):(\S{1,256})$")
SAFETY_MARGIN = 0.05  # seconds kept back from the caller's deadline for composing the answer
STOPPING = ""  # put on a watch's queue when the gateway stops
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0)
T = TypeVar("T")


def forwarded(context: grpc.aio.ServicerContext) -> Metadata:
    """The caller's own credentials and request id, passed on unchanged."""
    md = [(k, str(v)) for k, v in (context.invocation_metadata() or ()) if k == "authorization"]
    return (*md, (REQUEST_ID_HEADER, request_id_var.get()))


async def relayed(context: grpc.aio.ServicerContext, call: Awaitable[T]) -> T:
    """The answer of a call to the one source that owns it; its refusal is the caller's answer
    (with the source's code and details, not an INTERNAL error of the gateway)."""
    try:
        return await call
    except grpc.aio.AioRpcError as e:
        await context.abort(e.code(), e.details() or "", tuple(e.trailing_metadata() or ()))
        raise  # abort raises; this line keeps the type checker informed


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(self, runtime: Runtime, backends: Backends) -> None:
        self.rt = runtime
        self.backends = backends

    def _budget(self, context: grpc.aio.ServicerContext) -> float:
        """Each source's time: its own budget, inside what is left of the caller's deadline."""
        budget = self.rt.settings.source_timeout_seconds
        remaining = context.time_remaining()
        if remaining is not None:
            budget = min(budget, max(0.0, remaining - SAFETY_MARGIN))
        return budget

    def _now(self) -> Timestamp:
        return to_ts(self.rt.clock.now_us()) or Timestamp()

    def _query(
        self, request: pb.GetCampaignStatusRequest, prefix: str = "", v: Violations | None = None
    ) -> status.Query:
        """The status query of a request, its bad fields named under prefix (with those v
        holds already)."""
        v = v or Violations()
        v.check(is_slug(request.campaign_id), f"{prefix}campaign_id", "required: a campaign id")
        v.check(
            all(d in self.rt.settings.reference.departments for d in request.departments),
            f"{prefix}departments",
            "unknown department",
        )
        has_start, has_end = request.HasField("start_time"), request.HasField("end_time")
        start = checked_us(request.start_time, has_start, f"{prefix}start_time", v)
        end = checked_us(request.end_time, has_end, f"{prefix}end_time", v)
        v.check(
            start is None or end is None or start < end,
            f"{prefix}end_time",
            "must be after start_time",
        )
        v.raise_if_any()
        return status.Query(
            request.campaign_id,
            tuple(dict.fromkeys(request.departments)),
            request.start_time if has_start else None,
            request.end_time if has_end else None,
        )

    async def _status(
        self, query: status.Query, metadata: Metadata, budget: float
    ) -> pb.CampaignStatus:
        return (await self._asked_status(query, metadata, budget))[1]

    async def _asked_status(
        self, query: status.Query, metadata: Metadata, budget: float
    ) -> tuple[status.Query, pb.CampaignStatus]:
        """The status, and the query as the sources were asked it (without a period when
        the period holds the campaign's)."""
        asked, tables, health, campaign = await status.fetch(self.backends, query, metadata, budget)
        return asked, status.compose(
            asked, tables, health, campaign, self._now(), self.rt.settings.reference.departments
        )

    async def GetCampaignStatus(
        self, request: pb.GetCampaignStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCampaignStatusResponse:
        query = self._query(request)
        return pb.GetCampaignStatusResponse(
            status=await self._status(query, forwarded(context), self._budget(context))
        )

    async def WatchCampaignStatus(
        self, request: pb.WatchCampaignStatusRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchCampaignStatusResponse]:
        query = self._query(request.query, "query.")
        metadata = forwarded(context)
        budget = self.rt.settings.source_timeout_seconds
        moved: asyncio.Queue[str] = asyncio.Queue()
        started = {s: asyncio.Event() for s in SOURCES}
        followers = [
            asyncio.create_task(self._follow(s, metadata, moved, started[s])) for s in SOURCES
        ]
        followers.append(asyncio.create_task(self._stop_signal(moved)))
        try:
            # The first status is read once every feed is followed (or found down), so a
            # change cannot fall between it and the feed: it is in the status or triggers one.
            followed = asyncio.gather(*(e.wait() for e in started.values()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(followed, budget)
            yield pb.WatchCampaignStatusResponse(status=await self._status(query, metadata, budget))
            while True:
                trigger = await moved.get()
                if trigger == STOPPING:
                    return  # the gateway is stopping: end the stream rather than hold the drain
                await asyncio.sleep(self.rt.settings.watch_debounce_seconds)  # let a burst settle
                while not moved.empty():
                    if moved.get_nowait() == STOPPING:
                        return
                yield pb.WatchCampaignStatusResponse(
                    status=await self._status(query, metadata, budget), trigger=trigger
                )
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    async def _stop_signal(self, moved: asyncio.Queue[str]) -> None:
        await self.rt.stopping.wait()
        moved.put_nowait(STOPPING)

    async def _follow(
        self, source: str, metadata: Metadata, moved: asyncio.Queue[str], started: asyncio.Event
    ) -> None:
        """Follow one source's change feed, resuming after its last seen change when the
        source comes back; losing or regaining a source is a change too. started is set once
        the feed is followed, or found down."""
        stub: Any = getattr(self.backends, source)
        request_type = {"accounts": accounts_pb2, "sites": sites_pb2, "cases": cases_pb2}[
            source
        ].WatchChangesRequest
        last: int | None = None
        lost, attempt = False, 0
        while True:
            call = stub.WatchChanges(
                request_type(from_end=True) if last is None else request_type(after_seq=last),
                metadata=metadata,
            )
            try:
                await call.initial_metadata()  # the source sends it as the watch starts
                if call.done():  # failed before it started (a stream call is not awaitable)
                    await call.wait_for_connection()  # raises the call's error
                if lost:
                    moved.put_nowait(source)  # back: the next status is whole again
                lost, attempt = False, 0
                started.set()
                async for reply in call:
                    last = reply.event.seq
                    moved.put_nowait(source)
            except grpc.aio.AioRpcError as e:
                log.info("change feed lost", source=source, code=e.code().name)
            if not lost:
                moved.put_nowait(source)  # gone: the next status says so
                lost = True
            started.set()
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    async def GetCaseDossier(
        self, request: pb.GetCaseDossierRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCaseDossierResponse:
        names.parse(request.name, "name", "cases")
        if not 0 <= request.actions_per_link <= 100:
            raise InvalidArgument([FieldViolation("actions_per_link", "0 to 100")])
        per_link = request.actions_per_link or 10
        md = forwarded(context)
        budget = self._budget(context)
        b = self.backends
        # The case decides what the caller may see: its refusal is the caller's answer.
        case_reply, parties_reply = await relayed(
            context,
            asyncio.gather(
                b.cases.GetCase(
                    cases_pb2.GetCaseRequest(name=request.name), metadata=md, timeout=budget
                ),
                b.cases.ListParties(
                    cases_pb2.ListPartiesRequest(parent=request.name, page_size=1000),
                    metadata=md,
                    timeout=budget,
                ),
            ),
        )
        case = case_reply.case
        site_names = [n for n in case.linked_resources if n.startswith("sites/")]
        account_names = [n for n in case.linked_resources if n.startswith("accounts/")]

        async def sites(t: float) -> tuple[list[pb.SiteWithActions], list[str]]:
            if not site_names:
                return [], []
            got = await b.sites.BatchGetSites(
                sites_pb2.BatchGetSitesRequest(names=site_names), metadata=md, timeout=t
            )
            actions = await asyncio.gather(
                *(
                    b.sites.ListSiteActions(
                        sites_pb2.ListSiteActionsRequest(
                            parent=s.name, page_size=per_link, newest_first=True
                        ),
                        metadata=md,
                        timeout=t,
                    )
                    for s in got.sites
                )
            )
            return (
                [
                    pb.SiteWithActions(site=s, recent_actions=a.actions)
                    for s, a in zip(got.sites, actions, strict=True)
                ],
                list(got.not_found),
            )

        async def accounts(t: float) -> tuple[list[pb.AccountWithActions], list[str]]:
            if not account_names:
                return [], []
            got = await b.accounts.BatchGetAccounts(
                accounts_pb2.BatchGetAccountsRequest(names=account_names), metadata=md, timeout=t
            )
            actions = await asyncio.gather(
                *(
                    b.accounts.ListAccountActions(
                        accounts_pb2.ListAccountActionsRequest(
                            parent=a.name, page_size=per_link, newest_first=True
                        ),
                        metadata=md,
                        timeout=t,
                    )
                    for a in got.accounts
                )
            )
            return (
                [
                    pb.AccountWithActions(account=a, recent_actions=x.actions)
                    for a, x in zip(got.accounts, actions, strict=True)
                ],
                list(got.not_found),
            )

        results, health = await per_source(budget, {"sites": sites, "accounts": accounts})
        site_rows, missing_sites = results.get("sites", ([], []))
        account_rows, missing_accounts = results.get("accounts", ([], []))
        return pb.GetCaseDossierResponse(
            case=case,
            parties=parties_reply.parties,
            sites=site_rows,
            accounts=account_rows,
            unresolved_links=[*missing_sites, *missing_accounts],
            sources=[health_row(Health("cases")), *(health_row(h) for h in health.values())],
        )

    async def GenerateBulletin(
        self, request: pb.GenerateBulletinRequest, context: grpc.aio.ServicerContext
    ) -> pb.GenerateBulletinResponse:
        v = Violations()
        language = bulletin.language(request.language)
        v.check(
            language is not None,
            "language",
            f"unsupported: one of {', '.join(bulletin.LANGUAGES)} (empty: en)",
        )
        status_request = pb.GetCampaignStatusRequest(campaign_id=request.campaign_id)
        if request.HasField("start_time"):
            status_request.start_time.CopyFrom(request.start_time)
        if request.HasField("end_time"):
            status_request.end_time.CopyFrom(request.end_time)
        query = self._query(status_request, v=v)
        md = forwarded(context)
        budget = self._budget(context)
        cases = self.backends.cases
        campaign = f"campaigns/{query.campaign_id}"

        async def published(
            t: float,
        ) -> tuple[list[cases_pb2.TypicalCase], list[campaigns_pb2.MeasureIssued]]:
            deadline = time.monotonic() + t
            typical, issued = await asyncio.gather(
                every_page(
                    cases.ListTypicalCases,
                    cases_pb2.ListTypicalCasesRequest(campaign_id=query.campaign_id),
                    "typical_cases",
                    md,
                    deadline,
                ),
                every_page(
                    self.backends.campaigns.ListMeasuresIssued,
                    campaigns_pb2.ListMeasuresIssuedRequest(parent=campaign),
                    "measures_issued",
                    md,
                    deadline,
                ),
            )
            return typical, issued

        status_task = asyncio.create_task(self._asked_status(query, md, budget))
        fetched, _ = await per_source(budget, {"cases": published})
        asked, current = await status_task
        typical, measures = fetched.get("cases", ([], []))
        # Within a period narrower than the campaign's: those published or issued in it.
        if asked.dated:
            typical = [t for t in typical if _within(t.publish_time, current)]
            measures = [m for m in measures if _within(m.issue_time, current)]
        measures.sort(key=lambda m: m.issue_time.ToMicroseconds())
        fmt = request.format or pb.BULLETIN_FORMAT_MARKDOWN
        markdown = fmt == pb.BULLETIN_FORMAT_MARKDOWN
        ref = self.rt.settings.reference
        if language == bulletin.CHINESE:
            text = bulletin_zh.render(
                current,
                typical,
                markdown,
                measures,
                names=ref.names("departments", language),
                places=ref.names("regions", language),
            )
        else:
            text = bulletin.render(current, typical, markdown, measures, names=ref.departments)
        return pb.GenerateBulletinResponse(
            text=text,
            format=fmt,
            status=current,
            language=language,
            measures_issued=measures,
        )

    async def Lookup(
        self, request: pb.LookupRequest, context: grpc.aio.ServicerContext
    ) -> pb.LookupResponse:
        q = request.query.strip()
        if not 0 < len(q) <= 256:
            raise InvalidArgument([FieldViolation("query", "required, at most 256 characters")])
        md = forwarded(context)
        budget = self._budget(context)
        own = current_principal().department
        b = self.backends
        calls: dict[str, Callable[[float], Any]] = {}
        if SHA256.match(q):
            calls["sites"] = lambda t: self._content(q.lower(), md, t)
        else:
            account = ACCOUNT_QUERY.match(q)
            if account and "." not in account.group(1):
                calls["accounts"] = lambda t: b.accounts.ListAccounts(
                    accounts_pb2.ListAccountsRequest(
                        platform=account.group(1), platform_uid=account.group(2)
                    ),
                    metadata=md,
                    timeout=t,
                )
            if "." in q and " " not in q:
                calls["sites"] = lambda t: self._sites(q, md, t)
            calls["cases"] = lambda t: b.cases.FindCaseHolders(
                cases_pb2.FindCaseHoldersRequest(number=q[:32]), metadata=md, timeout=t
            )
        results, health = await per_source(budget, calls)
        matches: list[pb.LookupMatch] = []
        for a in getattr(results.get("accounts"), "accounts", []):
            matches.append(
                pb.LookupMatch(
                    kind=pb.MATCH_KIND_ACCOUNT,
                    resource=a.name,
                    summary=f"{a.platform}:{a.platform_uid} {a.handle} "
                    f"({accounts_pb2.AccountStatus.Name(a.status).split('_')[-1].lower()})",
                    departments=a.departments,
                    own=own in a.departments,
                )
            )
        matches += results.get("sites", [])
        for h in getattr(results.get("cases"), "holders", []):
            holders = [h.lead_department, *h.assisting_departments]
            matches.append(
                pb.LookupMatch(
                    kind=pb.MATCH_KIND_CASE,
                    resource=h.case,
                    summary=f"case {q}",
                    departments=holders,
                    own=own in holders,
                )
            )
        for m in matches:
            if not m.own:
                m.own = own in m.departments
        return pb.LookupResponse(matches=matches, sources=[health_row(h) for h in health.values()])

    async def ListCampaigns(
        self, request: pb.ListCampaignsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCampaignsResponse:
        reply = await relayed(
            context,
            self.backends.campaigns.ListCampaigns(
                campaigns_pb2.ListCampaignsRequest(
                    page_size=request.page_size, page_token=request.page_token
                ),
                metadata=forwarded(context),
                timeout=self._budget(context),
            ),
        )
        return pb.ListCampaignsResponse(
            campaigns=reply.campaigns, next_page_token=reply.next_page_token
        )

    async def GetCampaignSeries(
        self, request: pb.GetCampaignSeriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCampaignSeriesResponse:
        return await series.series(
            self.backends,
            self._query(request.query, "query."),
            forwarded(context),
            self._budget(context),
            self._now(),
            self.rt.settings.reference.departments,
        )

    async def ListTypicalCases(
        self, request: pb.ListTypicalCasesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTypicalCasesResponse:
        reply = await relayed(
            context,
            self.backends.cases.ListTypicalCases(
                cases_pb2.ListTypicalCasesRequest(
                    campaign_id=request.campaign_id,
                    page_size=request.page_size,
                    page_token=request.page_token,
                ),
                metadata=forwarded(context),
                timeout=self._budget(context),
            ),
        )
        return pb.ListTypicalCasesResponse(
            typical_cases=reply.typical_cases, next_page_token=reply.next_page_token
        )

    async def ListDeadlines(
        self, request: pb.ListDeadlinesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDeadlinesResponse:
        if not 0 <= request.page_size <= 1000:
            raise InvalidArgument([FieldViolation("page_size", "0 to 1000")])
        size = request.page_size or 100
        md = forwarded(context)
        b = self.backends

        async def overdue_sites(t: float) -> tuple[list[sites_pb2.OverdueSite], bool]:
            reply = await b.sites.ListOverdueSites(
                sites_pb2.ListOverdueSitesRequest(page_size=size), metadata=md, timeout=t
            )
            return list(reply.sites), bool(reply.next_page_token)

        async def handovers(t: float) -> tuple[list[cases_pb2.Handover], bool]:
            replies = await asyncio.gather(
                *(
                    b.cases.ListHandovers(
                        cases_pb2.ListHandoversRequest(
                            page_size=size, incoming=incoming, state=cases_pb2.HANDOVER_STATE_SENT
                        ),
                        metadata=md,
                        timeout=t,
                    )
                    for incoming in (True, False)
                )
            )
            found = {h.name: h for r in replies for h in r.handovers}  # one sent to itself
            ordered = sorted(found.values(), key=lambda h: h.acknowledge_deadline.ToMicroseconds())
            return ordered, any(r.next_page_token for r in replies)

        results, health = await per_source(
            self._budget(context), {"sites": overdue_sites, "cases": handovers}
        )
        sites, more_sites = results.get("sites", ([], False))
        waiting, more_handovers = results.get("cases", ([], False))
        return pb.ListDeadlinesResponse(
            overdue_sites=sites,
            handovers=waiting,
            truncated=more_sites or more_handovers,
            sources=[health_row(h) for h in health.values()],
        )

    async def _sites(self, q: str, md: Metadata, t: float) -> list[pb.LookupMatch]:
        replies = await asyncio.gather(
            *(
                self.backends.sites.ListSites(
                    sites_pb2.ListSitesRequest(kind=kind, identifier=q), metadata=md, timeout=t
                )
                for kind in (sites_pb2.SITE_KIND_WEBSITE, sites_pb2.SITE_KIND_APP)
            ),
            return_exceptions=True,
        )
        matches = []
        for reply in replies:
            if isinstance(reply, grpc.aio.AioRpcError):
                if reply.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    continue  # not a host, or not a package id
                raise reply
            if isinstance(reply, BaseException):
                raise reply
            for s in reply.sites:
                state = sites_pb2.SiteStatus.Name(s.status).removeprefix("SITE_STATUS_").lower()
                matches.append(
                    pb.LookupMatch(
                        kind=pb.MATCH_KIND_SITE,
                        resource=s.name,
                        summary=f"{s.identifier} ({state})",
                        departments=s.departments,
                    )
                )
        return matches

    async def _content(self, sha: str, md: Metadata, t: float) -> list[pb.LookupMatch]:
        reply = await self.backends.sites.LookupContentHash(
            sites_pb2.LookupContentHashRequest(content_sha256=sha, page_size=1),
            metadata=md,
            timeout=t,
        )
        if not reply.dispositions:
            return []
        first = reply.dispositions[0]
        return [
            pb.LookupMatch(
                kind=pb.MATCH_KIND_CONTENT,
                resource=first.name,
                summary=f"content {sha[:12]}… first dealt with at {first.locator}",
                departments=reply.departments,
            )
        ]


async def every_page(
    call: Callable[..., Awaitable[Any]],
    request: Any,
    field: str,
    md: Metadata,
    deadline: float,
) -> list[Any]:
    """Every item of a list call (field: the response's repeated field), page after page of
    the most a page holds, all within one deadline (time.monotonic)."""
    items: list[Any] = []
    request.page_size = MAX_PAGE_SIZE
    while True:
        reply = await call(request, metadata=md, timeout=max(deadline - time.monotonic(), 0.001))
        items += getattr(reply, field)
        if not reply.next_page_token:
            return items
        request.page_token = reply.next_page_token


def _within(when: Timestamp, period: pb.CampaignStatus) -> bool:
    """A time within the status's period (a bound not known does not limit)."""
    us = when.ToMicroseconds()
    return (not period.HasField("start_time") or us >= period.start_time.ToMicroseconds()) and (
        not period.HasField("end_time") or us < period.end_time.ToMicroseconds()
    )


def register(
    server: grpc.aio.Server, runtime: Runtime, addrs: dict[str, str] | None = None
) -> list[str]:
    backends = Backends(addrs, runtime.settings.client_tls)
    runtime.on_stop.append(backends.close)
    pb_grpc.add_GatewayServiceServicer_to_server(GatewayServicer(runtime, backends), server)
    from gateway import revocations  # it uses forwarded() from here

    return [
        pb.DESCRIPTOR.services_by_name["GatewayService"].full_name,
        *revocations.register(server, runtime, backends),
    ]
