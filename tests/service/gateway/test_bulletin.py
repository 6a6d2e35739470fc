"""The campaign bulletin: made from live data, figures written as people write them (exact
ones in the returned status), a paragraph per department with figures, the special actions
by title, the published typical cases, and never a party's real name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from gateway.bulletin import people_number, render
from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from services.common.config import reference
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.support.oracles import Rec, expect_status
from tests.support.rpc import sha
from tests.support.servers import Tokens

C, OTHER = "netnet-2021", "other-2021"
SPECIALS = {
    "minors": "Rectifying the online environment of minors",
    "fan-circle": "Rectifying fan-circle chaos",
    "games": "Preventing minors' gaming addiction",  # nothing recorded: no line
}
REAL_NAMES = ("Zhu Xiaoming", "Liu Dawei", "Jiang Mingyu", "蔡小明")
# Parts of the real names that identify on their own (given names).
NAME_PARTS = ("Xiaoming", "Dawei", "Mingyu", "小明")
USERS, GROUPS = 4_861, 12  # "more than 4,800" accounts, and 12 groups apart from them
DIRECT, PLATFORM = 1_234, 2_050  # "more than 1,200", "more than 2,000"

DEPARTMENT_NAMES = reference({}).departments


@pytest.mark.parametrize(
    ("n", "written"),
    [
        (0, "0"),
        (1, "1"),
        (822, "822"),
        (999, "999"),
        (1_000, "1,000"),
        (1_299, "more than 1,200"),
        (4_873, "more than 4,800"),
        (20_000, "20,000"),
        (400_123, "more than 400,000"),
        (1_000_000, "1 million"),
        (8_123_456, "more than 8.1 million"),
        (8_000_000, "8 million"),
        (20_000_000, "20 million"),
        (36_512_000, "more than 36 million"),
    ],
)
def test_people_number(n: int, written: str) -> None:
    assert people_number(n) == written


def test_groups_and_sites_banned_or_closed_in_words() -> None:
    """The fan-circle line of the release: accounts and groups apart, and the sites banned or
    closed as one figure with its parts."""
    figures = pb.Figures(
        accounts_handled=40,
        groups_closed=13,
        groups_handled=13,
        sites_banned_or_closed=3,
        sites_closed=2,
        sites_banned=2,
    )
    status = pb.CampaignStatus(
        campaign_id="netnet",
        special_actions=[
            pb.SpecialActionFigures(special_action="fan", title="Fan", figures=figures)
        ],
    )
    text = render(status, [], markdown=False)
    line = next(x for x in text.splitlines() if x.startswith("- Fan: "))
    assert line == (
        "- Fan: banned or closed 3 websites (2 closed, 2 banned), dealt with 40 accounts and "
        "closed 13 problematic groups."
    )


async def import_accounts(rec: Recorder) -> None:
    def action(i: int) -> apb.ActionInput:
        group = i >= USERS
        return apb.ActionInput(
            request_id=f"import-{i}",
            account=apb.AccountRef(
                platform="qq" if group else "weibo",
                platform_uid=f"bulk-{i}",
                kind=apb.ACCOUNT_KIND_GROUP if group else apb.ACCOUNT_KIND_USER,
            ),
            action=apb.ACTION_TYPE_CLOSE_GROUP if group else apb.ACTION_TYPE_BAN,
            category="vulgar",
            department="cac",
            campaign_id=C,
            special_action="fan-circle" if i % 3 == 0 else "",
        )

    items = [action(i) for i in range(USERS + GROUPS)]

    async def batches() -> AsyncIterator[apb.ImportActionsRequest]:
        for start in range(0, len(items), 2_000):
            yield apb.ImportActionsRequest(actions=items[start : start + 2_000])

    reply = await rec.api.accounts.import_actions(batches(), metadata=rec.md("cac"))
    assert reply.summary.accepted == len(items), reply.summary
    for a in items:
        name = "close_group" if a.action == apb.ACTION_TYPE_CLOSE_GROUP else "ban"
        uid = f"{a.account.platform}:{a.account.platform_uid}"
        kind = "group" if a.account.kind == apb.ACCOUNT_KIND_GROUP else "account"
        rec.ledger.add(Rec(kind, name, uid, "cac", C, a.special_action))


async def import_content(rec: Recorder) -> None:
    items = [
        spb.DispositionInput(
            request_id=f"content-{i}",
            site=spb.SiteRef(kind=spb.SITE_KIND_WEBSITE, identifier=f"host{i % 7}.example.com"),
            locator=f"https://host{i % 7}.example.com/v/{i}",
            content_sha256=sha(f"item-{i}"),
            category="vulgar",
            measure=spb.MEASURE_DELETE,
            handler=spb.HANDLER_DIRECT if i < DIRECT else spb.HANDLER_PLATFORM,
            department="cac",
            campaign_id=C,
            special_action="minors" if i % 2 else "",
        )
        for i in range(DIRECT + PLATFORM)
    ]

    async def batches() -> AsyncIterator[spb.ImportDispositionsRequest]:
        for start in range(0, len(items), 2_000):
            yield spb.ImportDispositionsRequest(dispositions=items[start : start + 2_000])

    reply = await rec.api.sites.import_dispositions(batches(), metadata=rec.md("cac"))
    assert reply.summary.accepted == len(items), reply.summary
    for d in items:
        handler = "direct" if d.handler == spb.HANDLER_DIRECT else "platform"
        rec.ledger.add(Rec("content", handler, d.request_id, "cac", C, d.special_action))


async def seed(rec: Recorder) -> list[cpb.TypicalCase]:
    """The campaign (made by an office admin) and records from five departments."""
    await rec.campaign(C, "Net Net 2021", SPECIALS.items())
    await rec.campaign(OTHER, "Another campaign")
    await import_accounts(rec)
    await import_content(rec)
    s = spb
    for i in range(5):
        await rec.site("cac", f"porn{i}.example.com", s.SITE_ACTION_TYPE_CLOSE, C, "minors")
    for i in range(3):
        await rec.site("mct", f"cult{i}.example.com", s.SITE_ACTION_TYPE_BAN, C)
    await rec.notice_batch("miit", [f"com.bad.app{i}" for i in range(4)], C)
    await rec.notice_batch("miit", ["com.bad.app4", "com.bad.app5"], C, "minors")
    for i in (1, 4):
        await rec.site(
            "miit",
            f"com.bad.app{i}",
            s.SITE_ACTION_TYPE_REMOVE_FROM_STORES,
            C,
            kind=s.SITE_KIND_APP,
        )
    await rec.site("nppa", "leak.example.com", s.SITE_ACTION_TYPE_BAN, OTHER)  # another campaign

    crim = cpb.CASE_KIND_CRIMINAL
    k511 = await rec.case("mps", "5·11", crim, C, "minors", gains_fen=200_000_000)
    zhu = await rec.party(k511.name, "Zhu Xiaoming", "principal culprit")
    liu = await rec.party(k511.name, "Liu Dawei", "agent")
    for party in (zhu, liu):
        await rec.measure(party.name, cpb.MEASURE_CRIMINAL_DETENTION)
    jinhua = await rec.case("mps", "JH-1", crim, C, gains_fen=36_000_000)
    jiang = await rec.party(jinhua.name, "Jiang Mingyu", "principal culprit")
    await rec.measure(jiang.name, cpb.MEASURE_ARREST)
    k503 = await rec.case("mps", "5·03", crim, C)
    await rec.party(k503.name, "蔡小明")
    await rec.case("mct", "M-1", cpb.CASE_KIND_ADMINISTRATIVE, C, "fan-circle")
    typical = [
        await rec.typical(
            k511.name,
            "The '5·11' case of spreading obscene materials for profit",
            "Quanjiao, Anhui",
            "The suspect Zhu XX created a pornographic website on his own and recruited agents "
            "to promote it, obtaining illegal benefits of more than 2 million yuan.",
            "The main suspects Zhu XX and Liu XX have been criminally detained.",
        ),
        await rec.typical(
            jinhua.name,
            "A 'craftsman style' website spreading obscene materials",
            "Jinhua, Zhejiang",
            "More than 8,000 obscene videos were involved; most customers were minors.",
            "The principal culprit Jiang XX was sentenced to 6 years' imprisonment.",
        ),
    ]
    other = await rec.case("mps", "X-1", crim, OTHER)
    await rec.typical(other.name, "A case of another campaign", "Elsewhere", "Not this one.")
    return typical


@pytest.fixture
async def seeded(
    stack: Stack, tokens: Tokens, clock: ManualClock
) -> tuple[Recorder, list[cpb.TypicalCase]]:
    rec = Recorder(stack, tokens, clock)
    return rec, await seed(rec)


async def bulletin(
    rec: Recorder, fmt: int, md: list[tuple[str, str]]
) -> pb.GenerateBulletinResponse:
    return await rec.api.gateway.generate_bulletin(
        pb.GenerateBulletinRequest(campaign_id=C, format=fmt),  # type: ignore[arg-type]
        metadata=md,
        timeout=10,
    )


def headline_phrases(total: pb.Figures) -> list[str]:
    t = total
    return [
        f"investigated and handled {t.cases_administrative + t.cases_criminal} administrative "
        "and criminal cases",
        f"placed {t.suspects_detained} suspects in criminal detention",
        f"arrested {t.suspects_arrested} suspect",
        "dealt with more than 1,200 harmful items",
        f"banned or closed {t.sites_banned_or_closed} websites "
        f"({t.sites_closed} closed, {t.sites_banned} banned)",
        f"published {t.notice_batches} batches of app notices",
        f"notified {t.apps_notified} apps for rectification",
        f"removed {t.apps_removed} apps from app stores",
        "urged platforms to clean up more than 2,000 harmful items",
        "dealt with more than 4,800 accounts",
        f"closed {t.groups_closed} problematic groups",
    ]


async def test_bulletin_from_live_data(
    seeded: tuple[Recorder, list[cpb.TypicalCase]], tokens: Tokens
) -> None:
    rec, typical = seeded
    office = tokens("office")
    md_reply = await bulletin(rec, pb.BULLETIN_FORMAT_MARKDOWN, office)
    text_reply = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT, office)
    default = await bulletin(rec, pb.BULLETIN_FORMAT_UNSPECIFIED, office)
    assert md_reply.format == default.format == pb.BULLETIN_FORMAT_MARKDOWN
    assert text_reply.format == pb.BULLETIN_FORMAT_TEXT
    assert default.text == md_reply.text

    # The exact figures behind the text are in the status, and they are right.
    status = md_reply.status
    expect_status(status, rec.ledger, C, titles=SPECIALS)
    total = status.total
    assert (total.accounts_handled, total.content_direct, total.content_platform) == (
        USERS,
        DIRECT,
        PLATFORM,
    )
    assert (total.groups_closed, total.groups_handled) == (GROUPS, GROUPS)
    assert (total.cases_criminal, total.cases_administrative, total.typical_cases) == (3, 1, 2)
    assert (total.apps_notified, total.apps_removed, total.notice_batches) == (6, 2, 2)

    for reply, markdown in ((md_reply, True), (text_reply, False)):
        text = reply.text
        assert text.startswith("# Net Net 2021" if markdown else "Net Net 2021"), text[:80]
        assert ("**" in text) is markdown and ("\n## " in text) is markdown
        headline = text.split("\n")[2]
        for phrase in headline_phrases(total):
            assert phrase in headline, (phrase, headline)
        # "more than" only for figures of 1,000 or more; smaller ones are written exactly
        # (the typical cases are the publishers' own words).
        figures_part = text.split("Typical cases")[0]
        for number, million in re.findall(r"more than ([\d,.]+)( million)?", figures_part):
            assert float(number.replace(",", "")) * (1e6 if million else 1) >= 1000, number
        for _, n in total.ListFields():
            assert f"more than {n} " not in figures_part or n >= 1000, n

        # A paragraph for each department with figures, none for the others.
        bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
        with_figures = ["cac", "miit", "mps", "mct"]
        assert [d.department for d in status.departments] == with_figures
        for code in with_figures:
            name = DEPARTMENT_NAMES[code]
            (line,) = [p for p in text.split("\n") if p.startswith(f"{bold(name)} ")]
            assert line.endswith(".")
        for code in ("nrta", "nppa", "cpd"):
            assert DEPARTMENT_NAMES[code] not in text
        cac = next(p for p in text.split("\n") if p.startswith(bold(DEPARTMENT_NAMES["cac"])))
        assert "more than 4,800 accounts" in cac and "closed 5 websites" in cac
        mps = next(p for p in text.split("\n") if p.startswith(bold(DEPARTMENT_NAMES["mps"])))
        assert "3 administrative and criminal cases" in mps and "placed 2 suspects" in mps

        # The special actions with records, by title.
        assert ("## Special actions" in text) is markdown and "Special actions" in text
        for sa in ("minors", "fan-circle"):
            assert f"- {SPECIALS[sa]}: " in text
        assert SPECIALS["games"] not in text

        # The typical cases of this campaign, as published.
        assert "To serve as a warning, 2 typical cases are announced." in text
        for t in typical:
            heading = f"{t.title} ({t.region})"
            assert (f"### {heading}" if markdown else f"\n{heading}\n") in text
            assert t.summary in text and t.outcome in text
        assert "A case of another campaign" not in text
        assert "Figures for" not in text  # every source answered

        # No real name, whole or in part, anywhere.
        lowered = text.casefold()
        for name in (*REAL_NAMES, *NAME_PARTS):
            assert name.casefold() not in lowered, name


async def test_bulletin_with_a_source_down(
    seeded: tuple[Recorder, list[cpb.TypicalCase]], stack: Stack, tokens: Tokens
) -> None:
    rec, _ = seeded
    await stack.servers["accounts"].stop(0)
    reply = await bulletin(rec, pb.BULLETIN_FORMAT_TEXT, tokens("office"))
    assert not reply.status.complete
    assert "(Figures for accounts were unavailable when this bulletin was written" in reply.text
    assert "accounts" not in reply.text.split("\n")[2], "no account figure in the headline"
    assert "problematic groups" not in reply.text
    assert "closed 5 websites" in reply.text and "2 typical cases" in reply.text
