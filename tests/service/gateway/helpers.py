"""Builders shared by the gateway tests: a recorder that writes through the services' own APIs
and keeps a ledger of what it wrote (the brute-force truth), typed stubs, a TCP proxy that can
hold a source, and a restart of a stopped source on its old port."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as campb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from services.common.config import reference
from services.common.server import RunningServer, ServiceSpec, start

if TYPE_CHECKING:
    from netnet.accounts.v1.accounts_pb2_grpc import AccountServiceAsyncStub
    from netnet.cases.v1.campaigns_pb2_grpc import CampaignServiceAsyncStub
    from netnet.cases.v1.cases_pb2_grpc import CaseServiceAsyncStub
    from netnet.gateway.v1.gateway_pb2_grpc import GatewayServiceAsyncStub
    from netnet.sites.v1.sites_pb2_grpc import SiteServiceAsyncStub
    from tests.conftest import Tokens
    from tests.service.gateway.conftest import Stack
else:
    AccountServiceAsyncStub = CampaignServiceAsyncStub = CaseServiceAsyncStub = Any
    GatewayServiceAsyncStub = SiteServiceAsyncStub = Tokens = Stack = Any

Metadata = list[tuple[str, str]]
DAY_US = 86_400 * 1_000_000
FIGURES = tuple(f.name for f in pb.Figures.DESCRIPTOR.fields)
SOURCE_OF = {
    "accounts": ("accounts_handled", "groups_handled", "groups_closed"),
    "sites": (
        "sites_banned_or_closed",
        "sites_closed",
        "sites_banned",
        "apps_notified",
        "apps_removed",
        "notice_batches",
        "content_direct",
        "content_platform",
    ),
    "cases": (
        "cases_administrative",
        "cases_criminal",
        "suspects_detained",
        "suspects_arrested",
        "typical_cases",
        "illegal_gains_fen",
    ),
}
assert sorted(f for fs in SOURCE_OF.values() for f in fs) == sorted(FIGURES)

DEPARTMENT_NAMES = reference({}).departments


def ts(us: int) -> Timestamp:
    t = Timestamp()
    t.FromMicroseconds(us)
    return t


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Api:
    """The stack's stubs, typed as the asyncio stubs they are."""

    gateway: GatewayServiceAsyncStub
    accounts: AccountServiceAsyncStub
    sites: SiteServiceAsyncStub
    cases: CaseServiceAsyncStub
    campaigns: CampaignServiceAsyncStub

    @classmethod
    def of(cls, stack: Stack) -> Api:
        return cls(
            cast(Any, stack.gateway),
            cast(Any, stack.accounts),
            cast(Any, stack.sites),
            cast(Any, stack.cases),
            cast(Any, stack.campaigns),
        )


# --- the ledger: what the test wrote, counted by brute force --------------------------------


@dataclass(frozen=True)
class Rec:
    """One live record as the test wrote it. kind: account, group, site, app, batch, content,
    case, measure, typical; subject: what distinct counts count (account, site, party)."""

    kind: str
    action: str
    subject: str
    department: str
    campaign: str
    special_action: str
    value: int = 1


# figure -> (record kinds, action or actions (None: any), distinct subjects?)
RULES: dict[str, tuple[tuple[str, ...], str | tuple[str, ...] | None, bool]] = {
    "accounts_handled": (("account",), None, True),
    "groups_handled": (("group",), None, True),
    "groups_closed": (("group",), "close_group", True),
    "sites_banned_or_closed": (("site", "app"), ("ban", "close"), True),
    "sites_closed": (("site", "app"), "close", True),
    "sites_banned": (("site", "app"), "ban", True),
    "apps_notified": (("app",), "notify_rectification", True),
    "apps_removed": (("app",), "remove_from_stores", True),
    "notice_batches": (("batch",), None, False),
    "content_direct": (("content",), "direct", False),
    "content_platform": (("content",), "platform", False),
    "cases_administrative": (("case",), "administrative", False),
    "cases_criminal": (("case",), "criminal", False),
    "suspects_detained": (("measure",), "criminal_detention", True),
    "suspects_arrested": (("measure",), "arrest", True),
    "typical_cases": (("typical",), None, False),
    "illegal_gains_fen": (("gains",), None, False),
}
assert sorted(RULES) == sorted(FIGURES)


@dataclass
class Ledger:
    records: list[Rec] = field(default_factory=list)

    def add(self, rec: Rec) -> None:
        self.records.append(rec)

    def remove(self, rec: Rec) -> None:
        self.records.remove(rec)

    def select(
        self,
        campaign: str,
        departments: Iterable[str] = (),
        special_action: str | None = None,
    ) -> list[Rec]:
        wanted = set(departments)
        return [
            r
            for r in self.records
            if r.campaign == campaign
            and (not wanted or r.department in wanted)
            and (special_action is None or r.special_action == special_action)
        ]

    def figures(
        self,
        campaign: str,
        departments: Iterable[str] = (),
        special_action: str | None = None,
        *,
        distinct_known: bool = True,
    ) -> dict[str, int | None]:
        """Every figure counted the slow way over the records themselves. distinct_known=False:
        distinct counts that the rollups cannot give exactly are expected unknown (None)."""
        records = self.select(campaign, departments, special_action)
        out: dict[str, int | None] = {}
        for figure, (kinds, action, distinct) in RULES.items():
            actions = (action,) if isinstance(action, str) else action
            hits = [r for r in records if r.kind in kinds and (not actions or r.action in actions)]
            if not distinct:
                out[figure] = sum(r.value for r in hits)
            elif hits and not distinct_known:
                out[figure] = None
            else:
                out[figure] = len({r.subject for r in hits})
        return out

    def departments(self, campaign: str) -> list[str]:
        seen = {r.department for r in self.select(campaign)}
        return [d for d in DEPARTMENT_NAMES if d in seen]

    def special_actions(self, campaign: str) -> set[str]:
        return {r.special_action for r in self.select(campaign) if r.special_action}


def figures_of(f: pb.Figures) -> dict[str, int | None]:
    """All figures, None where unset (a source that did not answer)."""
    return {name: getattr(f, name) if f.HasField(name) else None for name in FIGURES}


def expect_status(
    status: pb.CampaignStatus,
    ledger: Ledger,
    campaign: str,
    departments: list[str] | None = None,
    titles: dict[str, str] | None = None,
) -> None:
    """The status equals the brute-force counts of the ledger, row by row. Across several
    departments the rollups keep no exact distinct count (a subject two of them acted on
    would count twice): such figures of the total and special-action rows must be unset,
    never a record count passed off as distinct subjects."""
    one = not departments or len(departments) == 1
    assert status.complete, status.sources
    assert status.campaign_id == campaign
    assert [s.state for s in status.sources] == [pb.SOURCE_STATE_OK] * 3, status.sources
    wanted = departments or ledger.departments(campaign)
    rows = {d.department: d for d in status.departments}
    assert [d.department for d in status.departments] == wanted
    for d in wanted:
        assert rows[d].department_name == DEPARTMENT_NAMES[d]
        got, want = figures_of(rows[d].figures), ledger.figures(campaign, [d])
        assert got == want, (d, _diff(got, want))
    specials = {s.special_action: s for s in status.special_actions}
    expected_specials = ledger.special_actions(campaign) | set(titles or {})
    assert set(specials) == expected_specials
    for s in expected_specials:
        assert specials[s].title == (titles or {}).get(s, s)
        got = figures_of(specials[s].figures)
        want = ledger.figures(campaign, departments or (), s, distinct_known=one)
        assert got == want, (s, departments, _diff(got, want))
    got, want = (
        figures_of(status.total),
        ledger.figures(campaign, departments or (), distinct_known=one),
    )
    assert got == want, ("total", departments, _diff(got, want))


def _diff(
    got: dict[str, int | None], want: dict[str, int | None]
) -> dict[str, tuple[int | None, int | None]]:
    return {k: (got[k], want[k]) for k in want if got[k] != want[k]}


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

    def __init__(self, api: Api, tokens: Tokens, clock: ManualClock) -> None:
        self.api, self.tokens, self.clock = api, tokens, clock
        self.ledger = Ledger()
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
        reply = await self.api.campaigns.CreateCampaign(
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
        reply = await self.api.accounts.RecordAction(
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
        await self.api.accounts.RetractAction(
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
        reply = await self.api.sites.RecordSiteAction(
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
            await self.api.sites.CreateNoticeBatch(
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
        await self.api.sites.AddNoticeEntries(
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
            await self.api.sites.PublishNoticeBatch(
                spb.PublishNoticeBatchRequest(request_id=self.rid("publish"), name=batch.name),
                metadata=md,
            )
        ).batch
        self.ledger.add(Rec("batch", "published", batch.name, department, campaign, special_action))
        for a in apps:
            found = await self.api.sites.ListSites(
                spb.ListSitesRequest(kind=spb.SITE_KIND_APP, identifier=a), metadata=md
            )
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
        reply = await self.api.sites.RecordDisposition(
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
    ) -> cpb.Case:
        reply = await self.api.cases.CreateCase(
            cpb.CreateCaseRequest(
                request_id=self.rid("case"),
                case=cpb.Case(
                    number=number,
                    title=title or f"case {number}",
                    kind=kind,  # type: ignore[arg-type]
                    lead_department=department,
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
        reply = await self.api.cases.AddParty(
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
        await self.api.cases.RecordMeasure(
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
        reply = await self.api.cases.PublishTypicalCase(
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
    api: Api, md: Metadata, campaign: str, departments: Iterable[str] = (), deadline: float = 3
) -> pb.CampaignStatus:
    reply = await api.gateway.GetCampaignStatus(
        pb.GetCampaignStatusRequest(campaign_id=campaign, departments=list(departments)),
        metadata=md,
        timeout=deadline,
    )
    return reply.status


def state_of(status: pb.CampaignStatus, source: str) -> int:
    (row,) = [s for s in status.sources if s.source == source]
    return row.state


async def next_matching(
    call: grpc.aio.UnaryStreamCall[pb.WatchCampaignStatusRequest, pb.WatchCampaignStatusResponse],
    accept: Callable[[pb.WatchCampaignStatusResponse], bool],
    within: float,
) -> tuple[pb.WatchCampaignStatusResponse, int]:
    """The first streamed status that accept() takes, and how many were read to get it."""

    async def scan() -> tuple[pb.WatchCampaignStatusResponse, int]:
        seen = 0
        while True:
            reply = await call.read()
            if reply is grpc.aio.EOF:
                raise AssertionError(f"the status stream ended: {await call.code()}")
            assert isinstance(reply, pb.WatchCampaignStatusResponse)
            seen += 1
            if accept(reply):
                return reply, seen

    return await asyncio.wait_for(scan(), within)


async def restart(server: RunningServer, spec: ServiceSpec, clock: ManualClock) -> RunningServer:
    """A new server for a stopped one: same data directory, same port."""
    settings = replace(server.runtime.settings, addr=f"127.0.0.1:{server.port}")
    again = await start(spec, settings, clock)
    assert again.port == server.port
    return again


# --- a TCP proxy that can hold a source --------------------------------------------------------


class TcpProxy:
    """Forwards bytes between the gateway and one source; hold() stops forwarding (both ways)
    until release(). Controlled by an event: nothing here sleeps."""

    def __init__(self) -> None:
        self.port = 0
        self._target: int | None = None
        self._target_known = asyncio.Event()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def point_at(self, port: int) -> None:
        self._target = port
        self._target_known.set()

    def hold(self) -> None:
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        await self._target_known.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        self.release()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def unset(f: pb.Figures, source: str) -> bool:
    return all(not f.HasField(name) for name in SOURCE_OF[source])


def intact(f: pb.Figures, source: str) -> bool:
    return all(f.HasField(name) for name in SOURCE_OF[source])


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The reason of the google.rpc.ErrorInfo detail in the error's trailers."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no google.rpc.Status in the trailers"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo detail")
