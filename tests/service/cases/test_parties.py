"""Parties: suspects and organisations, coercive measures, sentences; real names only for the
lead department, the masked form everywhere else; victims are only ever counted."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient, NetNetError
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
    add_party,
    all_events,
    case_msg,
    create_case,
    mask,
    snapshot,
    transition,
)
from tests.support.rpc import DAY_US, HOUR_US, bad_fields, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens

NAMES = [
    ("江伟", "江某某"),
    ("欧阳明", "欧阳某某"),
    ("Zhu Dawei", "Zhu XX"),
    ("Lan Haitao", "Lan XX"),
    ("  刘强 ", "刘某某"),
]


async def test_real_names_only_for_the_lead_department(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    added = []
    for i, (real, masked) in enumerate(NAMES):
        party = await add_party(client, mps, f"p{i}", case.name, real, "suspect")
        assert (party.real_name, party.masked_name) == (real.strip(), masked)
        assert party.kind == pb.PARTY_KIND_SUSPECT
        added.append(party)
    company = await add_party(
        client,
        mps,
        "p9",
        case.name,
        "Chongqing Kemi Interactive Network Technology Co.",
        "platform operator",
        pb.PARTY_KIND_ORGANISATION,
    )
    assert company.masked_name == "Chongqing Kemi Interactive Network Technology Co."

    lead_view = (
        (await client.list_parties(pb.ListPartiesRequest(parent=case.name), metadata=mps)).response
    ).parties
    assert list(lead_view) == [*added, company]
    for dept in ("cac", "office"):
        for roles in (("operator",), ("analyst",), ("admin", "auditor")):
            seen = (
                (
                    await client.list_parties(
                        pb.ListPartiesRequest(parent=case.name), metadata=tokens(dept, *roles)
                    )
                ).response
            ).parties
            assert [(p.name, p.real_name, p.masked_name) for p in seen] == [
                *[(p.name, "", m) for p, (_, m) in zip(added, NAMES, strict=True)],
                (company.name, "", company.masked_name),
            ]
    # Paged, the same.
    token, paged = "", []
    while True:
        page = (
            await client.list_parties(
                pb.ListPartiesRequest(parent=case.name, page_size=2, page_token=token),
                metadata=tokens("cac"),
            )
        ).response
        paged += [p.masked_name for p in page.parties]
        token = page.next_page_token
        if not token:
            break
    assert paged == [m for _, m in NAMES] + [company.masked_name]


async def test_no_real_name_in_the_timeline_for_anyone(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    parties = [
        await add_party(client, mps, f"p{i}", case.name, real, "principal culprit")
        for i, (real, _) in enumerate(NAMES)
    ]
    for i, p in enumerate(parties):
        await client.record_measure(
            pb.RecordMeasureRequest(request_id=f"m{i}", party=p.name, measure=pb.MEASURE_ARREST),
            metadata=mps,
        )
        await client.record_sentence(
            pb.RecordSentenceRequest(
                request_id=f"j{i}", party=p.name, sentence=pb.Sentence(term_months=12 + i)
            ),
            metadata=mps,
        )
    await transition(client, mps, "s1", case.name, pb.CASE_STATE_INVESTIGATING, "Zhu XX confessed")
    for dept in ("mps", "cac", "office"):
        events = await all_events(client, tokens(dept), case.name)
        assert len(events) == 1 + 3 * len(NAMES) + 1
        text = "\n".join(e.detail for e in events)
        for real, masked in NAMES:
            assert real.strip() not in text
            assert masked in text
        assert "Dawei" not in text and "Haitao" not in text


@pytest.mark.parametrize(
    "note",
    [
        "Zhu Dawei confessed",
        "zhu  dawei confessed",
        "ZhuDawei confessed",
        "Dawei confessed",
        "江伟 confessed",
    ],
)
async def test_a_transition_note_with_a_real_name_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, note: str
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    await add_party(client, mps, "p2", case.name, "江伟")
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        transition(client, mps, "s1", case.name, pb.CASE_STATE_INVESTIGATING, note),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "REAL_NAME_IN_TEXT"
    assert "note" in (err.message or "")
    assert await snapshot(client, campaigns, tokens) == before


async def test_a_one_word_romanised_name_is_not_shown_whole(
    client: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    await add_party(client, mps, "p1", case.name, "Zhudawei")
    (seen,) = (
        (
            await client.list_parties(
                pb.ListPartiesRequest(parent=case.name), metadata=tokens("cac")
            )
        ).response
    ).parties
    assert seen.real_name == ""
    assert "zhudawei" not in seen.masked_name.casefold()
    assert seen.masked_name == "Z XX"
    events = await all_events(client, tokens("cac"), case.name)
    assert not any("Zhudawei" in e.detail for e in events)


async def test_a_case_title_with_a_real_name_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    await add_party(client, mps, "p2", case.name, "江伟")
    before = await snapshot(client, campaigns, tokens)
    for i, title in enumerate(["The Zhu Dawei porn site", "江伟's shop", "DAWEI site"]):
        err = await expect_error(
            client.update_case(
                pb.UpdateCaseRequest(
                    request_id=f"u{i}",
                    case=pb.Case(name=case.name, etag=case.etag, title=title),
                    update_mask=mask("title"),
                ),
                metadata=mps,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(err) == "REAL_NAME_IN_TEXT"
        assert "case.title" in (err.message or "")
    assert await snapshot(client, campaigns, tokens) == before
    ok = (
        await client.update_case(
            pb.UpdateCaseRequest(
                request_id="u9",
                case=pb.Case(name=case.name, etag=case.etag, title="The Zhu XX porn site"),
                update_mask=mask("title"),
            ),
            metadata=mps,
        )
    ).case
    assert ok.title == "The Zhu XX porn site"


async def test_a_role_naming_another_party_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    await add_party(client, mps, "p1", case.name, "Zhu Dawei", "organiser")
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        add_party(client, mps, "p2", case.name, "Liu Qiang", "agent recruited by Zhu Dawei"),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "REAL_NAME_IN_TEXT"
    assert "party.role" in (err.message or "")
    await expect_error(
        add_party(client, mps, "p3", case.name, "刘强", "刘强's own company"),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert await snapshot(client, campaigns, tokens) == before
    ok = await add_party(client, mps, "p4", case.name, "Liu Qiang", "agent recruited by Zhu XX")
    assert ok.role == "agent recruited by Zhu XX"


async def test_measures_are_timed_and_attributed(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    zhu = await add_party(client, mps, "p1", case.name, "Zhu Dawei", "organiser")
    assert list(zhu.measures) == [] and not zhu.HasField("sentence")
    clock.advance(2 * 86_400)
    summoned_at = START_US + HOUR_US  # earlier, recorded afterwards
    p = (
        await client.record_measure(
            pb.RecordMeasureRequest(
                request_id="m1", party=zhu.name, measure=pb.MEASURE_SUMMONED, time=ts(summoned_at)
            ),
            metadata=mps,
        )
    ).party
    assert p.real_name == "Zhu Dawei"
    assert [(m.measure, m.time.ToMicroseconds(), m.department) for m in p.measures] == [
        (pb.MEASURE_SUMMONED, summoned_at, "mps")
    ]
    clock.advance(3600)
    p = (
        await client.record_measure(
            pb.RecordMeasureRequest(
                request_id="m2", party=zhu.name, measure=pb.MEASURE_CRIMINAL_DETENTION
            ),
            metadata=mps,
        )
    ).party
    detained_at = START_US + 2 * DAY_US + HOUR_US  # no time given: now
    clock.advance(30 * 86_400)
    p = (
        await client.record_measure(
            pb.RecordMeasureRequest(request_id="m3", party=zhu.name, measure=pb.MEASURE_ARREST),
            metadata=mps,
        )
    ).party
    arrested_at = detained_at + 30 * DAY_US
    expected = [
        (pb.MEASURE_SUMMONED, summoned_at),
        (pb.MEASURE_CRIMINAL_DETENTION, detained_at),
        (pb.MEASURE_ARREST, arrested_at),
    ]
    assert [(m.measure, m.time.ToMicroseconds()) for m in p.measures] == expected
    for dept in ("mps", "office"):
        (seen,) = (
            (
                await client.list_parties(
                    pb.ListPartiesRequest(parent=case.name), metadata=tokens(dept)
                )
            ).response
        ).parties
        assert [(m.measure, m.time.ToMicroseconds()) for m in seen.measures] == expected
    for measure in (pb.MEASURE_BAIL, pb.MEASURE_RELEASE):
        p = (
            await client.record_measure(
                pb.RecordMeasureRequest(request_id=f"x{measure}", party=zhu.name, measure=measure),
                metadata=mps,
            )
        ).party
    assert [m.measure for m in p.measures][-2:] == [pb.MEASURE_BAIL, pb.MEASURE_RELEASE]

    company = await add_party(
        client, mps, "p2", case.name, "Quanjiao Network Co.", kind=pb.PARTY_KIND_ORGANISATION
    )
    err = await expect_error(
        client.record_measure(
            pb.RecordMeasureRequest(request_id="m9", party=company.name, measure=pb.MEASURE_ARREST),
            metadata=mps,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(err) == "NOT_A_SUSPECT"


async def test_sentences(client: CasesClient, tokens: Tokens, clock: ManualClock) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    jiang = await add_party(client, mps, "p1", case.name, "江伟", "principal culprit")
    clock.advance(86_400)
    judged_at = START_US + HOUR_US
    p = (
        await client.record_sentence(
            pb.RecordSentenceRequest(
                request_id="j1",
                party=jiang.name,
                sentence=pb.Sentence(term_months=72, fine_fen=10_000_000, time=ts(judged_at)),
            ),
            metadata=mps,
        )
    ).party
    assert (p.sentence.term_months, p.sentence.fine_fen) == (72, 10_000_000)
    assert p.sentence.time.ToMicroseconds() == judged_at
    # A fine alone, at the time of recording; a second sentence replaces the first.
    p = (
        await client.record_sentence(
            pb.RecordSentenceRequest(
                request_id="j2", party=jiang.name, sentence=pb.Sentence(fine_fen=5_000)
            ),
            metadata=mps,
        )
    ).party
    assert (p.sentence.term_months, p.sentence.fine_fen) == (0, 5_000)
    assert p.sentence.time.ToMicroseconds() == START_US + DAY_US
    (seen,) = (
        (
            await client.list_parties(
                pb.ListPartiesRequest(parent=case.name), metadata=tokens("office")
            )
        ).response
    ).parties
    assert seen.sentence == p.sentence and seen.real_name == ""


async def test_only_the_lead_department_adds_parties_and_records(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    zhu = await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    before = await snapshot(client, campaigns, tokens)
    for md in (tokens("cac"), tokens("office"), tokens("miit"), tokens("mps", "analyst")):
        await expect_error(
            add_party(client, md, "p2", case.name, "Liu Qiang"), grpc.StatusCode.PERMISSION_DENIED
        )
        await expect_error(
            client.record_measure(
                pb.RecordMeasureRequest(request_id="m1", party=zhu.name, measure=pb.MEASURE_ARREST),
                metadata=md,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await expect_error(
            client.record_sentence(
                pb.RecordSentenceRequest(
                    request_id="j1", party=zhu.name, sentence=pb.Sentence(term_months=6)
                ),
                metadata=md,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    assert await snapshot(client, campaigns, tokens) == before


async def test_a_replayed_request_id_does_not_leak_a_real_name(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    """Another department repeating the lead's request must not get its answer back."""
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    zhu = await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    request = pb.RecordMeasureRequest(request_id="m1", party=zhu.name, measure=pb.MEASURE_ARREST)
    first = (await client.record_measure(request, metadata=mps)).party
    assert first.real_name == "Zhu Dawei"
    assert (await client.record_measure(request, metadata=mps)).party == first  # the lead's retry
    before = await snapshot(client, campaigns, tokens)
    for md in (tokens("cac"), tokens("office"), tokens("miit")):
        try:
            replay = await client.record_measure(request, metadata=md)
        except NetNetError as e:
            assert e.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT)
        else:
            raise AssertionError(f"another department got the lead's answer: {replay}")
    assert await snapshot(client, campaigns, tokens) == before


def test_no_field_can_hold_a_victims_identity() -> None:
    facts = pb.CaseFacts.DESCRIPTOR
    assert {f.name: f.type for f in facts.fields} == {
        "illegal_gains_fen": FieldDescriptor.TYPE_INT64,
        "items": FieldDescriptor.TYPE_MESSAGE,
        "customers": FieldDescriptor.TYPE_INT64,
        "victim_count": FieldDescriptor.TYPE_INT64,
        "victims_include_minors": FieldDescriptor.TYPE_BOOL,
        "data_volume_bytes": FieldDescriptor.TYPE_INT64,
    }
    assert {f.name: f.type for f in pb.ItemCount.DESCRIPTOR.fields} == {
        "type": FieldDescriptor.TYPE_STRING,
        "count": FieldDescriptor.TYPE_INT64,
    }
    # Across the whole API, "victim" appears only in those two counters.
    mentions = []
    pending = list(pb.DESCRIPTOR.message_types_by_name.values())
    while pending:
        message = pending.pop()
        pending += list(message.nested_types)
        mentions += [
            f"{message.name}.{f.name}" for f in message.fields if "victim" in f.name.lower()
        ]
    assert sorted(mentions) == ["CaseFacts.victim_count", "CaseFacts.victims_include_minors"]
    party_kinds = set(pb.PartyKind.keys())
    assert party_kinds == {
        "PARTY_KIND_UNSPECIFIED",
        "PARTY_KIND_SUSPECT",
        "PARTY_KIND_ORGANISATION",
    }


@pytest.mark.parametrize(
    ("party", "fields"),
    [
        (pb.Party(kind=pb.PARTY_KIND_SUSPECT), ["party.real_name"]),
        (pb.Party(kind=pb.PARTY_KIND_SUSPECT, real_name="   "), ["party.real_name"]),
        (pb.Party(kind=pb.PARTY_KIND_SUSPECT, real_name="x" * 129), ["party.real_name"]),
        (pb.Party(real_name="Zhu Dawei"), ["party.kind"]),
        (pb.Party(kind=7, real_name="Zhu Dawei"), ["party.kind"]),  # type: ignore[arg-type]
        (pb.Party(kind=pb.PARTY_KIND_SUSPECT, real_name="Zhu", role="r" * 129), ["party.role"]),
        (pb.Party(), ["party.kind", "party.real_name"]),
    ],
)
async def test_bad_parties_are_invalid(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, party: pb.Party, fields: list[str]
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        client.add_party(
            pb.AddPartyRequest(request_id="p1", parent=case.name, party=party), metadata=mps
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == fields
    assert await snapshot(client, campaigns, tokens) == before


async def test_bad_measures_and_sentences_are_invalid(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    zhu = await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    before = await snapshot(client, campaigns, tokens)
    measures = [
        (pb.RecordMeasureRequest(party=zhu.name), ["measure"]),
        (pb.RecordMeasureRequest(party=zhu.name, measure=9), ["measure"]),  # type: ignore[arg-type]
        (
            pb.RecordMeasureRequest(
                party=zhu.name, measure=pb.MEASURE_ARREST, time=ts(START_US + DAY_US)
            ),
            ["time"],
        ),
        (pb.RecordMeasureRequest(party=case.name, measure=pb.MEASURE_ARREST), ["party"]),
    ]
    for request, fields in measures:
        request.request_id = "m1"
        err = await expect_error(
            client.record_measure(request, metadata=mps), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert bad_fields(err) == fields
    sentences = [
        (pb.Sentence(), ["sentence"]),
        (pb.Sentence(term_months=-1), ["sentence.term_months", "sentence"]),
        (pb.Sentence(term_months=1201), ["sentence.term_months"]),
        (pb.Sentence(term_months=6, fine_fen=-5), ["sentence.fine_fen"]),
    ]
    for sentence, fields in sentences:
        err = await expect_error(
            client.record_sentence(
                pb.RecordSentenceRequest(request_id="j1", party=zhu.name, sentence=sentence),
                metadata=mps,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad_fields(err) == fields
    await expect_error(
        client.record_measure(
            pb.RecordMeasureRequest(
                request_id="m1", party=f"{case.name}/parties/99", measure=pb.MEASURE_ARREST
            ),
            metadata=mps,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        add_party(client, mps, "p9", "cases/99", "Liu Qiang"), grpc.StatusCode.NOT_FOUND
    )
    assert await snapshot(client, campaigns, tokens) == before
