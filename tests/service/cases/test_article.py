"""The five typical cases of the seed article, entered through the API and published
anonymised: the campaign by an admin, the cases by the police, parties with (invented) real
names whose masked forms are what the article prints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
    YUAN,
    add_party,
    case_msg,
    create_campaign,
    publish_draft,
    stats,
    transition,
    vetted_draft,
)
from tests.support.rpc import Metadata, ts
from tests.support.servers import Tokens

OWN_CAMPAIGNS = True  # the tests make the campaigns they name


def at(day: str) -> int:
    """Microseconds at 10:00 UTC on YYYY-MM-DD."""
    return int(datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=UTC).timestamp() * 10**6)


@dataclass
class Suspect:
    real_name: str
    masked: str  # what the article prints (江某某 is "Jiang Moumou")
    role: str
    measures: list[tuple[pb.Measure.ValueType, str]] = field(default_factory=list)
    sentence_months: int = 0
    kind: pb.PartyKind.ValueType = pb.PARTY_KIND_SUSPECT


@dataclass
class Story:
    case: pb.Case
    suspects: list[Suspect]
    path: list[pb.CaseState.ValueType]
    title: str
    region: str
    summary: str
    outcome: str


DETAIN, ARREST = pb.MEASURE_CRIMINAL_DETENTION, pb.MEASURE_ARREST
INV, PROS, TRIAL, CLOSED = (
    pb.CASE_STATE_INVESTIGATING,
    pb.CASE_STATE_PROSECUTION,
    pb.CASE_STATE_TRIAL,
    pb.CASE_STATE_CLOSED,
)

JINHUA = Story(
    case_msg(
        "JH-0401",
        title="“Craftsman style” website spreading obscene materials",
        region="330700",
        assisting=["cac"],
        provinces=["330000"],
        special_action="minors-environment",
        categories=["obscene", "harmful_to_minors"],
        facts=pb.CaseFacts(
            items=[
                pb.ItemCount(type="video", count=8000),
                pb.ItemCount(type="picture", count=50000),
            ],
            customers=100_000,
        ),
    ),
    [
        Suspect(
            "江伟",
            "江某某",
            "principal culprit",
            [(DETAIN, "2021-03-02"), (ARREST, "2021-04-06")],
            72,
        ),
        Suspect(
            "王磊", "王某某", "accomplice", [(DETAIN, "2021-03-02"), (ARREST, "2021-04-06")], 36
        ),
    ],
    [INV, PROS, TRIAL, CLOSED],
    "Jinhua, Zhejiang investigated and handled the case of “craftsman style” website "
    "spreading obscene materials",
    "Jinhua, Zhejiang",
    "The persons involved used keywords such as “materials”, “national model” and “high "
    "definition” to solicit customers through online shopping platforms, diverting customers to "
    "social platforms for private transactions, and enticing customers to recharge and share them "
    "through cloud disks. More than 8,000 obscene videos and more than 50,000 obscene pictures "
    "were involved in the case, and more than 100,000 customers were disseminated, most of which "
    "were minors and school students.",
    "Recently, the principal culprit in the case, Jiang Moumou (江某某), was sentenced to 6 years’ "
    "imprisonment, and the other person was sentenced to 3 years’ imprisonment.",
)

ZHOUSHAN = Story(
    case_msg(
        "ZS-0315",
        title="Organising obscene performances on the “Chongqing Kemi Interactive” platform",
        region="330900",
        assisting=["cac", "nrta"],
        provinces=["330000", "500000", "440000", "510000", "320000", "350000", "430000", "310000"],
        special_action="live-streaming",
        categories=["obscene"],
        facts=pb.CaseFacts(
            illegal_gains_fen=36_000_000 * YUAN, items=[pb.ItemCount(type="live_app", count=2)]
        ),
    ),
    [
        Suspect(
            "Lan Haitao", "Lan XX", "organiser", [(DETAIN, "2021-03-18"), (ARREST, "2021-04-22")]
        ),
        Suspect("Xu Lei", "Xu XX", "platform operator", [(DETAIN, "2021-03-18")]),
        Suspect("何静", "何某某", "live performer recruiter", [(DETAIN, "2021-03-18")]),
        Suspect(
            "Chongqing Kemi Interactive Network Technology Co., Ltd.",
            "Chongqing Kemi Interactive Network Technology Co., Ltd.",
            "platform company",
            kind=pb.PARTY_KIND_ORGANISATION,
        ),
    ],
    [INV],
    "Zhoushan, Zhejiang destroyed an online obscene performance platform",
    "Zhoushan, Zhejiang",
    "In March 2021, the Zhejiang Zhoushan police went to 7 provinces and cities to carry out a "
    "unified operation to investigate the suspected case of organizing obscene performances on "
    "the “Chongqing Kemi Interactive” platform, arresting 107 criminal suspects, and taking "
    "criminal coercive measures against 66 people. After investigation, the criminal suspect Lan "
    "XX registered and established a number of network technology companies with others, built a "
    "network platform, developed live apps such as “Meichao”, and organized obscene performances "
    "by operating one-to-one live performances. In 3 months the illegally involved funds amounted "
    "to more than 36 million yuan.",
    "At present, the case is under further investigation.",
)

QUANJIAO = Story(
    case_msg(
        "5·11",
        title="Spreading obscene materials for profit: porn website promoted by agents",
        region="341124",
        assisting=["cac"],
        provinces=["340000"],
        special_action="minors-environment",
        categories=["obscene", "fraud"],
        facts=pb.CaseFacts(
            illegal_gains_fen=2_000_000 * YUAN, items=[pb.ItemCount(type="website", count=1)]
        ),
    ),
    [
        Suspect("Zhu Dawei", "Zhu XX", "site owner", [(DETAIN, "2021-05-11")]),
        Suspect("Liu Qiang", "Liu XX", "agent", [(DETAIN, "2021-05-12")]),
    ],
    [INV],
    "Quanjiao, Anhui detected the “5·11” case of spreading obscene materials for profit",
    "Quanjiao, Anhui",
    "In March 2021, the Quanjiao County Public Security Bureau launched an investigation into a "
    "QQ group transferred from the Chuzhou City and Quanjiao County anti-pornography offices for "
    "clues about sending links to pornographic websites. Upon investigation, the criminal "
    "suspect Zhu XX created a pornographic website on his own and recruited agents to promote "
    "it, and used a fourth-party payment platform to “launder money” with game currency "
    "recharge, obtaining illegal benefits of more than 2 million yuan.",
    "At present, the main criminal suspects Zhu, Liu and others have been criminally detained in "
    "accordance with the law.",
)

SUINING = Story(
    case_msg(
        "5·03",
        title="Using obscene videos to molest minors",
        region="510923",
        assisting=["cac"],
        provinces=["510000"],
        special_action="minors-environment",
        categories=["csam", "harmful_to_minors"],
        facts=pb.CaseFacts(
            victim_count=12, victims_include_minors=True, data_volume_bytes=500 * 10**9
        ),
    ),
    [Suspect("Cha Wenbin", "Cha XX", "suspect", [(DETAIN, "2021-05-20")])],
    [INV],
    "Sichuan Suining detected the “May 03” case of using obscene videos to molest minors",
    "Suining, Sichuan",
    "In May 2021, the Public Security Bureau of Daying County, Suining City launched an "
    "investigation based on a report. The suspect used social software to pretend to be a "
    "student and chat with underage female students, tempting and threatening them to take "
    "naked photos and videos, and spread related photos and videos of more than 500 gigabytes "
    "through online disks and forums. The victims were all female minors between the ages of 9 "
    "and 14.",
    "Currently, Cha XX has been criminally detained in accordance with the law.",
)

QICHUN = Story(
    case_msg(
        "6·07",
        title="Network copyright infringement: modified games sold online",
        region="421126",
        assisting=["nppa"],
        provinces=["420000"],
        special_action="",
        categories=["copyright"],
        facts=pb.CaseFacts(
            illegal_gains_fen=4_000_000 * YUAN, items=[pb.ItemCount(type="game", count=800)]
        ),
    ),
    [
        Suspect("Cheng Hao", "Cheng XX", "company owner", [(ARREST, "2021-06-21")]),
        Suspect("Wu Tao", "Wu XX", "game modifier", [(ARREST, "2021-06-21")]),
        Suspect("李明", "李某某", "seller", [(ARREST, "2021-06-21")]),
        Suspect("张华", "张某某", "seller", [(ARREST, "2021-06-22")]),
        Suspect("Gao Yun", "Gao XX", "advertising agent", [(ARREST, "2021-06-22")]),
    ],
    [INV],
    "Hubei Qichun detected the “6·07” network copyright infringement case",
    "Qichun, Hubei",
    "The Public Security Bureau of Qichun County, Huanggang City opened a case to investigate "
    "online copyright infringement. The criminal suspect Cheng XX established a network "
    "technology company; in the second half of 2018 he downloaded more than 800 genuine games "
    "from relevant platforms and modified them by inserting advertisements. The modified games "
    "were sold through an online platform without the permission of the copyright owner, "
    "resulting in an illegal profit of more than 4 million yuan.",
    "Five criminal suspects have been arrested by the public security organs. At present, the "
    "case is under further investigation.",
)

STORIES = [JINHUA, ZHOUSHAN, QUANJIAO, SUINING, QICHUN]


def leaks(text: str, real_names: list[str]) -> list[str]:
    """Real names found in text: whole (any case or spacing), or a romanised given name alone."""
    folded = " ".join(text.split()).casefold()
    found = []
    for real in real_names:
        name = " ".join(real.split()).casefold()
        parts = name.split(" ")
        whole = name in folded or name.replace(" ", "") in folded.replace(" ", "")
        given = len(parts) > 1 and re.search(rf"\b{re.escape(parts[-1])}\b", folded)
        if whole or given:
            found.append(real)
    return found


async def _enter(
    client: CasesClient, mps: Metadata, tokens: Tokens, clock: ManualClock, story: Story, n: int
) -> tuple[pb.Case, list[pb.Party]]:
    if story is QUANJIAO:
        # The clue came from the Chuzhou anti-pornography office, handed over to Quanjiao.
        office = tokens("office", operator="chuzhou-office")
        clue = (
            await client.record_clue(
                pb.RecordClueRequest(
                    request_id="clue-511",
                    clue=pb.Clue(
                        source=pb.CLUE_SOURCE_PUBLIC_REPORT,
                        summary="A QQ group sends links to pornographic websites",
                        holder_department="office",
                        holder_region="341100",
                        category="obscene",
                        campaign_id="netnet-2021",
                        special_action="minors-environment",
                    ),
                ),
                metadata=office,
            )
        ).clue
        sent = (
            await client.transfer_clue(
                pb.TransferClueRequest(
                    request_id="handover-511",
                    clue=clue.name,
                    to_department="mps",
                    to_region="341124",
                    note="QQ group links, screenshots attached",
                ),
                metadata=office,
            )
        ).handover
        clock.advance(1800)
        await client.acknowledge_handover(
            pb.AcknowledgeHandoverRequest(request_id="ack-511", name=sent.name), metadata=mps
        )
        new_case = pb.Case()
        new_case.CopyFrom(story.case)
        new_case.lead_department = ""
        accepted = await client.accept_handover(
            pb.AcceptHandoverRequest(request_id="accept-511", name=sent.name, new_case=new_case),
            metadata=mps,
        )
        case = accepted.case
    else:
        case = (
            await client.create_case(
                pb.CreateCaseRequest(request_id=f"case-{n}", case=story.case), metadata=mps
            )
        ).case
    parties = []
    for i, s in enumerate(story.suspects):
        party = await add_party(
            client, mps, f"party-{n}-{i}", case.name, s.real_name, s.role, s.kind
        )
        for j, (measure, day) in enumerate(s.measures):
            party = (
                await client.record_measure(
                    pb.RecordMeasureRequest(
                        request_id=f"measure-{n}-{i}-{j}",
                        party=party.name,
                        measure=measure,
                        time=ts(at(day)),
                    ),
                    metadata=mps,
                )
            ).party
        parties.append(party)
    for k, state in enumerate(story.path[:1]):
        case = await transition(client, mps, f"state-{n}-{k}", case.name, state)
    return case, parties


async def test_the_five_typical_cases_of_the_article(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    admin = tokens("office", "admin", operator="national-office")
    campaign = await create_campaign(
        campaigns,
        admin,
        "netnet-2021",
        title="“Net Net 2021” centralized operation",
        start_us=at("2021-06-01"),
        end_us=at("2021-12-31"),
        lead="office",
        participating=["cpd", "cac", "miit", "mps", "mct", "nrta", "nppa"],
        special_actions=[
            ("historical-nihilism", "Rectifying online historical nihilism"),
            ("minors-environment", "Rectifying the online environment of minors"),
            ("fan-circle", "Rectifying entertainment and hot-list chaos (fan circles)"),
            ("live-streaming", "Live-streaming platforms"),
        ],
    )
    assert campaign.name == "campaigns/netnet-2021"

    mps = tokens("mps", operator="public-security")
    entered: list[tuple[pb.Case, list[pb.Party]]] = []
    for n, story in enumerate(STORIES):
        entered.append(await _enter(client, mps, tokens, clock, story, n))

    # Realistic facts, as the police entered them.
    for (case, parties), story in zip(entered, STORIES, strict=True):
        got = (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case
        assert got.number == story.case.number
        assert got.facts == story.case.facts
        assert got.lead_department == "mps" and got.campaign_id == "netnet-2021"
        assert [p.masked_name for p in parties] == [s.masked for s in story.suspects]
        assert [p.real_name for p in parties] == [s.real_name for s in story.suspects]
    assert entered[2][0].number == "5·11" and entered[3][0].number == "5·03"

    # Jinhua goes to trial; the principal culprit gets 6 years, the other 3.
    clock.advance(50 * 86_400)  # 2021-08-20
    jinhua, jinhua_parties = entered[0]
    for k, state in enumerate(JINHUA.path[1:], start=1):
        await transition(client, mps, f"state-0-{k}", jinhua.name, state)
    for i, (party, suspect) in enumerate(zip(jinhua_parties, JINHUA.suspects, strict=True)):
        sentenced = (
            await client.record_sentence(
                pb.RecordSentenceRequest(
                    request_id=f"sentence-{i}",
                    party=party.name,
                    sentence=pb.Sentence(term_months=suspect.sentence_months),
                ),
                metadata=mps,
            )
        ).party
        assert sentenced.sentence.term_months == suspect.sentence_months

    # 2021-09-07: the national office publishes the five.
    clock.advance(18 * 86_400)
    office = tokens("office", operator="national-office")
    published_at = clock.now_us()
    published = []
    for n, ((case, _), story) in enumerate(zip(entered, STORIES, strict=True)):
        # The police vet each text (they see the real names); the office publishes it.
        draft = await vetted_draft(
            client,
            mps,
            f"draft-{n}",
            pb.TypicalCase(
                case=case.name,
                title=story.title,
                region=story.region,
                summary=story.summary,
                outcome=story.outcome,
            ),
        )
        published.append(await publish_draft(client, office, f"typical-{n}", draft.name))

    # Read back by anyone, anonymised.
    real_names = [s.real_name for story in STORIES for s in story.suspects if s.kind == 1]
    assert leaks("ZHU  DAWEI met 江伟 and Wenbin", real_names) == [
        "江伟",
        "Zhu Dawei",
        "Cha Wenbin",
    ]
    for reader in ("nrta", "miit", "mps"):
        listed = (
            (
                await client.list_typical_cases(
                    pb.ListTypicalCasesRequest(campaign_id="netnet-2021"), metadata=tokens(reader)
                )
            ).response
        ).typical_cases
        assert len(listed) == 5
        assert list(listed) == published
        assert [t.title for t in listed] == [s.title for s in STORIES]
        assert [t.region for t in listed] == [s.region for s in STORIES]
        for t in listed:
            assert t.publish_time.ToMicroseconds() == published_at
            assert t.publish_time.ToDatetime().date().isoformat() == "2021-09-07"
            assert t.published_by == "national-office"
            text = "\n".join((t.title, t.region, t.summary, t.outcome))
            assert leaks(text, real_names) == [], t.name
    texts = "\n".join(t.summary + t.outcome for t in published)
    for masked in ("江某某", "Lan XX", "Zhu XX", "Cha XX", "Cheng XX"):
        assert masked in texts

    # The assisting departments and the office see only masked names.
    for (case, _), story in zip(entered, STORIES, strict=True):
        for dept in (*story.case.assisting_departments, "office"):
            parties = (
                (
                    await client.list_parties(
                        pb.ListPartiesRequest(parent=case.name), metadata=tokens(dept)
                    )
                ).response
            ).parties
            assert [p.masked_name for p in parties] == [s.masked for s in story.suspects]
            assert all(p.real_name == "" for p in parties)

    # The figures the bulletin would print.
    md = tokens("cpd", "analyst")
    campaign_only = {"campaign_id": "netnet-2021"}
    assert (
        await stats(client, md, pb.STATS_SUBJECT_TYPICAL_CASES, **campaign_only)
    ).total.count == 5
    kinds = await stats(client, md, pb.STATS_SUBJECT_CASES, [common_pb2.DIMENSION_ACTION])
    assert {r.action: r.count for r in kinds.rows} == {"criminal": 5}
    gains = await stats(client, md, pb.STATS_SUBJECT_ILLEGAL_GAINS)
    assert gains.total.count == (36_000_000 + 2_000_000 + 4_000_000) * YUAN
    measures = await stats(client, md, pb.STATS_SUBJECT_MEASURES, [common_pb2.DIMENSION_ACTION])
    suspects = [s for story in STORIES for s in story.suspects]
    detained = [s for s in suspects if any(m == DETAIN for m, _ in s.measures)]
    arrested = [s for s in suspects if any(m == ARREST for m, _ in s.measures)]
    assert {r.action: (r.count, r.distinct_subjects) for r in measures.rows} == {
        "criminal_detention": (len(detained), len(detained)),
        "arrest": (len(arrested), len(arrested)),
    }
    assert measures.total.distinct_subjects == len([s for s in suspects if s.measures])
    assert (await stats(client, md, pb.STATS_SUBJECT_SENTENCES)).total.count == 2
    assert (await stats(client, md, pb.STATS_SUBJECT_SENTENCE_MONTHS)).total.count == 108
    states = await stats(client, md, pb.STATS_SUBJECT_CASE_STATES, [common_pb2.DIMENSION_ACTION])
    assert {r.action: r.count for r in states.rows} == {"closed": 1, "investigating": 4}
    handovers = await stats(client, md, pb.STATS_SUBJECT_HANDOVERS, [common_pb2.DIMENSION_ACTION])
    assert {r.action: r.count for r in handovers.rows} == {
        "sent": 1,
        "acknowledged": 1,
        "accepted": 1,
    }
