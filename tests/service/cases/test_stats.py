"""Statistics from rollup counters equal brute-force counts of what the test created, for
every subject and grouping, and are restated when a case changes."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
    YUAN,
    add_party,
    case_msg,
    create_case,
    mask,
    publish_draft,
    stats,
    transition,
    vetted_draft,
)
from tests.support.rpc import DAY_US, Metadata, bad_fields, expect_error, ts
from tests.support.servers import START_US, Tokens

D = common_pb2
DIMS = {
    D.DIMENSION_DEPARTMENT: "department",
    D.DIMENSION_ACTION: "action",
    D.DIMENSION_CATEGORY: "category",
    D.DIMENSION_CAMPAIGN: "campaign_id",
    D.DIMENSION_SPECIAL_ACTION: "special_action",
    D.DIMENSION_DAY: "day",
}
GROUPINGS: list[tuple[int, ...]] = [
    (),
    (D.DIMENSION_DEPARTMENT,),
    (D.DIMENSION_ACTION,),
    (D.DIMENSION_CATEGORY,),
    (D.DIMENSION_CAMPAIGN,),
    (D.DIMENSION_SPECIAL_ACTION,),
    (D.DIMENSION_DAY,),
    (D.DIMENSION_DEPARTMENT, D.DIMENSION_ACTION),
    (D.DIMENSION_CAMPAIGN, D.DIMENSION_SPECIAL_ACTION, D.DIMENSION_CATEGORY),
    (D.DIMENSION_DEPARTMENT, D.DIMENSION_DAY),
]
SUBJECTS = {
    pb.STATS_SUBJECT_CASES: "cases",
    pb.STATS_SUBJECT_CASE_STATES: "case_states",
    pb.STATS_SUBJECT_MEASURES: "measures",
    pb.STATS_SUBJECT_SENTENCES: "sentences",
    pb.STATS_SUBJECT_SENTENCE_MONTHS: "sentence_months",
    pb.STATS_SUBJECT_ILLEGAL_GAINS: "illegal_gains",
    pb.STATS_SUBJECT_TYPICAL_CASES: "typical_cases",
    pb.STATS_SUBJECT_HANDOVERS: "handovers",
}
WITH_SUBJECTS = ("measures", "sentences")
STATE_NAMES = {
    pb.CASE_STATE_REGISTERED: "registered",
    pb.CASE_STATE_INVESTIGATING: "investigating",
    pb.CASE_STATE_PROSECUTION: "prosecution",
    pb.CASE_STATE_TRIAL: "trial",
    pb.CASE_STATE_CLOSED: "closed",
    pb.CASE_STATE_DROPPED: "dropped",
}
MEASURE_NAMES = {
    pb.MEASURE_SUMMONED: "summoned",
    pb.MEASURE_CRIMINAL_DETENTION: "criminal_detention",
    pb.MEASURE_ARREST: "arrest",
    pb.MEASURE_BAIL: "bail",
    pb.MEASURE_RELEASE: "release",
}


def day(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Rec:
    """One counted thing: its dimensions, day, amount and (for distinct counts) subject."""

    department: str
    action: str
    category: str
    campaign_id: str
    special_action: str
    day: str
    n: int = 1
    subject: str = ""


@dataclass
class PartyModel:
    measures: list[tuple[str, str]] = field(default_factory=list)  # (measure, day)
    sentence: tuple[int, str] | None = None  # (months, day)


@dataclass
class CaseModel:
    lead: str
    kind: str
    categories: list[str]
    campaign: str
    special: str
    created: str
    state: str = "registered"
    gains: int = 0
    parties: dict[str, PartyModel] = field(default_factory=dict)

    def rec(self, action: str, on: str, n: int = 1, subject: str = "") -> Rec:
        return Rec(
            self.lead, action, self.categories[0], self.campaign, self.special, on, n, subject
        )


@dataclass
class World:
    """What the test wrote, kept independently of the service."""

    client: CasesClient
    tokens: Tokens
    clock: ManualClock
    cases: dict[str, CaseModel] = field(default_factory=dict)
    typical: list[Rec] = field(default_factory=list)
    handovers: list[Rec] = field(default_factory=list)
    etags: dict[str, str] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def rid(self) -> str:
        return f"r{next(self.ids)}"

    def md(self, dept: str) -> Metadata:
        return self.tokens(dept)

    def now(self) -> str:
        return day(self.clock.now_us())

    async def case(self, msg: pb.Case) -> str:
        made = await create_case(self.client, self.md(msg.lead_department), self.rid(), msg)
        self.cases[made.name] = CaseModel(
            msg.lead_department,
            "criminal" if msg.kind == pb.CASE_KIND_CRIMINAL else "administrative",
            list(msg.categories),
            msg.campaign_id,
            msg.special_action,
            self.now(),
            gains=msg.facts.illegal_gains_fen,
        )
        self.etags[made.name] = made.etag
        return made.name

    async def party(self, case: str, real_name: str) -> str:
        lead = self.cases[case].lead
        p = await add_party(self.client, self.md(lead), self.rid(), case, real_name)
        self.cases[case].parties[p.name] = PartyModel()
        return p.name

    async def measure(self, party: str, measure: pb.Measure.ValueType, at_us: int) -> None:
        case = party.rsplit("/parties/", 1)[0]
        await self.client.record_measure(
            pb.RecordMeasureRequest(
                request_id=self.rid(), party=party, measure=measure, time=ts(at_us)
            ),
            metadata=self.md(self.cases[case].lead),
        )
        self.cases[case].parties[party].measures.append((MEASURE_NAMES[measure], day(at_us)))

    async def sentence(self, party: str, months: int, fine: int = 0) -> None:
        case = party.rsplit("/parties/", 1)[0]
        await self.client.record_sentence(
            pb.RecordSentenceRequest(
                request_id=self.rid(),
                party=party,
                sentence=pb.Sentence(term_months=months, fine_fen=fine),
            ),
            metadata=self.md(self.cases[case].lead),
        )
        self.cases[case].parties[party].sentence = (months, self.now())

    async def move(self, case: str, *states: pb.CaseState.ValueType) -> None:
        for state in states:
            moved = await transition(
                self.client, self.md(self.cases[case].lead), self.rid(), case, state
            )
            self.etags[case] = moved.etag
            self.cases[case].state = STATE_NAMES[state]

    async def update(self, case: str, paths: tuple[str, ...], **values: object) -> None:
        msg = pb.Case(name=case, etag=self.etags[case], **values)  # type: ignore[arg-type]
        updated = (
            await self.client.update_case(
                pb.UpdateCaseRequest(request_id=self.rid(), case=msg, update_mask=mask(*paths)),
                metadata=self.md(self.cases[case].lead),
            )
        ).case
        self.etags[case] = updated.etag
        model = self.cases[case]
        if "facts" in paths:
            model.gains = msg.facts.illegal_gains_fen
        if "categories" in paths:
            model.categories = list(msg.categories)
        if "campaign_id" in paths:
            model.campaign = msg.campaign_id
        if "special_action" in paths:
            model.special = msg.special_action

    async def publish(self, case: str, dept: str) -> None:
        text = pb.TypicalCase(
            case=case, title="A typical case", region="Somewhere", summary="Masked."
        )
        lead = self.cases[case].lead
        if dept == lead:
            await self.client.publish_typical_case(
                pb.PublishTypicalCaseRequest(request_id=self.rid(), typical_case=text),
                metadata=self.md(dept),
            )
        else:  # the office publishes what the lead office vetted
            draft = await vetted_draft(self.client, self.md(lead), self.rid(), text)
            await publish_draft(self.client, self.md(dept), self.rid(), draft.name)
        self.typical.append(self.cases[case].rec("published", self.now()))

    # --- hand-overs ---

    async def clue(self, category: str, campaign: str, special: str) -> str:
        clue = (
            await self.client.record_clue(
                pb.RecordClueRequest(
                    request_id=self.rid(),
                    clue=pb.Clue(
                        source=pb.CLUE_SOURCE_PLATFORM_REPORT,
                        summary="report",
                        holder_department="office",
                        category=category,
                        campaign_id=campaign,
                        special_action=special,
                    ),
                ),
                metadata=self.md("office"),
            )
        ).clue
        return clue.name

    def _step(self, dept: str, step: str, category: str, campaign: str, special: str) -> None:
        self.handovers.append(Rec(dept, step, category, campaign, special, self.now()))

    # --- expectations ---

    def records(self, subject: str) -> list[Rec]:
        out: list[Rec] = []
        if subject == "typical_cases":
            return list(self.typical)
        if subject == "handovers":
            return list(self.handovers)
        for c in self.cases.values():
            if subject == "cases":
                out.append(c.rec(c.kind, c.created))
            elif subject == "case_states":
                out.append(c.rec(c.state, c.created))
            elif subject == "illegal_gains":
                out.append(c.rec("illegal_gains_fen", c.created, c.gains))
            for name, p in c.parties.items():
                if subject == "measures":
                    out += [c.rec(m, on, 1, name) for m, on in p.measures]
                elif subject == "sentences" and p.sentence:
                    out.append(c.rec("sentenced", p.sentence[1], 1, name))
                elif subject == "sentence_months" and p.sentence:
                    out.append(c.rec("term_months", p.sentence[1], p.sentence[0]))
        return out


def brute(
    records: list[Rec],
    group_by: tuple[int, ...],
    departments: tuple[str, ...] = (),
    campaign_id: str = "",
    start_day: str = "",
    end_day: str = "",
) -> tuple[dict[tuple[str, ...], int], int, dict[tuple[str, ...], int]]:
    """Counts, total and distinct subjects per group, by walking every record."""
    dims = [DIMS[g] for g in group_by]
    counts: Counter[tuple[str, ...]] = Counter()
    subjects: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for r in records:
        if departments and r.department not in departments:
            continue
        if campaign_id and r.campaign_id != campaign_id:
            continue
        if (start_day and r.day < start_day) or (end_day and r.day >= end_day):
            continue
        key = tuple(getattr(r, d) for d in dims)
        counts[key] += r.n
        if r.subject:
            subjects[key].add(r.subject)
    counts = Counter({k: n for k, n in counts.items() if n})
    return dict(counts), sum(counts.values()), {k: len(v) for k, v in subjects.items()}


async def build(client: CasesClient, tokens: Tokens, clock: ManualClock) -> World:
    w = World(client, tokens, clock)
    campaigns = ["netnet-2021", "qinglang-2021", ""]
    categories = [["obscene"], ["copyright", "obscene"], ["csam", "harmful_to_minors"], ["vulgar"]]
    leads = ["mps", "mct", "cac"]
    names: list[str] = []
    for i in range(12):
        campaign = campaigns[(i // 2) % 3]
        msg = case_msg(
            f"N-{i}",
            lead=leads[i % 3],
            kind=pb.CASE_KIND_CRIMINAL if i % 3 == 0 or i % 2 else pb.CASE_KIND_ADMINISTRATIVE,
            campaign_id=campaign,
            special_action=["", "minors-environment", "live-streaming"][i % 3] if campaign else "",
            categories=categories[i % 4],
            facts=pb.CaseFacts(illegal_gains_fen=(i * 37 % 5) * 100_000 * YUAN),
        )
        names.append(await w.case(msg))
        clock.advance(10 * 3600)

    # Parties, measures (some recorded for earlier days), sentences.
    criminal = [n for n in names if w.cases[n].kind == "criminal"]
    parties: list[str] = []
    for k, case in enumerate(criminal):
        a = await w.party(case, f"Suspect{k} Alpha")
        b = await w.party(case, f"嫌疑{k}")
        parties += [a, b]
        now = clock.now_us()
        await w.measure(a, pb.MEASURE_CRIMINAL_DETENTION, now - (k % 3) * DAY_US)
        await w.measure(a, pb.MEASURE_ARREST, now)
        if k % 2:
            await w.measure(b, pb.MEASURE_SUMMONED, now - DAY_US)
            await w.measure(b, pb.MEASURE_BAIL, now)
        clock.advance(7 * 3600)
    await w.measure(parties[0], pb.MEASURE_CRIMINAL_DETENTION, clock.now_us())  # twice: 1 subject
    await w.sentence(parties[0], 72)
    clock.advance(86_400)
    await w.sentence(parties[2], 36, 50_000 * YUAN)
    await w.sentence(parties[3], 0, 2_000 * YUAN)  # a fine alone: no months
    await w.sentence(parties[2], 30)  # on appeal: restated

    # States.
    await w.move(names[0], pb.CASE_STATE_INVESTIGATING, pb.CASE_STATE_PROSECUTION)
    await w.move(names[1], pb.CASE_STATE_INVESTIGATING)
    await w.move(names[2], pb.CASE_STATE_DROPPED)
    await w.move(
        criminal[2],
        pb.CASE_STATE_INVESTIGATING,
        pb.CASE_STATE_PROSECUTION,
        pb.CASE_STATE_TRIAL,
        pb.CASE_STATE_CLOSED,
    )
    admin = next(
        n for n in names if w.cases[n].kind == "administrative" and w.cases[n].state == "registered"
    )
    await w.move(admin, pb.CASE_STATE_INVESTIGATING, pb.CASE_STATE_CLOSED)

    # Typical cases, then the case moves campaign (the published count stays where it was).
    clock.advance(86_400)
    await w.publish(criminal[0], "office")
    await w.publish(names[4], w.cases[names[4]].lead)
    await w.publish(criminal[2], "office")

    # Facts and keys change: every counter of the case is restated.
    await w.update(names[3], ("facts",), facts=pb.CaseFacts(illegal_gains_fen=777 * YUAN))
    await w.update(names[5], ("facts",), facts=pb.CaseFacts())
    await w.update(
        criminal[0],
        ("categories", "campaign_id", "special_action"),
        categories=["fraud"],
        campaign_id="qinglang-2021",
        special_action="apps",
    )
    await w.update(names[7], ("categories",), categories=["market_order", "obscene"])

    # Hand-overs from the office to the police and culture enforcement.
    office, police, culture = tokens("office"), tokens("mps"), tokens("mct")
    steps = [
        ("obscene", "netnet-2021", "minors-environment", "mps", ["ack", "accept"]),
        ("copyright", "netnet-2021", "", "mct", ["ack", "return"]),
        ("vulgar", "", "", "mps", []),
        ("csam", "qinglang-2021", "", "mps", ["ack"]),
    ]
    for category, campaign, special, to, then in steps:
        clue = await w.clue(category, campaign, special)
        sent = (
            await client.transfer_clue(
                pb.TransferClueRequest(request_id=w.rid(), clue=clue, to_department=to),
                metadata=office,
            )
        ).handover
        w._step("office", "sent", category, campaign, special)
        receiver = police if to == "mps" else culture
        clock.advance(3 * 3600)
        for action in then:
            if action == "ack":
                await client.acknowledge_handover(
                    pb.AcknowledgeHandoverRequest(request_id=w.rid(), name=sent.name),
                    metadata=receiver,
                )
                w._step(to, "acknowledged", category, campaign, special)
            elif action == "accept":
                await client.accept_handover(
                    pb.AcceptHandoverRequest(request_id=w.rid(), name=sent.name, case=names[0]),
                    metadata=receiver,
                )
                w._step(to, "accepted", category, campaign, special)
            else:
                await client.return_handover(
                    pb.ReturnHandoverRequest(request_id=w.rid(), name=sent.name, reasons=["no"]),
                    metadata=receiver,
                )
                w._step(to, "returned", category, campaign, special)
            clock.advance(20 * 3600)
    return w


def _key(row: common_pb2.StatsRow, group_by: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(getattr(row, DIMS[g]) for g in group_by)


async def test_stats_equal_brute_force_counts(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    w = await build(client, tokens, clock)
    md = tokens("nppa", "analyst")  # statistics are for every authenticated caller
    days = sorted({r.day for s in SUBJECTS.values() for r in w.records(s)})
    assert len(days) >= 5
    for subject, rollup in SUBJECTS.items():
        records = w.records(rollup)
        assert records, rollup
        for group_by in GROUPINGS:
            got = await stats(client, md, subject, group_by)
            counts, total, distinct = brute(records, group_by)
            assert {_key(r, group_by): r.count for r in got.rows} == counts, (rollup, group_by)
            assert got.total.count == total, rollup
            # Rows come sorted, one per group.
            assert [_key(r, group_by) for r in got.rows] == sorted(counts)
            has_distinct = rollup in WITH_SUBJECTS and D.DIMENSION_DAY not in group_by
            for row in got.rows:
                assert row.HasField("distinct_subjects") == has_distinct, (rollup, group_by)
                if has_distinct:
                    assert row.distinct_subjects == distinct[_key(row, group_by)], (
                        rollup,
                        group_by,
                    )
            if rollup in WITH_SUBJECTS:
                all_subjects = {r.subject for r in records}
                assert got.total.distinct_subjects == len(all_subjects)
        # Filters: one department, one campaign, a period of days.
        for dept in ("mps", "mct", "cac", "office"):
            got = await stats(client, md, subject, [D.DIMENSION_ACTION], departments=[dept])
            counts, total, distinct = brute(records, (D.DIMENSION_ACTION,), departments=(dept,))
            assert {r.action: r.count for r in got.rows} == {k[0]: n for k, n in counts.items()}
            if rollup in WITH_SUBJECTS:
                assert {r.action: r.distinct_subjects for r in got.rows} == {
                    k[0]: n for k, n in distinct.items() if k in counts
                }
        for campaign in ("netnet-2021", "qinglang-2021"):
            got = await stats(client, md, subject, [D.DIMENSION_DEPARTMENT], campaign_id=campaign)
            counts, _, _ = brute(records, (D.DIMENSION_DEPARTMENT,), campaign_id=campaign)
            assert {r.department: r.count for r in got.rows} == {k[0]: n for k, n in counts.items()}
        start, end = days[1], days[-2]
        got = await stats(
            client,
            md,
            subject,
            [D.DIMENSION_DAY],
            start_time=ts(
                int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()) * 10**6
            ),
            end_time=ts(int(datetime.fromisoformat(end).replace(tzinfo=UTC).timestamp()) * 10**6),
        )
        counts, total, _ = brute(records, (D.DIMENSION_DAY,), start_day=start, end_day=end)
        assert {r.day: r.count for r in got.rows} == {k[0]: n for k, n in counts.items()}
        assert got.total.count == total
        assert not got.total.HasField("distinct_subjects")


async def test_illegal_gains_are_restated_when_facts_change(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    md = tokens("office", "analyst")
    case = await create_case(
        client, mps, "c1", case_msg(facts=pb.CaseFacts(illegal_gains_fen=2_000_000 * YUAN))
    )
    other = await create_case(
        client,
        tokens("cac"),
        "c2",
        case_msg("W-1", lead="cac", facts=pb.CaseFacts(illegal_gains_fen=5)),
    )
    assert other.facts.illegal_gains_fen == 5

    async def by_dept() -> dict[str, int]:
        got = await stats(client, md, pb.STATS_SUBJECT_ILLEGAL_GAINS, [D.DIMENSION_DEPARTMENT])
        assert got.total.count == sum(r.count for r in got.rows)
        return {r.department: r.count for r in got.rows}

    assert await by_dept() == {"mps": 2_000_000 * YUAN, "cac": 5}
    etag = case.etag
    for i, gains in enumerate([2_500_000 * YUAN, 0, 40 * YUAN]):
        clock.advance(86_400)  # later days do not move the figure: it belongs to the case's day
        etag = (
            await client.update_case(
                pb.UpdateCaseRequest(
                    request_id=f"u{i}",
                    case=pb.Case(
                        name=case.name, etag=etag, facts=pb.CaseFacts(illegal_gains_fen=gains)
                    ),
                    update_mask=mask("facts"),
                ),
                metadata=mps,
            )
        ).case.etag
        assert await by_dept() == ({"mps": gains} if gains else {}) | {"cac": 5}
        per_day = await stats(client, md, pb.STATS_SUBJECT_ILLEGAL_GAINS, [D.DIMENSION_DAY])
        assert {r.day: r.count for r in per_day.rows} == {day(START_US): gains + 5}
    # Moving the case to another campaign moves its figure with it.
    await client.update_case(
        pb.UpdateCaseRequest(
            request_id="u9",
            case=pb.Case(name=case.name, etag=etag, campaign_id="qinglang-2021"),
            update_mask=mask("campaign_id"),
        ),
        metadata=mps,
    )
    got = await stats(client, md, pb.STATS_SUBJECT_ILLEGAL_GAINS, [D.DIMENSION_CAMPAIGN])
    assert {r.campaign_id: r.count for r in got.rows} == {
        "qinglang-2021": 40 * YUAN,
        "netnet-2021": 5,
    }


async def test_measures_count_distinct_suspects(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    a = await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    b = await add_party(client, mps, "p2", case.name, "Liu Qiang")
    for i, (party, measure) in enumerate(
        [
            (a, pb.MEASURE_SUMMONED),
            (a, pb.MEASURE_CRIMINAL_DETENTION),
            (a, pb.MEASURE_ARREST),
            (b, pb.MEASURE_CRIMINAL_DETENTION),
            (b, pb.MEASURE_CRIMINAL_DETENTION),
        ]
    ):
        await client.record_measure(
            pb.RecordMeasureRequest(request_id=f"m{i}", party=party.name, measure=measure),
            metadata=mps,
        )
    got = await stats(client, tokens("cac"), pb.STATS_SUBJECT_MEASURES, [D.DIMENSION_ACTION])
    assert {r.action: (r.count, r.distinct_subjects) for r in got.rows} == {
        "summoned": (1, 1),
        "criminal_detention": (3, 2),
        "arrest": (1, 1),
    }
    assert (got.total.count, got.total.distinct_subjects) == (5, 2)


async def test_bad_stats_requests(client: CasesClient, tokens: Tokens) -> None:
    md = tokens("cac", "analyst")
    e = await expect_error(
        stats(client, md, pb.STATS_SUBJECT_UNSPECIFIED), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(e) == ["subject"]
    e = await expect_error(
        stats(client, md, pb.STATS_SUBJECT_CASES, [D.DIMENSION_DAY, D.DIMENSION_DAY]),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["group_by[1]"]
    e = await expect_error(
        stats(client, md, pb.STATS_SUBJECT_CASES, [42]),  # type: ignore[list-item]
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["group_by[0]"]
    e = await expect_error(
        stats(
            client,
            md,
            pb.STATS_SUBJECT_CASES,
            start_time=ts(START_US + DAY_US),
            end_time=ts(START_US),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["filter.end_time"]


@pytest.mark.parametrize("subject", list(SUBJECTS))
async def test_stats_of_an_empty_service_are_zero(
    client: CasesClient, tokens: Tokens, subject: pb.StatsSubject.ValueType
) -> None:
    got = await stats(client, tokens("office", "analyst"), subject, [D.DIMENSION_DEPARTMENT])
    assert list(got.rows) == [] and got.total.count == 0
