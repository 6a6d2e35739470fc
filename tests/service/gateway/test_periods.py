"""Figures dated by when things happened: records of the 2021 campaign entered months later
count in the campaign's period and in the month they happened, against a brute-force count
of what the test wrote; a period holding the campaign's whole period gives the exact distinct
figures; a narrower one counts actions and says so; an unknown campaign is NOT_FOUND."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import campaigns_pb2 as campb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.support.rpc import sha, ts
from tests.support.servers import Tokens

C = "netnet-2021"
JUNE, JULY, AUGUST, SEPTEMBER = (
    int(datetime(2021, m, 1, tzinfo=UTC).timestamp() * 1_000_000) for m in (6, 7, 8, 9)
)
DAY = 86_400 * 1_000_000
TODAY = int(datetime(2021, 11, 15, tzinfo=UTC).timestamp() * 1_000_000)  # entered afterwards
DISTINCT = ("accounts_handled", "sites_closed", "apps_notified", "suspects_detained")
COUNTED = ("notice_batches", "content_direct", "cases_criminal", "typical_cases")


@dataclass
class Ledger:
    """(figure, subject, time) of every record written: the brute-force truth."""

    rows: list[tuple[str, str, int]] = field(default_factory=list)

    def figures(self, start: int | None = None, end: int | None = None) -> dict[str, int]:
        rows = [
            r for r in self.rows if (start is None or r[2] >= start) and (end is None or r[2] < end)
        ]
        out = {f: len({s for g, s, _ in rows if g == f}) for f in DISTINCT}
        out |= {f: sum(1 for g, _, _ in rows if g == f) for f in COUNTED}
        return out

    def actions(self, start: int, end: int) -> dict[str, int]:
        """Every figure as a count of records in [start, end)."""
        return {
            f: sum(1 for g, _, t in self.rows if g == f and start <= t < end)
            for f in DISTINCT + COUNTED
        }


class Writer:
    def __init__(self, api: Stack, tokens: Tokens) -> None:
        self.api, self.tokens, self.ledger, self.n = api, tokens, Ledger(), 0

    def rid(self) -> str:
        self.n += 1
        return f"dated-{self.n}"

    async def account(self, uid: str, at: int) -> None:
        reply = await self.api.accounts.record_action(
            apb.RecordActionRequest(
                action=apb.ActionInput(
                    request_id=self.rid(),
                    account=apb.AccountRef(platform="weibo", platform_uid=uid, kind=1),
                    action=apb.ACTION_TYPE_BAN,
                    category="obscene",
                    department="cac",
                    campaign_id=C,
                    special_action="minors",
                    effective_time=ts(at),
                )
            ),
            metadata=self.tokens("cac"),
        )
        self.ledger.rows.append(("accounts_handled", reply.account.name, at))

    async def close_site(
        self, host: str, at: int, action: int = spb.SITE_ACTION_TYPE_CLOSE
    ) -> None:
        reply = await self.api.sites.record_site_action(
            spb.RecordSiteActionRequest(
                action=spb.SiteActionInput(
                    request_id=self.rid(),
                    site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier=host),
                    action=action,  # type: ignore[arg-type]
                    category="obscene",
                    department="cac",
                    campaign_id=C,
                    effective_time=ts(at),
                )
            ),
            metadata=self.tokens("cac"),
        )
        if action == spb.SITE_ACTION_TYPE_CLOSE:
            self.ledger.rows.append(("sites_closed", reply.site.name, at))

    async def batch(self, apps: Iterable[str], at: int) -> None:
        md = self.tokens("miit")
        batch = (
            await self.api.sites.create_notice_batch(
                spb.CreateNoticeBatchRequest(
                    request_id=self.rid(),
                    batch=spb.NoticeBatch(
                        title="apps",
                        department="miit",
                        category="user_rights",
                        campaign_id=C,
                        due_time=ts(at + 15 * DAY),  # long past today
                    ),
                ),
                metadata=md,
            )
        ).batch
        await self.api.sites.add_notice_entries(
            spb.AddNoticeEntriesRequest(
                request_id=self.rid(),
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
        published = await self.api.sites.publish_notice_batch(
            spb.PublishNoticeBatchRequest(
                request_id=self.rid(), name=batch.name, publish_time=ts(at)
            ),
            metadata=md,
        )
        assert published.batch.publish_time.ToMicroseconds() == at
        self.ledger.rows.append(("notice_batches", batch.name, at))
        for a in apps:
            (app,) = (
                (
                    await self.api.sites.list_sites(
                        spb.ListSitesRequest(kind=spb.SITE_KIND_APP, identifier=a), metadata=md
                    )
                ).response
            ).sites
            self.ledger.rows.append(("apps_notified", app.name, at))

    async def content(self, item: str, at: int) -> None:
        reply = await self.api.sites.record_disposition(
            spb.RecordDispositionRequest(
                disposition=spb.DispositionInput(
                    request_id=self.rid(),
                    site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier="video.example.com"),
                    locator=f"https://video.example.com/{item}",
                    content_sha256=sha(item),
                    category="vulgar",
                    measure=spb.MEASURE_DELETE,
                    handler=spb.HANDLER_DIRECT,
                    department="cac",
                    campaign_id=C,
                    effective_time=ts(at),
                )
            ),
            metadata=self.tokens("cac"),
        )
        self.ledger.rows.append(("content_direct", reply.disposition.name, at))

    async def case(self, number: str, at: int, suspect_at: Iterable[int]) -> cpb.Case:
        mps = self.tokens("mps")
        case = (
            await self.api.cases.create_case(
                cpb.CreateCaseRequest(
                    request_id=self.rid(),
                    case=cpb.Case(
                        number=number,
                        title=f"case {number}",
                        kind=cpb.CASE_KIND_CRIMINAL,
                        lead_department="mps",
                        campaign_id=C,
                        categories=["obscene"],
                        register_time=ts(at),
                    ),
                ),
                metadata=mps,
            )
        ).case
        assert case.register_time.ToMicroseconds() == at
        self.ledger.rows.append(("cases_criminal", case.name, at))
        party = (
            await self.api.cases.add_party(
                cpb.AddPartyRequest(
                    request_id=self.rid(),
                    parent=case.name,
                    party=cpb.Party(kind=cpb.PARTY_KIND_SUSPECT, real_name="Zhang Wei"),
                ),
                metadata=mps,
            )
        ).party
        for when in suspect_at:
            await self.api.cases.record_measure(
                cpb.RecordMeasureRequest(
                    request_id=self.rid(),
                    party=party.name,
                    measure=cpb.MEASURE_CRIMINAL_DETENTION,
                    time=ts(when),
                ),
                metadata=mps,
            )
            self.ledger.rows.append(("suspects_detained", party.name, when))
        return case

    async def typical(self, case: cpb.Case, at: int) -> None:
        got = await self.api.cases.publish_typical_case(
            cpb.PublishTypicalCaseRequest(
                request_id=self.rid(),
                typical_case=cpb.TypicalCase(
                    case=case.name,
                    title=f"The {case.number} case",
                    region="Jinhua",
                    summary="Suspect Zhang XX ran a site.",
                    publish_time=ts(at),
                ),
            ),
            metadata=self.tokens("mps"),
        )
        assert got.typical_case.publish_time.ToMicroseconds() == at
        self.ledger.rows.append(("typical_cases", got.typical_case.name, at))


@pytest.fixture
async def written(stack: Stack, tokens: Tokens, clock: ManualClock) -> Writer:
    """The summer campaign's records, entered in November, each dated when it happened;
    subjects acted on in several months (distinct counts must not double them)."""
    clock.current = TODAY
    api = stack
    await api.campaigns.create_campaign(
        campb.CreateCampaignRequest(
            request_id="campaign",
            campaign=campb.Campaign(
                id=C,
                title="Net Net 2021",
                start_time=ts(JUNE),
                end_time=ts(SEPTEMBER),
                lead_department="office",
                special_actions=[campb.SpecialAction(id="minors", title="Minors")],
            ),
        ),
        metadata=tokens("office", "admin"),
    )
    w = Writer(api, tokens)
    await w.account("u1", JUNE + 2 * DAY)
    await w.account("u1", JULY + 3 * DAY)  # the same account again, a month later
    await w.account("u2", JULY + 4 * DAY)
    await w.account("u3", AUGUST + 30 * DAY)
    await w.close_site("a.example.com", JUNE + 10 * DAY)
    await w.close_site("a.example.com", JUNE + 20 * DAY, spb.SITE_ACTION_TYPE_RESTORE)
    await w.close_site("a.example.com", JULY + 10 * DAY)  # the same site closed again
    await w.close_site("b.example.com", JULY + 11 * DAY)
    await w.batch(["com.bad.one", "com.bad.two"], JULY + 5 * DAY)
    await w.batch(["com.bad.one"], AUGUST + 5 * DAY)  # the same app notified again
    await w.content("i1", JUNE + DAY)
    await w.content("i2", JULY + DAY)
    k1 = await w.case("6·01", JUNE + 5 * DAY, [JUNE + 6 * DAY, JULY + 6 * DAY])
    k2 = await w.case("7·20", JULY + 19 * DAY, [JULY + 20 * DAY])
    await w.case("8·30", AUGUST + 29 * DAY, [])
    await w.typical(k1, JULY + 25 * DAY)
    await w.typical(k2, AUGUST + 25 * DAY)
    return w


async def _status(
    api: Stack, md: list[tuple[str, str]], start: int | None = None, end: int | None = None
) -> pb.CampaignStatus:
    request = pb.GetCampaignStatusRequest(campaign_id=C)
    if start is not None:
        request.start_time.CopyFrom(ts(start))
    if end is not None:
        request.end_time.CopyFrom(ts(end))
    return (await api.gateway.get_campaign_status(request, metadata=md, timeout=5)).status


def _total(status: pb.CampaignStatus) -> dict[str, int | None]:
    return {
        f: getattr(status.total, f) if status.total.HasField(f) else None
        for f in DISTINCT + COUNTED
    }


async def test_the_campaigns_period_gives_every_figure_exactly(
    written: Writer, stack: Stack, tokens: Tokens
) -> None:
    api, office = stack, tokens("office")
    truth = written.ledger.figures()
    assert truth == {
        "accounts_handled": 3,
        "sites_closed": 2,
        "apps_notified": 2,
        "suspects_detained": 2,
        "notice_batches": 2,
        "content_direct": 2,
        "cases_criminal": 3,
        "typical_cases": 2,
    }
    unfiltered = await _status(api, office)
    assert _total(unfiltered) == truth and unfiltered.complete
    for start, end in ((JUNE, SEPTEMBER), (JUNE - 100 * DAY, SEPTEMBER + 100 * DAY), (JUNE, None)):
        status = await _status(api, office, start, end)
        assert status.complete, status.sources
        assert _total(status) == truth, (start, end)
        assert status.total == unfiltered.total
        assert [d.figures for d in status.departments] == [
            d.figures for d in unfiltered.departments
        ]
        assert not status.figure_notes, "exact figures need no note"
        assert status.start_time.ToMicroseconds() == JUNE
        assert status.end_time.ToMicroseconds() == SEPTEMBER

    bulletin = await api.gateway.generate_bulletin(
        pb.GenerateBulletinRequest(campaign_id=C, start_time=ts(JUNE), end_time=ts(SEPTEMBER)),
        metadata=office,
    )
    text = bulletin.text
    assert "From 1 June 2021 to 31 August 2021" in text
    assert "dealt with 3 accounts" in text and "closed 2 websites" in text, text
    assert "investigated and handled 3 administrative and criminal cases" in text, text
    assert "2 typical cases are announced" in text and "count actions" not in text


async def test_a_month_counts_what_happened_in_it_and_says_what_counts_actions(
    written: Writer, stack: Stack, tokens: Tokens
) -> None:
    api, office = stack, tokens("office")
    for start, end in ((JUNE, JULY), (JULY, AUGUST), (AUGUST, SEPTEMBER), (JULY, SEPTEMBER)):
        status = await _status(api, office, start, end)
        assert status.complete
        assert _total(status) == written.ledger.actions(start, end), (start, end)
        # Records made today (November) never fall in a summer month.
        assert {n.figure for n in status.figure_notes} >= set(DISTINCT)
        assert not {n.figure for n in status.figure_notes} & set(COUNTED)
        note = next(n.note for n in status.figure_notes if n.figure == "accounts_handled")
        assert "counts actions" in note and "distinct accounts" in note
    july = await _status(api, office, JULY, AUGUST)
    assert july.total.cases_criminal == 1 and july.total.typical_cases == 1
    assert july.total.notice_batches == 1 and july.total.accounts_handled == 2

    bulletin = await api.gateway.generate_bulletin(
        pb.GenerateBulletinRequest(campaign_id=C, start_time=ts(JULY), end_time=ts(AUGUST)),
        metadata=office,
    )
    text = bulletin.text
    assert "From 1 July 2021 to 31 July 2021" in text
    assert "took 2 actions against accounts" in text, text
    assert "dealt with 2 accounts" not in text
    assert "count actions" in text
    # Only the typical case published in July.
    assert "The 6·01 case" in text and "The 7·20 case" not in text


async def test_an_unknown_campaign_is_not_found(stack: Stack, tokens: Tokens) -> None:
    api, office = stack, tokens("office")
    for call in (
        api.gateway.get_campaign_status(
            pb.GetCampaignStatusRequest(campaign_id="nosuch"), metadata=office, timeout=5
        ),
        api.gateway.get_campaign_status(
            pb.GetCampaignStatusRequest(
                campaign_id="nosuch", start_time=ts(JUNE), end_time=ts(JULY)
            ),
            metadata=office,
            timeout=5,
        ),
        api.gateway.generate_bulletin(
            pb.GenerateBulletinRequest(campaign_id="nosuch"), metadata=office, timeout=5
        ),
    ):
        with pytest.raises(NetNetError) as e:
            await call
        assert e.value.code == grpc.StatusCode.NOT_FOUND, e.value.message
    watch = api.gateway.watch_campaign_status(
        pb.WatchCampaignStatusRequest(query=pb.GetCampaignStatusRequest(campaign_id="nosuch")),
        metadata=office,
        timeout=5,
    )
    with pytest.raises(NetNetError) as e:
        await anext(watch)
    assert e.value.code == grpc.StatusCode.NOT_FOUND
