"""Cases: create, read, update by mask and etag, who sees them, and their timeline."""

from __future__ import annotations

import itertools

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from services.common.clock import ManualClock
from tests.service.cases.helpers import (
    YUAN,
    add_party,
    all_events,
    case_msg,
    create_case,
    mask,
    publish_draft,
    snapshot,
    transition,
    vetted_draft,
)
from tests.support.rpc import HOUR_US, bad_fields, error_reason, expect_error, ts
from tests.support.servers import START_US, Tokens

FACTS = pb.CaseFacts(
    illegal_gains_fen=2_000_000 * YUAN,
    items=[pb.ItemCount(type="website", count=1), pb.ItemCount(type="agent", count=12)],
    customers=3000,
    victim_count=0,
    data_volume_bytes=40 * 10**9,
)


def _quanjiao() -> pb.Case:
    return case_msg(
        "5·11",
        title="Porn website promoted by agents, money laundered as game top-ups",
        region="341124",
        assisting=["cac", "office"],
        provinces=["340000", "320000"],
        special_action="minors-environment",
        categories=["obscene", "fraud"],
        facts=FACTS,
        linked=["sites/12", "accounts/7", "sites/12"],
    )


async def test_create_and_read_a_case(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    requested = _quanjiao()
    requested.state = pb.CASE_STATE_CLOSED  # ignored: a case starts registered
    case = await create_case(client, mps, "c1", requested)
    assert case.name == "cases/1"
    assert case.number == "5·11"
    assert case.title == requested.title
    assert case.kind == pb.CASE_KIND_CRIMINAL
    assert (case.lead_department, case.lead_region) == ("mps", "341124")
    assert list(case.assisting_departments) == ["cac", "office"]
    assert list(case.provinces) == ["340000", "320000"]
    assert (case.campaign_id, case.special_action) == ("netnet-2021", "minors-environment")
    assert list(case.categories) == ["obscene", "fraud"]
    assert case.state == pb.CASE_STATE_REGISTERED
    assert case.facts == FACTS
    assert list(case.linked_resources) == ["sites/12", "accounts/7"]  # de-duplicated
    assert case.create_time.ToMicroseconds() == START_US == case.update_time.ToMicroseconds()
    assert case.etag
    for viewer in ("mps", "cac", "office"):
        got = (
            await client.get_case(pb.GetCaseRequest(name=case.name), metadata=tokens(viewer))
        ).case
        assert got == case


async def test_case_details_are_for_lead_assisting_and_office_only(
    client: CasesClient, tokens: Tokens
) -> None:
    mps, cac = tokens("mps"), tokens("cac")
    police_case = await create_case(client, mps, "c1", case_msg("5·11", assisting=["cac"]))
    await add_party(client, mps, "p1", police_case.name, "Zhu Dawei")
    lone_case = await create_case(client, mps, "c2", case_msg("6·07", categories=["copyright"]))
    cac_case = await create_case(client, cac, "c3", case_msg("W-1", lead="cac", kind=1))
    everyone = [police_case.name, lone_case.name, cac_case.name]

    visible = {
        "mps": [police_case.name, lone_case.name],
        "cac": [police_case.name, cac_case.name],
        "office": everyone,
        "miit": [],
        "mct": [],
        "nrta": [],
        "nppa": [],
        "cpd": [],
    }
    for dept, names in visible.items():
        md = tokens(dept, "operator", "analyst")
        listed = ((await client.list_cases(pb.ListCasesRequest(), metadata=md)).response).cases
        assert [c.name for c in listed] == names, dept
        batch = await client.batch_get_cases(
            pb.BatchGetCasesRequest(names=[*everyone, "cases/999"]), metadata=md
        )
        assert [c.name for c in batch.cases] == names
        assert list(batch.not_found) == [n for n in everyone if n not in names] + ["cases/999"]
        for name in everyone:
            calls = [
                client.get_case(pb.GetCaseRequest(name=name), metadata=md),
                client.list_parties(pb.ListPartiesRequest(parent=name), metadata=md),
                client.list_case_events(pb.ListCaseEventsRequest(parent=name), metadata=md),
            ]
            if name in names:
                for call in calls:
                    await call
            else:
                for call in calls:
                    err = await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
                    assert error_reason(err) == "CASE_NOT_VISIBLE"
    await expect_error(
        client.get_case(pb.GetCaseRequest(name="cases/999"), metadata=tokens("office")),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_list_cases_filters_and_pages(client: CasesClient, tokens: Tokens) -> None:
    mps = tokens("mps")
    office = tokens("office")
    made: list[pb.Case] = []
    for i in range(7):
        made.append(
            await create_case(
                client,
                mps,
                f"c{i}",
                case_msg(
                    f"N-{i % 3}",
                    kind=pb.CASE_KIND_CRIMINAL if i % 2 else pb.CASE_KIND_ADMINISTRATIVE,
                    campaign_id="netnet-2021" if i < 5 else "qinglang",
                ),
            )
        )
    made.append(await create_case(client, tokens("mct"), "m1", case_msg("M-1", lead="mct")))
    await transition(client, mps, "s1", made[1].name, pb.CASE_STATE_INVESTIGATING)
    await transition(client, mps, "s2", made[3].name, pb.CASE_STATE_DROPPED)

    async def names(md: list[tuple[str, str]], page_size: int = 0, **filters: object) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            page = (
                await client.list_cases(
                    pb.ListCasesRequest(page_size=page_size, page_token=token, **filters),  # type: ignore[arg-type]
                    metadata=md,
                )
            ).response
            if page_size:
                assert len(page.cases) <= page_size
            out += [c.name for c in page.cases]
            token = page.next_page_token
            if not token:
                return out

    every = [c.name for c in made]
    assert await names(office, 3) == every
    assert await names(mps, 2) == every[:7]
    assert await names(office, 2, campaign_id="qinglang") == every[5:7]
    assert await names(office, kind=pb.CASE_KIND_CRIMINAL) == [every[i] for i in (1, 3, 5, 7)]
    assert await names(office, state=pb.CASE_STATE_INVESTIGATING) == [every[1]]
    assert await names(office, state=pb.CASE_STATE_DROPPED) == [every[3]]
    assert await names(office, lead_department="mct") == [every[7]]
    assert await names(office, 1, number="N-1") == [every[1], every[4]]
    assert await names(tokens("mct"), number="N-1") == []
    page = (await client.list_cases(pb.ListCasesRequest(page_size=2), metadata=office)).response
    e = await expect_error(
        client.list_cases(
            pb.ListCasesRequest(page_size=2, page_token=page.next_page_token, number="N-1"),
            metadata=office,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["page_token"]
    e = await expect_error(
        client.list_cases(pb.ListCasesRequest(page_size=-1), metadata=office),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["page_size"]


async def test_update_changes_only_the_masked_fields(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps", operator="lead-detective")
    case = await create_case(client, mps, "c1", _quanjiao())
    clock.advance(3600)
    new_facts = pb.CaseFacts(illegal_gains_fen=2_500_000 * YUAN, customers=4000)
    changed = (
        await client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(
                    name=case.name,
                    etag=case.etag,
                    title="5·11: porn site and money laundering",
                    facts=new_facts,
                    number="9·99",  # not in the mask (and not updatable): ignored
                    provinces=["110000"],  # not in the mask: ignored
                ),
                update_mask=mask("title", "facts"),
            ),
            metadata=mps,
        )
    ).case
    assert changed.title == "5·11: porn site and money laundering"
    assert changed.facts == new_facts
    assert changed.number == "5·11"
    assert list(changed.provinces) == ["340000", "320000"]
    assert changed.etag != case.etag
    assert changed.update_time.ToMicroseconds() == START_US + HOUR_US
    assert changed.create_time == case.create_time
    untouched = pb.Case()
    untouched.CopyFrom(case)
    untouched.title, untouched.etag = changed.title, changed.etag
    untouched.facts.CopyFrom(new_facts)
    untouched.update_time.CopyFrom(changed.update_time)
    assert changed == untouched
    (_, event) = await all_events(client, mps, case.name)
    assert event.kind == pb.CASE_EVENT_KIND_UPDATED
    assert list(event.fields) == ["title", "facts"]
    assert event.detail == "changed title, facts"
    assert (event.actor, event.department) == ("lead-detective", "mps")
    assert event.time.ToMicroseconds() == START_US + HOUR_US

    # Each updatable field on its own.
    steps: list[tuple[str, pb.Case]] = [
        ("lead_region", pb.Case(lead_region="341100")),
        ("assisting_departments", pb.Case(assisting_departments=["mct"])),
        ("provinces", pb.Case(provinces=["340000"])),
        ("campaign_id", pb.Case(campaign_id="qinglang-2021")),
        ("special_action", pb.Case(campaign_id="qinglang-2021", special_action="apps")),
        ("categories", pb.Case(categories=["copyright"])),
        ("linked_resources", pb.Case(linked_resources=["accounts/9"])),
        ("facts", pb.Case()),  # cleared
        ("title", pb.Case(title="5·11")),
    ]
    current = changed
    for i, (path, values) in enumerate(steps):
        values.name, values.etag = case.name, current.etag
        updated = (
            await client.update_case(
                pb.UpdateCaseRequest(request_id=f"u{i + 2}", case=values, update_mask=mask(path)),
                metadata=mps,
            )
        ).case
        field = pb.Case.DESCRIPTOR.fields_by_name[path]
        assert getattr(updated, path) == getattr(values, path), path
        for other in pb.Case.DESCRIPTOR.fields:
            if other.name not in (path, "etag", "update_time"):
                assert getattr(updated, other.name) == getattr(current, other.name), (
                    path,
                    other.name,
                    field.name,
                )
        current = updated
    events = await all_events(client, mps, case.name)
    assert [list(e.fields) for e in events[2:]] == [[p] for p, _ in steps]


async def test_update_of_the_special_action_alone_keeps_the_campaign(
    client: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    updated = (
        await client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(name=case.name, etag=case.etag, special_action="minors-environment"),
                update_mask=mask("special_action"),
            ),
            metadata=mps,
        )
    ).case
    assert (updated.campaign_id, updated.special_action) == ("netnet-2021", "minors-environment")


async def test_update_with_a_stale_etag_is_aborted(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    first = (
        await client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(name=case.name, etag=case.etag, title="First"),
                update_mask=mask("title"),
            ),
            metadata=mps,
        )
    ).case
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        client.update_case(
            pb.UpdateCaseRequest(
                request_id="u2",
                case=pb.Case(name=case.name, etag=case.etag, title="Second"),
                update_mask=mask("title"),
            ),
            metadata=mps,
        ),
        grpc.StatusCode.ABORTED,
    )
    assert error_reason(err) == "ETAG_MISMATCH"
    assert await snapshot(client, campaigns, tokens) == before
    assert (await client.get_case(pb.GetCaseRequest(name=case.name), metadata=mps)).case == first


@pytest.mark.parametrize(
    ("paths", "values", "fields"),
    [
        (("colour",), pb.Case(), ["update_mask"]),
        (("title", "number"), pb.Case(title="x", number="1"), ["update_mask"]),
        (("kind",), pb.Case(kind=pb.CASE_KIND_ADMINISTRATIVE), ["update_mask"]),
        (("state",), pb.Case(state=pb.CASE_STATE_CLOSED), ["update_mask"]),
        (("lead_department",), pb.Case(lead_department="cac"), ["update_mask"]),
        ((), pb.Case(title="x"), ["update_mask"]),
        (("title",), pb.Case(title=""), ["case.title"]),
        (("categories",), pb.Case(categories=["gossip"]), ["case.categories"]),
        (("provinces",), pb.Case(provinces=["341124"]), ["case.provinces"]),
        (
            ("assisting_departments",),
            pb.Case(assisting_departments=["mps"]),
            ["case.assisting_departments"],
        ),
        (("linked_resources",), pb.Case(linked_resources=["cases/1"]), ["case.linked_resources"]),
        (
            ("facts",),
            pb.Case(facts=pb.CaseFacts(illegal_gains_fen=-1)),
            ["case.facts.illegal_gains_fen"],
        ),
        (("lead_region",), pb.Case(lead_region="Quanjiao"), ["case.lead_region"]),
    ],
)
async def test_bad_updates_are_invalid_and_change_nothing(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    paths: tuple[str, ...],
    values: pb.Case,
    fields: list[str],
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    before = await snapshot(client, campaigns, tokens)
    values.name, values.etag = case.name, case.etag
    err = await expect_error(
        client.update_case(
            pb.UpdateCaseRequest(request_id="u1", case=values, update_mask=mask(*paths)),
            metadata=mps,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(err) == fields
    assert await snapshot(client, campaigns, tokens) == before


async def test_only_the_lead_department_updates_a_case(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    case = await create_case(client, tokens("mps"), "c1", case_msg(assisting=["cac"]))
    before = await snapshot(client, campaigns, tokens)
    for md in (tokens("cac"), tokens("office"), tokens("miit"), tokens("mps", "analyst")):
        await expect_error(
            client.update_case(
                pb.UpdateCaseRequest(
                    request_id="u1",
                    case=pb.Case(name=case.name, etag=case.etag, title="Ours now"),
                    update_mask=mask("title"),
                ),
                metadata=md,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    assert await snapshot(client, campaigns, tokens) == before
    await expect_error(
        client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(name="cases/999", title="x"),
                update_mask=mask("title"),
            ),
            metadata=tokens("mps"),
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_the_timeline_records_every_change_and_never_changes(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps", operator="detective")
    office = tokens("office", operator="editor")
    case = await create_case(client, mps, "c1", case_msg(assisting=["cac"]))
    seen: list[list[pb.CaseEvent]] = [await all_events(client, mps, case.name)]

    async def step() -> None:
        clock.advance(3600)

    await step()
    current = (
        await client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(name=case.name, etag=case.etag, provinces=["340000", "320000"]),
                update_mask=mask("provinces"),
            ),
            metadata=mps,
        )
    ).case
    seen.append(await all_events(client, mps, case.name))
    await step()
    await transition(client, mps, "s1", case.name, pb.CASE_STATE_INVESTIGATING)
    seen.append(await all_events(client, mps, case.name))
    await step()
    zhu = await add_party(client, mps, "p1", case.name, "Zhu Dawei", "organiser")
    seen.append(await all_events(client, mps, case.name))
    await step()
    await client.record_measure(
        pb.RecordMeasureRequest(
            request_id="m1",
            party=zhu.name,
            measure=pb.MEASURE_CRIMINAL_DETENTION,
            time=ts(clock.now_us() - HOUR_US),
        ),
        metadata=mps,
    )
    seen.append(await all_events(client, mps, case.name))
    await step()
    await client.record_sentence(
        pb.RecordSentenceRequest(
            request_id="j1", party=zhu.name, sentence=pb.Sentence(term_months=30, fine_fen=500_000)
        ),
        metadata=mps,
    )
    seen.append(await all_events(client, mps, case.name))
    await step()
    draft = await vetted_draft(
        client,
        mps,
        "t0",
        pb.TypicalCase(
            case=case.name,
            title="Quanjiao, Anhui: the 5·11 case",
            region="Quanjiao, Anhui",
            summary="Zhu XX built a porn site and recruited agents.",
        ),
    )
    seen.append(await all_events(client, mps, case.name))
    await step()
    published = await publish_draft(client, office, "t1", draft.name)
    events = await all_events(client, tokens("cac"), case.name)
    seen.append(events)

    # Each listing extends the one before; nothing earlier is ever rewritten.
    for shorter, longer in itertools.pairwise(seen):
        assert longer[: len(shorter)] == shorter
        assert len(longer) == len(shorter) + 1
    assert [e.kind for e in events] == [
        pb.CASE_EVENT_KIND_CREATED,
        pb.CASE_EVENT_KIND_UPDATED,
        pb.CASE_EVENT_KIND_STATE_CHANGED,
        pb.CASE_EVENT_KIND_PARTY_ADDED,
        pb.CASE_EVENT_KIND_MEASURE_RECORDED,
        pb.CASE_EVENT_KIND_SENTENCED,
        pb.CASE_EVENT_KIND_TYPICAL_CASE_DRAFTED,
        pb.CASE_EVENT_KIND_TYPICAL_CASE_PUBLISHED,
    ]
    assert [e.time.ToMicroseconds() for e in events] == [START_US + i * HOUR_US for i in range(8)]
    assert [(e.actor, e.department) for e in events] == [("detective", "mps")] * 7 + [
        ("editor", "office")
    ]
    assert [e.detail for e in events] == [
        "registered case 5·11",
        "changed provinces",
        "registered → investigating",
        "suspect Zhu XX added (organiser)",
        "Zhu XX: criminal detention",
        "Zhu XX: sentenced to 30 months, fine 500000 fen",
        f"drafted {published.name}",
        f"published as {published.name}",
    ]
    assert list(events[1].fields) == ["provinces"]
    assert (events[2].from_state, events[2].to_state) == (
        pb.CASE_STATE_REGISTERED,
        pb.CASE_STATE_INVESTIGATING,
    )
    assert len({e.name for e in events}) == 8
    assert all(e.name.startswith(f"{case.name}/events/") for e in events)
    # Paged, the timeline is the same.
    assert await all_events(client, office, case.name, page_size=2) == events
    assert current.etag != case.etag


async def test_an_unknown_or_malformed_case_name(client: CasesClient, tokens: Tokens) -> None:
    md = tokens("office")
    for name in ("case/1", "cases/x", "cases/0", "cases/1/parties/1", ""):
        e = await expect_error(
            client.get_case(pb.GetCaseRequest(name=name), metadata=md),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad_fields(e) == ["name"]
    e = await expect_error(
        client.batch_get_cases(pb.BatchGetCasesRequest(names=["cases/1", "sites/2"]), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["names[1]"]
    for call in (
        client.list_case_events(pb.ListCaseEventsRequest(parent="cases/7"), metadata=md),
        client.list_parties(pb.ListPartiesRequest(parent="cases/7"), metadata=md),
    ):
        await expect_error(call, grpc.StatusCode.NOT_FOUND)
