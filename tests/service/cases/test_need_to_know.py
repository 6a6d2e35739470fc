"""Need-to-know: the lead office is the lead department in a region covering the case's (not
every office of that ministry); assisting and coordinating offices see the details of cases
in an area they cover or lie in; real names only the lead office. Every read surface, every
change, and the change feed follow the one rule."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.auth import issue_token
from tests.service.cases.helpers import (
    add_party,
    all_events,
    case_msg,
    create_case,
    mask,
    regional,
    snapshot,
    transition,
    watch,
)
from tests.support.rpc import Metadata, connected, error_reason, expect_error
from tests.support.servers import SHARED_CAMPAIGNS, Tokens

WITHHELD = common_pb2.CHANGE_KIND_WITHHELD


@dataclass(frozen=True)
class Caller:
    department: str
    region: str
    details: bool  # of the Jinhua case
    names: bool

    def md(self, tokens: Tokens) -> Metadata:
        if not self.region:
            return tokens(self.department)
        return regional(tokens, self.department, self.region)

    def sees_quanjiao(self) -> bool:  # mps leads it in 341124, nobody assists
        return not self.region and self.department in ("mps", "office")


CALLERS = [
    Caller("mps", "", True, True),  # the ministry, national
    Caller("mps", "330000", True, True),  # Zhejiang's department covers Jinhua
    Caller("mps", "330700", True, True),  # Jinhua's own bureau
    Caller("mps", "330781", False, False),  # a county under Jinhua: not the leading office
    Caller("mps", "110000", False, False),  # Beijing's bureau: the same ministry, not the lead
    Caller("cac", "", True, False),  # assisting, national
    Caller("cac", "330781", True, False),  # assisting, in the case's area
    Caller("cac", "110000", False, False),  # assisting department, an area not involved
    Caller("office", "", True, False),
    Caller("office", "330700", True, False),
    Caller("office", "110000", False, False),
    Caller("miit", "", False, False),  # neither lead nor assisting
]
IDS = [f"{c.department}-{c.region or 'national'}" for c in CALLERS]


async def _jinhua(client: CasesClient, tokens: Tokens) -> tuple[pb.Case, pb.Case]:
    """The Jinhua case (mps of 330700, cac assisting) with two suspects; and Quanjiao's."""
    jinhua_md = regional(tokens, "mps", "330700")
    jinhua = await create_case(
        client,
        jinhua_md,
        "c1",
        case_msg("JH-1", region="330700", assisting=["cac"], provinces=["330000"]),
    )
    await add_party(client, jinhua_md, "p1", jinhua.name, "蒋明华", "organiser")
    await add_party(client, jinhua_md, "p2", jinhua.name, "Zhu Dawei", "agent")
    quanjiao = await create_case(client, tokens("mps"), "c2", case_msg("5·11"))
    return jinhua, quanjiao


@pytest.mark.parametrize("caller", CALLERS, ids=IDS)
async def test_every_read_follows_the_lead_office_rule(
    client: CasesClient, tokens: Tokens, caller: Caller
) -> None:
    jinhua, quanjiao = await _jinhua(client, tokens)
    md = caller.md(tokens)
    visible = [c.name for c in (jinhua, quanjiao) if c is quanjiao and caller.sees_quanjiao()]
    if caller.details:
        visible.insert(0, jinhua.name)

    get = client.get_case(pb.GetCaseRequest(name=jinhua.name), metadata=md)
    events = all_events(client, md, jinhua.name)
    parties = client.list_parties(pb.ListPartiesRequest(parent=jinhua.name), metadata=md)
    if caller.details:
        assert (await get).case == jinhua
        assert len(await events) == 3
        listed = (await parties).response.parties
        assert [p.masked_name for p in listed] == ["蒋某某", "Zhu XX"]
        assert [p.real_name for p in listed] == (
            ["蒋明华", "Zhu Dawei"] if caller.names else ["", ""]
        )
    else:
        for call in (get, events, parties):
            err = await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
            assert error_reason(err) == "CASE_NOT_VISIBLE"

    batch = await client.batch_get_cases(
        pb.BatchGetCasesRequest(names=[jinhua.name, quanjiao.name]), metadata=md
    )
    assert [c.name for c in batch.cases] == visible
    assert sorted(batch.not_found) == sorted({jinhua.name, quanjiao.name} - set(visible))

    for size in (1, 50):  # a page is filled with visible cases, and ends when they do
        names, token = [], ""
        while True:
            page = (
                await client.list_cases(
                    pb.ListCasesRequest(page_size=size, page_token=token), metadata=md
                )
            ).response
            assert len(page.cases) <= size
            names += [c.name for c in page.cases]
            token = page.next_page_token
            if not token:
                break
        assert names == visible

    holders = await client.find_case_holders(pb.FindCaseHoldersRequest(number="JH-1"), metadata=md)
    assert [(h.case, h.lead_department) for h in holders.holders] == [
        (jinhua.name if caller.details else "", "mps")
    ]


@pytest.mark.parametrize("caller", [c for c in CALLERS if not c.names], ids=lambda c: str(c))
async def test_only_the_lead_office_changes_a_case(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, caller: Caller
) -> None:
    jinhua, _ = await _jinhua(client, tokens)
    md = caller.md(tokens)
    before = await snapshot(client, campaigns, tokens)
    calls = [
        client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(name=jinhua.name, title="T"),
                update_mask=mask("title"),
            ),
            metadata=md,
        ),
        transition(client, md, "s1", jinhua.name, pb.CASE_STATE_INVESTIGATING),
        add_party(client, md, "p9", jinhua.name, "Liu Qiang"),
        client.record_measure(
            pb.RecordMeasureRequest(
                request_id="m1",
                party=f"{jinhua.name}/parties/1",
                measure=pb.MEASURE_CRIMINAL_DETENTION,
            ),
            metadata=md,
        ),
    ]
    for call in calls:
        await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
    assert await snapshot(client, campaigns, tokens) == before


async def test_an_office_leads_only_cases_of_its_own_area(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    beijing = regional(tokens, "mps", "110000")
    before = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        create_case(client, beijing, "c1", case_msg(region="330700")),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error_reason(err) == "WRONG_REGION"
    mine = await create_case(client, beijing, "c2", case_msg(region="110105"))
    after = await snapshot(client, campaigns, tokens)
    err = await expect_error(
        client.update_case(
            pb.UpdateCaseRequest(
                request_id="u1",
                case=pb.Case(name=mine.name, lead_region="330700"),
                update_mask=mask("lead_region"),
            ),
            metadata=beijing,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error_reason(err) == "WRONG_REGION"
    assert await snapshot(client, campaigns, tokens) == after != before


async def test_a_clue_joins_only_a_case_the_receiving_office_works_on(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    """Accepting into a case answers with the case: only its lead or assisting office may."""
    jinhua, _ = await _jinhua(client, tokens)
    office = tokens("office")
    for to_department, to_region, allowed in (
        ("mps", "110000", False),
        ("cac", "110000", False),
        ("cac", "330700", True),
    ):
        clue = (
            await client.record_clue(
                pb.RecordClueRequest(
                    request_id=f"r-{to_department}-{to_region}",
                    clue=pb.Clue(
                        source=pb.CLUE_SOURCE_PUBLIC_REPORT,
                        summary="A QQ group",
                        holder_department="office",
                        category="obscene",
                    ),
                ),
                metadata=office,
            )
        ).clue
        sent = (
            await client.transfer_clue(
                pb.TransferClueRequest(
                    request_id=f"t-{clue.name}",
                    clue=clue.name,
                    to_department=to_department,
                    to_region=to_region,
                ),
                metadata=office,
            )
        ).handover
        receiver = regional(tokens, to_department, to_region)
        # Another office of the receiving ministry is not the receiver.
        await expect_error(
            client.acknowledge_handover(
                pb.AcknowledgeHandoverRequest(request_id=f"x-{sent.name}", name=sent.name),
                metadata=regional(tokens, to_department, "440000"),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await client.acknowledge_handover(
            pb.AcknowledgeHandoverRequest(request_id=f"a-{sent.name}", name=sent.name),
            metadata=receiver,
        )
        accept = client.accept_handover(
            pb.AcceptHandoverRequest(request_id=f"j-{sent.name}", name=sent.name, case=jinhua.name),
            metadata=receiver,
        )
        if allowed:
            assert (await accept).case == jinhua
        else:
            before = await snapshot(client, campaigns, tokens)
            err = await expect_error(accept, grpc.StatusCode.PERMISSION_DENIED)
            assert error_reason(err) == "CASE_NOT_OURS"
            assert await snapshot(client, campaigns, tokens) == before
        # The clue is for the offices it passed through, not the whole ministry.
        for md, sees in (
            (receiver, True),
            (regional(tokens, to_department, "440000"), False),
            (tokens("miit"), False),
        ):
            got = client.get_clue(pb.GetClueRequest(name=clue.name), metadata=md)
            if sees:
                assert (await got).clue.name == clue.name
            else:
                await expect_error(got, grpc.StatusCode.PERMISSION_DENIED)
        incoming = (
            await client.list_handovers(
                pb.ListHandoversRequest(incoming=True),
                metadata=regional(tokens, to_department, "440000"),
            )
        ).response
        assert sent.name not in [h.name for h in incoming.handovers]


# --- the change feed -------------------------------------------------------------------------


async def _changes(client: CasesClient, tokens: Tokens) -> dict[str, pb.Case]:
    """Changes of every kind of record: what each caller may read of them differs."""
    jinhua, quanjiao = await _jinhua(client, tokens)  # seq 1..4
    lead = regional(tokens, "mps", "330700")
    await client.record_measure(  # 5
        pb.RecordMeasureRequest(
            request_id="m1", party=f"{jinhua.name}/parties/1", measure=pb.MEASURE_ARREST
        ),
        metadata=lead,
    )
    draft = await client.draft_typical_case(  # 6: a draft is for those who see the case
        pb.DraftTypicalCaseRequest(
            request_id="d1",
            typical_case=pb.TypicalCase(
                case=jinhua.name, title="Jinhua", region="Jinhua", summary="蒋某某 ran it"
            ),
        ),
        metadata=lead,
    )
    await client.publish_typical_case(  # 7: the published Quanjiao summary is everyone's
        pb.PublishTypicalCaseRequest(
            request_id="t2",
            typical_case=pb.TypicalCase(
                case=quanjiao.name, title="Quanjiao", region="Anhui", summary="Zhu XX ran it"
            ),
        ),
        metadata=tokens("mps"),
    )
    clue = await client.record_clue(  # 8: the office's clue
        pb.RecordClueRequest(
            request_id="r1",
            clue=pb.Clue(
                source=pb.CLUE_SOURCE_PATROL,
                summary="A live stream",
                holder_department="office",
                category="obscene",
            ),
        ),
        metadata=tokens("office"),
    )
    await client.transfer_clue(  # 9: handed to cac
        pb.TransferClueRequest(request_id="h1", clue=clue.clue.name, to_department="cac"),
        metadata=tokens("office"),
    )
    return {"jinhua": jinhua, "quanjiao": quanjiao, "draft": draft.typical_case}  # type: ignore[dict-item]


# The campaigns the server holds for the tests come first in its feed (one change each).
BASE = len(SHARED_CAMPAIGNS)


def _readable(caller: Caller) -> list[int]:
    """The seqs of _changes the caller may read (the others come withheld)."""
    seqs = []
    if caller.details:
        seqs += [1, 2, 3, 5, 6]
    if caller.sees_quanjiao():
        seqs.append(4)
    seqs.append(7)
    if caller.department in ("office", "cac") and not caller.region:
        seqs += [8, 9]  # the national clue, as it reads now: its holder's and its receiver's
    return sorted(seqs)


@pytest.mark.parametrize("caller", CALLERS, ids=IDS)
async def test_the_change_feed_withholds_what_the_caller_may_not_read(
    client: CasesClient, tokens: Tokens, caller: Caller
) -> None:
    await _changes(client, tokens)
    md = caller.md(tokens)
    events = await watch(client, md, BASE, 9)
    assert [e.seq - BASE for e in events] == list(range(1, 10))  # nothing missed, in order
    readable = _readable(caller)
    for e in events:
        if e.seq - BASE in readable:
            assert e.kind != WITHHELD and e.resource and e.department, e
        else:  # its position only: no resource, department, campaign or time
            assert e == common_pb2.ChangeEvent(seq=e.seq, kind=WITHHELD), e
    # Resumed from any position, the same.
    for after in (3, 6, 8):
        assert await watch(client, md, BASE + after, 9 - after) == events[after:]


async def test_a_live_watcher_sees_its_changes_and_only_the_position_of_others(
    client: CasesClient, tokens: Tokens
) -> None:
    cac = regional(tokens, "cac", "110000")
    # The generated stub: the writes must wait until the watch is listening.
    call = client.stub.WatchChanges(pb.WatchChangesRequest(from_end=True), metadata=cac)
    got: list[common_pb2.ChangeEvent] = []
    async with connected(call) as changes:

        async def read(n: int) -> None:
            async for response in changes:
                got.append(response.event)
                if len(got) == n:
                    return

        pending = asyncio.ensure_future(read(3))
        hidden = await create_case(client, tokens("mps"), "c1", case_msg())
        await add_party(client, tokens("mps"), "p1", hidden.name, "Zhu Dawei")
        mine = await create_case(client, cac, "c2", case_msg("B-1", lead="cac", region="110000"))
        await asyncio.wait_for(pending, 10)
    assert [(e.seq - BASE, e.kind, e.resource) for e in got] == [
        (1, WITHHELD, ""),
        (2, WITHHELD, ""),
        (3, common_pb2.CHANGE_KIND_CREATED, mine.name),
    ]


async def test_a_repeated_request_id_answers_only_the_same_office(
    client: CasesClient, tokens: Tokens
) -> None:
    """The stored answer of AddParty holds the real name: the same operator name in another
    region's office repeating the request gets no stored answer."""
    jinhua, _ = await _jinhua(client, tokens)

    def office_of(region: str) -> Metadata:
        token = issue_token(
            tokens.key, operator="zhang", department="mps", roles=["operator"], region=region
        )
        return [("authorization", f"Bearer {token}")]

    first = await add_party(client, office_of("330700"), "same-id", jinhua.name, "Liu Qiang")
    assert first.real_name == "Liu Qiang"
    assert (
        await add_party(client, office_of("330700"), "same-id", jinhua.name, "Liu Qiang") == first
    )
    err = await expect_error(
        add_party(client, office_of("110000"), "same-id", jinhua.name, "Liu Qiang"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "Liu Qiang" not in str(err.message)
