"""The demo campaign: the 2021 "Net Net" joint campaign of the seed article, loaded through
the public API — its departments and special actions, the five typical cases, and synthetic
records at a configurable scale with the article's proportions. Deterministic request ids make
a second run (or a resumed one) add nothing."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as mpb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import AccountsClient, CasesClient, GatewayClient, SitesClient
from netnet.common.v1 import common_pb2
from netnet.sites.v1 import sites_pb2 as spb
from services.common.auth import issue_token
from services.common.config import reference

CAMPAIGN = "netnet-2021"
START = datetime(2021, 6, 1, tzinfo=UTC)
END = datetime(2021, 9, 1, tzinfo=UTC)
SPECIAL_ACTIONS = (
    ("historical-nihilism", "Rectifying historical nihilism online"),
    ("minors-environment", "Rectifying the online environment for minors"),
    ("fan-circle", "Rectifying online entertainment, fan-circle and hot-ranking chaos"),
    ("app-user-rights", "Apps infringing user rights and interests"),
    ("child-cult-videos", 'Cleaning up "SCP Foundation", "Cartoon Cat" and other cult videos'),
)
# The article's figures (June to August 2021), scaled by the caller.
FIGURES = {
    "cases": 822,
    "content_direct": 400_000,
    "sites_closed": 4_800,
    "content_platform": 20_000_000,
    "accounts": 8_000_000,
    "batches": 6,
    "apps_removed": 250,
    "fan_circle_content": 150_000,
    "fan_circle_accounts": 4_000,
    "fan_circle_groups": 1_300,
}
# What the departments issued or carried out (the article's words): (department, kind,
# title, day issued, special action).
MEASURES_ISSUED = (
    (
        "miit",
        mpb.MEASURE_ISSUED_KIND_INSPECTION,
        "special inspections of apps and platforms of all kinds",
        datetime(2021, 6, 10, tzinfo=UTC),
        "app-user-rights",
    ),
    (
        "nrta",
        mpb.MEASURE_ISSUED_KIND_INSPECTION,
        "content security inspections of key online audio-visual platforms",
        datetime(2021, 6, 15, tzinfo=UTC),
        "",
    ),
    (
        "mct",
        mpb.MEASURE_ISSUED_KIND_INSPECTION,
        "law enforcement inspections of the online cultural market",
        datetime(2021, 6, 20, tzinfo=UTC),
        "child-cult-videos",
    ),
    (
        "cac",
        mpb.MEASURE_ISSUED_KIND_MEASURES,
        "ten measures to rectify fan-circle chaos",
        datetime(2021, 8, 27, tzinfo=UTC),
        "fan-circle",
    ),
    (
        "nppa",
        mpb.MEASURE_ISSUED_KIND_NOTICE,
        "Notice on Further Strictly Managing and Effectively Preventing Minors' Addiction to "
        "Online Games",
        datetime(2021, 8, 30, tzinfo=UTC),
        "minors-environment",
    ),
)
BATCH = 2000
# Shows an import (description, records in all) while it runs; what it yields is told the
# number of records each time a batch is sent (netnet.cli.progress.import_progress).
Meter = Callable[[str, int], AbstractContextManager[Callable[[int], None] | None]]
DETENTION, ARREST = cpb.MEASURE_CRIMINAL_DETENTION, cpb.MEASURE_ARREST

# (number, title, lead region, region words, kind, categories, facts, parties, summary, outcome)
TYPICAL = (
    (
        "JH-2021-01",
        '"Craftsman style" website spreading obscene materials',
        "330700",
        "Jinhua, Zhejiang",
        ["obscene", "harmful_to_minors"],
        dict(items=[("video", 8000), ("picture", 50000)], customers=100000),
        [
            ("江伟明", "principal culprit", [(DETENTION, 40), (ARREST, 60)], 72),
            ("李强", "accomplice", [(DETENTION, 40)], 36),
        ],
        'The persons involved used keywords such as "materials", "national model" and "high '
        'definition" to solicit customers on online shopping platforms, diverted them to social '
        "platforms for private transactions, and enticed them to pay for obscene materials shared "
        "through cloud disks. More than 8,000 obscene videos and more than 50,000 obscene pictures "
        "were involved, disseminated to more than 100,000 customers, most of them minors and "
        "school students.",
        "The principal culprit, 江某某, was sentenced to 6 years' imprisonment and the other "
        "person to 3 years' imprisonment.",
    ),
    (
        "ZS-2021-03",
        "Online obscene live-performance platform",
        "330900",
        "Zhoushan, Zhejiang",
        ["obscene"],
        dict(illegal_gains_fen=3_600_000_000),
        [("Lan Haitao", "organiser", [(DETENTION, 10)], None)],
        'Police went to 7 provinces and cities in a unified operation against the "Chongqing '
        'Kemi Interactive" platform. The suspect Lan XX set up several network technology '
        'companies with others, built a platform and live-streaming apps such as "Meichao", and '
        "organised one-to-one obscene live performances. In 3 months the funds involved exceeded "
        "36 million yuan.",
        "107 suspects were arrested and criminal coercive measures taken against 66 people; the "
        "case is under further investigation.",
    ),
    (
        "5·11",
        '"5·11" case of spreading obscene materials for profit',
        "341124",
        "Quanjiao, Anhui",
        ["obscene"],
        dict(illegal_gains_fen=200_000_000),
        [
            ("Zhu Dawei", "website owner", [(DETENTION, 30)], None),
            ("Liu Chang", "agent", [(DETENTION, 30)], None),
        ],
        "Acting on clues about a QQ group sending links to pornographic websites, transferred by "
        "the Chuzhou City and Quanjiao County offices, the county police found that the suspect "
        "Zhu XX had built a pornographic website, recruited agents to promote it, and laundered "
        "money through a fourth-party payment platform disguised as game-currency top-ups, with "
        "illegal gains of more than 2 million yuan.",
        "The main suspects Zhu, Liu and others have been criminally detained.",
    ),
    (
        "5·03",
        '"May 03" case of using obscene videos to molest minors',
        "510923",
        "Daying, Suining, Sichuan",
        ["csam", "harmful_to_minors"],
        dict(victim_count=0, victims_include_minors=True, data_volume_bytes=500 * 10**9),
        [("Cha Yong", "suspect", [(DETENTION, 20)], None)],
        "Acting on a report, the county police found that the suspect had posed as a student on "
        "social software to chat with underage girls, tempted and threatened them into taking "
        "naked photos and videos, and spread more than 500 gigabytes of such material through "
        "online disks and forums. The victims were all girls between 9 and 14.",
        "Cha XX has been criminally detained.",
    ),
    (
        "6·07",
        '"6·07" online copyright infringement case',
        "421126",
        "Qichun, Huanggang, Hubei",
        ["copyright"],
        dict(illegal_gains_fen=400_000_000, items=[("game", 800)]),
        [("Cheng Gang", "company founder", [(ARREST, 50)], None)]
        + [
            (name, "employee", [(ARREST, 50)], None)
            for name in ("Wang Lei", "Zhao Peng", "Sun Hao", "Zhou Jie")
        ],
        "The suspect Cheng XX set up a network technology company, downloaded more than 800 "
        "genuine games from platforms in the second half of 2018, inserted advertisements and "
        "sold the modified games online without the copyright holders' permission, for illegal "
        "profits of more than 4 million yuan.",
        "Five suspects have been arrested; the case is under further investigation.",
    ),
)


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def _unmetered(description: str, total: int) -> AbstractContextManager[None]:
    return nullcontext()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Demo:
    """Loads through the SDK's clients; each call carries the token of the department that
    makes it (the clients themselves hold none)."""

    def __init__(self, addrs: dict[str, str], key: Any, scale: float) -> None:
        self.accounts = AccountsClient(addrs["accounts"], token="")
        self.sites = SitesClient(addrs["sites"], token="")
        self.cases = CasesClient(addrs["cases"], token="")
        self.gateway = GatewayClient(addrs["gateway"], token="")
        self.key = key
        self.scale = scale
        self.rng = random.Random(2021)
        self.departments = reference().departments

    async def close(self) -> None:
        for client in (self.accounts, self.sites, self.cases, self.gateway):
            await client.close()

    def md(self, department: str, *roles: str) -> list[tuple[str, str]]:
        token = issue_token(
            self.key,
            operator=f"demo-{department}",
            department=department,
            roles=list(roles or ("operator",)),
            ttl_seconds=3600,
            known=self.departments,
        )
        return [("authorization", f"Bearer {token}")]

    def n(self, figure: str) -> int:
        return max(1, round(FIGURES[figure] * self.scale))

    @staticmethod
    def when(i: int) -> datetime:
        """A time in the campaign period, the same for the same record every run."""
        return START + timedelta(seconds=i * 7919 % int((END - START).total_seconds()))

    @staticmethod
    def published(batch: int) -> datetime:
        """When notice batch `batch` was published: weekly from 10 June (its notices are due
        15 days later, and the apps still at fault removed the day after)."""
        return START + timedelta(days=9 + 7 * batch % 63, hours=10)

    async def load(
        self, progress: Callable[[str], None] = print, meter: Meter | None = None
    ) -> None:
        await self.cases.create_campaign(
            request_id="demo-campaign",
            campaign=mpb.Campaign(
                id=CAMPAIGN,
                title='"Net Net" joint campaign 2021',
                start_time=ts(START),
                end_time=ts(END),
                lead_department="office",
                participating_departments=["cpd", "cac", "miit", "mps", "mct", "nrta", "nppa"],
                special_actions=[mpb.SpecialAction(id=i, title=t) for i, t in SPECIAL_ACTIONS],
            ),
            metadata=self.md("office", "admin"),
        )
        progress("campaign netnet-2021 created")
        await self.typical_cases()
        progress("5 typical cases entered and published")
        await self.measures_issued()
        progress(f"{len(MEASURES_ISSUED)} measures issued recorded")
        await self.more_cases()
        await self.websites_and_apps()
        progress("websites, apps and notice batches recorded")
        summary = await self.import_accounts(meter)
        progress(
            f"accounts imported: {summary.accepted:,} accepted, {summary.duplicates:,} "
            "already there"
        )
        summary = await self.import_content(meter)
        progress(
            f"content dispositions imported: {summary.accepted:,} accepted, "
            f"{summary.duplicates:,} already there"
        )

    async def _case(
        self,
        number: str,
        title: str,
        region: str,
        categories: list[str],
        facts: dict[str, Any],
        registered: datetime,
        kind: int = cpb.CASE_KIND_CRIMINAL,
        special: str = "",
    ) -> cpb.Case:
        reply = await self.cases.create_case(
            cpb.CreateCaseRequest(
                request_id=f"demo-case-{number}",
                case=cpb.Case(
                    number=number,
                    title=title,
                    kind=kind,
                    lead_department="mps",  # type: ignore[arg-type]
                    lead_region=region,
                    assisting_departments=["cac"],
                    categories=categories,
                    campaign_id=CAMPAIGN,
                    special_action=special,
                    register_time=ts(registered),
                    facts=cpb.CaseFacts(
                        **{
                            **facts,
                            "items": [
                                cpb.ItemCount(type=t, count=n) for t, n in facts.get("items", [])
                            ],
                        }
                    ),
                ),
            ),
            metadata=self.md("mps"),
        )  # type: ignore[arg-type]
        return reply.case

    async def typical_cases(self) -> None:
        mps = self.md("mps")
        k = -1
        for number, title, region, words, cats, facts, parties, summary, outcome in TYPICAL:
            k += 1
            case = await self._case(
                number,
                title,
                region,
                cats,
                facts,
                self.when(1000 + k),
                special="minors-environment" if "harmful_to_minors" in cats else "",
            )
            for i, (name, role, measures, months) in enumerate(parties):
                party = (
                    await self.cases.add_party(
                        cpb.AddPartyRequest(
                            request_id=f"demo-party-{number}-{i}",
                            parent=case.name,
                            party=cpb.Party(kind=cpb.PARTY_KIND_SUSPECT, real_name=name, role=role),
                        ),
                        metadata=mps,
                    )
                ).party
                for j, (measure, day) in enumerate(measures):
                    await self.cases.record_measure(
                        cpb.RecordMeasureRequest(
                            request_id=f"demo-measure-{number}-{i}-{j}",
                            party=party.name,
                            measure=measure,
                            time=ts(START + timedelta(days=day)),
                        ),
                        metadata=mps,
                    )
                if months:
                    await self.cases.record_sentence(
                        cpb.RecordSentenceRequest(
                            request_id=f"demo-sentence-{number}-{i}",
                            party=party.name,
                            sentence=cpb.Sentence(
                                term_months=months, time=ts(START + timedelta(days=80))
                            ),
                        ),
                        metadata=mps,
                    )
            # The police vet the text (they see the real names); the office publishes it.
            draft = await self.cases.draft_typical_case(
                cpb.DraftTypicalCaseRequest(
                    request_id=f"demo-draft-{number}",
                    typical_case=cpb.TypicalCase(
                        case=case.name,
                        title=title,
                        region=words,
                        summary=summary,
                        outcome=outcome,
                    ),
                ),
                metadata=mps,
            )
            await self.cases.publish_typical_case(
                cpb.PublishTypicalCaseRequest(
                    request_id=f"demo-typical-{number}",
                    typical_case=cpb.TypicalCase(
                        name=draft.typical_case.name,
                        publish_time=ts(START + timedelta(days=85, hours=k)),
                    ),
                ),
                metadata=self.md("office"),
            )

    async def measures_issued(self) -> None:
        for i, (department, kind, title, day, special) in enumerate(MEASURES_ISSUED):
            await self.cases.record_measure_issued(
                mpb.RecordMeasureIssuedRequest(
                    request_id=f"demo-measure-issued-{i}",
                    parent=f"campaigns/{CAMPAIGN}",
                    measure_issued=mpb.MeasureIssued(
                        title=title,
                        department=department,
                        kind=kind,
                        issue_time=ts(day),
                        special_action=special,
                    ),
                ),
                metadata=self.md(department),
            )

    async def more_cases(self) -> None:
        for i in range(max(0, self.n("cases") - len(TYPICAL))):
            kind = cpb.CASE_KIND_ADMINISTRATIVE if i % 3 else cpb.CASE_KIND_CRIMINAL
            await self._case(
                f"D-{i:04d}",
                f"Synthetic case {i}",
                "110000",
                [
                    self.rng.choice(
                        [
                            "obscene",
                            "vulgar",
                            "illegal_publication",
                            "copyright",
                            "harmful_to_minors",
                        ]
                    )
                ],
                {"illegal_gains_fen": self.rng.randrange(10**7)},
                self.when(2000 + i),
                kind,
            )

    async def websites_and_apps(self) -> None:
        for i in range(self.n("sites_closed")):
            department = ("cac", "miit", "mps")[i % 3]
            action = spb.SITE_ACTION_TYPE_CLOSE if i % 2 else spb.SITE_ACTION_TYPE_BAN
            await self.sites.record_site_action(
                spb.RecordSiteActionRequest(
                    action=spb.SiteActionInput(
                        request_id=f"demo-site-{i}",
                        site=spb.SiteRef(
                            kind=spb.SITE_KIND_WEBSITE, identifier=f"site{i}.example.cn"
                        ),
                        action=action,
                        category="obscene",
                        department=department,
                        campaign_id=CAMPAIGN,
                        effective_time=ts(self.when(i)),
                    )
                ),
                metadata=self.md(department),
            )
        miit = self.md("miit")
        apps_per_batch = max(2, self.n("apps_removed") // self.n("batches") + 1)
        for b in range(self.n("batches")):
            batch = (
                await self.sites.create_notice_batch(
                    spb.CreateNoticeBatchRequest(
                        request_id=f"demo-batch-{b}",
                        batch=spb.NoticeBatch(
                            title=f"Apps infringing user rights, batch {b + 1}",
                            department="miit",
                            category="user_rights",
                            campaign_id=CAMPAIGN,
                            special_action="app-user-rights",
                            due_time=ts(self.published(b) + timedelta(days=15)),
                        ),
                    ),
                    metadata=miit,
                )
            ).batch
            if batch.state == spb.NOTICE_BATCH_STATE_PUBLISHED:
                continue
            entries = [
                spb.NoticeEntry(
                    site=spb.SiteRef(kind=spb.SITE_KIND_APP, identifier=f"cn.demo.app{b}x{i}"),
                    problems=["collects personal information without consent"],
                )
                for i in range(apps_per_batch)
            ]
            if not batch.entry_count:
                await self.sites.add_notice_entries(
                    spb.AddNoticeEntriesRequest(
                        request_id=f"demo-entries-{b}", batch=batch.name, entries=entries
                    ),
                    metadata=miit,
                )
            await self.sites.publish_notice_batch(
                spb.PublishNoticeBatchRequest(
                    request_id=f"demo-publish-{b}",
                    name=batch.name,
                    publish_time=ts(self.published(b)),
                ),
                metadata=miit,
            )
        for i in range(self.n("apps_removed")):
            b, j = divmod(i, apps_per_batch)
            await self.sites.record_site_action(
                spb.RecordSiteActionRequest(
                    action=spb.SiteActionInput(
                        request_id=f"demo-remove-{i}",
                        site=spb.SiteRef(
                            kind=spb.SITE_KIND_APP,
                            identifier=f"cn.demo.app{b % self.n('batches')}x{j}",
                        ),
                        action=spb.SITE_ACTION_TYPE_REMOVE_FROM_STORES,
                        category="user_rights",
                        department="miit",
                        campaign_id=CAMPAIGN,
                        special_action="app-user-rights",
                        # Overdue: removed the day after the notice's due time.
                        effective_time=ts(
                            self.published(b % self.n("batches")) + timedelta(days=16)
                        ),
                    )
                ),
                metadata=miit,
            )

    def _account_records(self) -> Iterator[apb.ActionInput]:
        total, fan = self.n("accounts"), self.n("fan_circle_accounts")
        groups = self.n("fan_circle_groups")
        for i in range(total + groups):
            group = i >= total
            department = "cac" if group or i < fan or i % 10 < 7 else ("nrta", "mct", "mps")[i % 3]
            yield apb.ActionInput(
                request_id=f"demo-account-{i}",
                account=apb.AccountRef(
                    platform=("weibo", "douyin", "qq", "wechat")[i % 4],
                    platform_uid=f"d{i}",
                    kind=apb.ACCOUNT_KIND_GROUP if group else apb.ACCOUNT_KIND_USER,
                ),
                action=apb.ACTION_TYPE_CLOSE_GROUP if group else apb.ACTION_TYPE_BAN,
                category=("vulgar", "obscene", "harmful_to_minors", "fraud")[i % 4],
                department=department,
                campaign_id=CAMPAIGN,
                special_action="fan-circle" if group or i < fan else "",
                effective_time=ts(self.when(i)),
            )

    def _content_records(self) -> Iterator[spb.DispositionInput]:
        direct, platform = self.n("content_direct"), self.n("content_platform")
        fan = min(direct, self.n("fan_circle_content"))
        for i in range(direct + platform):
            by_platform = i >= direct
            department = "cac" if i < fan or by_platform or i % 3 == 0 else ("mct", "nrta")[i % 2]
            yield spb.DispositionInput(
                request_id=f"demo-content-{i}",
                site=spb.SiteRef(
                    kind=spb.SITE_KIND_WEBSITE,
                    identifier=("weibo.com", "douyin.com", "bilibili.com", "qq.com")[i % 4],
                ),
                locator=f"https://content.example/{i}",
                content_sha256=_sha(f"item-{i % 50000}"),
                category=("vulgar", "obscene", "harmful_to_minors")[i % 3],
                measure=spb.MEASURE_DELETE if i % 5 else spb.MEASURE_BLOCK,
                handler=spb.HANDLER_PLATFORM if by_platform else spb.HANDLER_DIRECT,
                department=department,
                campaign_id=CAMPAIGN,
                special_action="fan-circle"
                if i < fan
                else ("child-cult-videos" if department == "mct" else ""),
                effective_time=ts(self.when(i)),
            )

    async def import_accounts(self, meter: Meter | None = None) -> common_pb2.ImportSummary:
        count = self.n("accounts") + self.n("fan_circle_groups")
        with (meter or _unmetered)("accounts", count) as advance:
            return await self._import("accounts", self._account_records, advance)

    async def import_content(self, meter: Meter | None = None) -> common_pb2.ImportSummary:
        count = self.n("content_direct") + self.n("content_platform")
        with (meter or _unmetered)("content", count) as advance:
            return await self._import("sites", self._content_records, advance)

    async def _import(
        self,
        service: str,
        records: Callable[[], Iterator[Any]],
        on_batch: Callable[[int], None] | None,
    ) -> common_pb2.ImportSummary:
        """One client stream per department (a department imports only its own records)."""
        total = common_pb2.ImportSummary()
        client = self.accounts if service == "accounts" else self.sites
        method = getattr(
            client.stub, "ImportActions" if service == "accounts" else "ImportDispositions"
        )
        for department in sorted({r.department for r in records()}):
            reply = await client.import_batches(
                method,
                (r for r in records() if r.department == department),
                partial(self._batch, service),
                BATCH,
                on_batch=on_batch,
                metadata=self.md(department),
            )
            for field in ("accepted", "duplicates", "rejected"):
                setattr(total, field, getattr(total, field) + getattr(reply.summary, field))
        return total

    @staticmethod
    def _batch(service: str, chunk: list[Any]) -> Any:
        if service == "accounts":
            return apb.ImportActionsRequest(actions=chunk)
        return spb.ImportDispositionsRequest(dispositions=chunk)
