"""Clues and hand-overs: sent → acknowledged → accepted or returned, each step timed and
attributed, only the receiver acts, steps in order, unacknowledged ones overdue."""

from __future__ import annotations

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from services.common.clock import ManualClock
from tests.service.cases.helpers import all_events, case_msg, create_case, snapshot
from tests.support.rpc import DAY_US, SECOND_US, Metadata, bad_fields, error_reason, expect_error
from tests.support.servers import START_US, Tokens

ACK_SECONDS = 3600  # the server fixture's hand-over acknowledgement time


async def record_clue(
    client: CasesClient,
    md: Metadata,
    request_id: str,
    department: str,
    region: str = "",
    *,
    summary: str = "A QQ group posts links to porn sites",
    category: str = "obscene",
    source: pb.ClueSource.ValueType = pb.CLUE_SOURCE_PUBLIC_REPORT,
    campaign_id: str = "netnet-2021",
    special_action: str = "",
) -> pb.Clue:
    return (
        await client.record_clue(
            pb.RecordClueRequest(
                request_id=request_id,
                clue=pb.Clue(
                    source=source,
                    summary=summary,
                    holder_department=department,
                    holder_region=region,
                    category=category,
                    campaign_id=campaign_id,
                    special_action=special_action,
                ),
            ),
            metadata=md,
        )
    ).clue


async def transfer(
    client: CasesClient,
    md: Metadata,
    request_id: str,
    clue: str,
    to: str,
    region: str = "",
    note: str = "",
) -> pb.Handover:
    return (
        await client.transfer_clue(
            pb.TransferClueRequest(
                request_id=request_id, clue=clue, to_department=to, to_region=region, note=note
            ),
            metadata=md,
        )
    ).handover


async def acknowledge(client: CasesClient, md: Metadata, request_id: str, name: str) -> pb.Handover:
    return (
        await client.acknowledge_handover(
            pb.AcknowledgeHandoverRequest(request_id=request_id, name=name), metadata=md
        )
    ).handover


async def give_back(
    client: CasesClient, md: Metadata, request_id: str, name: str, *reasons: str
) -> pb.Handover:
    return (
        await client.return_handover(
            pb.ReturnHandoverRequest(request_id=request_id, name=name, reasons=list(reasons)),
            metadata=md,
        )
    ).handover


async def listed(
    client: CasesClient,
    md: Metadata,
    *,
    incoming: bool,
    overdue_only: bool = False,
    state: pb.HandoverState.ValueType = pb.HANDOVER_STATE_UNSPECIFIED,
    page_size: int = 0,
) -> list[pb.Handover]:
    out: list[pb.Handover] = []
    token = ""
    while True:
        page = (
            await client.list_handovers(
                pb.ListHandoversRequest(
                    incoming=incoming,
                    overdue_only=overdue_only,
                    state=state,
                    page_size=page_size,
                    page_token=token,
                ),
                metadata=md,
            )
        ).response
        out += page.handovers
        token = page.next_page_token
        if not token:
            return out


async def test_a_clue_handed_over_and_accepted_into_a_new_case(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    # Quanjiao "5·11": the Chuzhou anti-pornography office hands the QQ-group clue to the
    # Quanjiao county police, who open a case.
    office = tokens("office", operator="chuzhou-clerk")
    police = tokens("mps", operator="quanjiao-duty")
    clue = await record_clue(client, office, "r1", "office", "341100")
    assert clue.name.startswith("clues/")
    assert (clue.holder_department, clue.holder_region) == ("office", "341100")
    assert clue.state == pb.CLUE_STATE_OPEN
    assert clue.source == pb.CLUE_SOURCE_PUBLIC_REPORT
    assert clue.create_time.ToMicroseconds() == START_US
    assert clue.case == ""

    clock.advance(600)
    sent = await transfer(client, office, "t1", clue.name, "mps", "341124", "QQ group, see links")
    t_sent = START_US + 600 * SECOND_US
    assert sent.name.startswith(f"{clue.name}/handovers/")
    assert sent.clue == clue.name
    assert (sent.from_department, sent.from_region) == ("office", "341100")
    assert (sent.to_department, sent.to_region) == ("mps", "341124")
    assert sent.note == "QQ group, see links"
    assert sent.state == pb.HANDOVER_STATE_SENT
    assert sent.sent_time.ToMicroseconds() == t_sent
    assert sent.sent_by == "chuzhou-clerk"
    assert not sent.HasField("acknowledge_time") and not sent.HasField("resolve_time")
    assert not sent.overdue
    in_transfer = (await client.get_clue(pb.GetClueRequest(name=clue.name), metadata=office)).clue
    assert in_transfer.state == pb.CLUE_STATE_IN_TRANSFER

    clock.advance(1200)
    acked = await acknowledge(client, police, "a1", sent.name)
    t_ack = t_sent + 1200 * SECOND_US
    assert acked.state == pb.HANDOVER_STATE_ACKNOWLEDGED
    assert acked.acknowledge_time.ToMicroseconds() == t_ack
    assert acked.acknowledged_by == "quanjiao-duty"
    assert acked.sent_time.ToMicroseconds() == t_sent and acked.sent_by == "chuzhou-clerk"

    clock.advance(86_400)
    t_accept = t_ack + DAY_US
    accepted = await client.accept_handover(
        pb.AcceptHandoverRequest(
            request_id="x1",
            name=sent.name,
            new_case=case_msg("5·11", lead="", title="QQ group porn links for profit"),
        ),
        metadata=tokens("mps", operator="quanjiao-officer"),
    )
    h, case = accepted.handover, accepted.case
    assert h.state == pb.HANDOVER_STATE_ACCEPTED
    assert h.resolve_time.ToMicroseconds() == t_accept
    assert h.resolved_by == "quanjiao-officer"
    assert h.case == case.name
    assert h.acknowledge_time.ToMicroseconds() == t_ack
    assert (case.number, case.lead_department, case.state) == (
        "5·11",
        "mps",
        pb.CASE_STATE_REGISTERED,
    )
    assert case.create_time.ToMicroseconds() == t_accept

    got = await client.get_clue(pb.GetClueRequest(name=clue.name), metadata=police)
    assert got.clue.state == pb.CLUE_STATE_ACCEPTED
    assert got.clue.case == case.name
    assert (got.clue.holder_department, got.clue.holder_region) == ("mps", "341124")
    assert list(got.handovers) == [h]
    # The sender still sees its clue; a department it never passed through does not.
    assert (
        await client.get_clue(pb.GetClueRequest(name=clue.name), metadata=office)
    ).handovers == [h]
    await expect_error(
        client.get_clue(pb.GetClueRequest(name=clue.name), metadata=tokens("cac")),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    events = await all_events(client, police, case.name)
    assert [e.kind for e in events] == [pb.CASE_EVENT_KIND_CREATED, pb.CASE_EVENT_KIND_CLUE_JOINED]
    assert clue.name in events[1].detail
    assert all(e.time.ToMicroseconds() == t_accept for e in events)


async def test_a_clue_joins_an_existing_case(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    police, cac = tokens("mps"), tokens("cac", operator="patroller")
    case = await create_case(client, police, "c1", case_msg(assisting=["mct"]))
    clue = await record_clue(
        client, cac, "r1", "cac", source=pb.CLUE_SOURCE_PATROL, summary="More agents of the site"
    )
    sent = await transfer(client, cac, "t1", clue.name, "mps")
    clock.advance(60)
    await acknowledge(client, police, "a1", sent.name)
    clock.advance(60)
    done = await client.accept_handover(
        pb.AcceptHandoverRequest(request_id="x1", name=sent.name, case=case.name), metadata=police
    )
    assert done.handover.case == case.name
    assert done.case == case  # joining does not change the case record
    events = await all_events(client, police, case.name)
    assert [e.kind for e in events] == [pb.CASE_EVENT_KIND_CREATED, pb.CASE_EVENT_KIND_CLUE_JOINED]
    assert events[1].detail == f"clue {clue.name} joined"
    assert events[1].time.ToMicroseconds() == START_US + 120 * SECOND_US
    got = (await client.get_clue(pb.GetClueRequest(name=clue.name), metadata=cac)).clue
    assert (got.state, got.case) == (pb.CLUE_STATE_ACCEPTED, case.name)

    # An assisting department may join its own clue to the case too; an outsider may not.
    clue2 = await record_clue(client, cac, "r2", "cac")
    to_mct = await transfer(client, cac, "t2", clue2.name, "mct")
    await acknowledge(client, tokens("mct"), "a2", to_mct.name)
    joined = await client.accept_handover(
        pb.AcceptHandoverRequest(request_id="x2", name=to_mct.name, case=case.name),
        metadata=tokens("mct"),
    )
    assert joined.handover.case == case.name
    clue3 = await record_clue(client, cac, "r3", "cac")
    to_nrta = await transfer(client, cac, "t3", clue3.name, "nrta")
    await acknowledge(client, tokens("nrta"), "a3", to_nrta.name)
    err = await expect_error(
        client.accept_handover(
            pb.AcceptHandoverRequest(request_id="x3", name=to_nrta.name, case=case.name),
            metadata=tokens("nrta"),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error_reason(err) == "CASE_NOT_OURS"
    still = await client.get_clue(pb.GetClueRequest(name=clue3.name), metadata=cac)
    assert still.handovers[0].state == pb.HANDOVER_STATE_ACKNOWLEDGED


async def test_a_returned_clue_goes_back_with_reasons_and_can_be_sent_again(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    office, culture = tokens("office", operator="clerk"), tokens("mct", operator="inspector")
    clue = await record_clue(client, office, "r1", "office", "330700", category="vulgar")
    sent = await transfer(client, office, "t1", clue.name, "mct", "330700")
    clock.advance(300)
    await acknowledge(client, culture, "a1", sent.name)
    clock.advance(7200)
    returned = await give_back(
        client, culture, "b1", sent.name, "not in our remit", "the site is hosted abroad"
    )
    assert returned.state == pb.HANDOVER_STATE_RETURNED
    assert list(returned.return_reasons) == ["not in our remit", "the site is hosted abroad"]
    assert returned.resolve_time.ToMicroseconds() == START_US + 7500 * SECOND_US
    assert returned.resolved_by == "inspector"
    assert returned.case == ""
    back = (await client.get_clue(pb.GetClueRequest(name=clue.name), metadata=office)).clue
    assert back.state == pb.CLUE_STATE_RETURNED
    assert (back.holder_department, back.holder_region) == ("office", "330700")

    # The holder sends it on elsewhere; both receipts stay on the clue.
    again = await transfer(client, office, "t2", clue.name, "mps", "330700")
    assert again.state == pb.HANDOVER_STATE_SENT and again.name != sent.name
    got = await client.get_clue(pb.GetClueRequest(name=clue.name), metadata=office)
    assert [h.name for h in got.handovers] == [sent.name, again.name]
    assert [h.state for h in got.handovers] == [pb.HANDOVER_STATE_RETURNED, pb.HANDOVER_STATE_SENT]
    # The department that returned it can no longer act on it, nor transfer it.
    await expect_error(
        transfer(client, culture, "t3", clue.name, "cac"), grpc.StatusCode.PERMISSION_DENIED
    )


async def test_only_the_receiving_department_acts_on_a_hand_over(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    office = tokens("office")
    clue = await record_clue(client, office, "r1", "office")
    sent = await transfer(client, office, "t1", clue.name, "mps", "341124")
    before = await snapshot(client, campaigns, tokens)
    for dept in ("office", "cac", "mct"):  # the sender and bystanders
        md = tokens(dept)
        e = await expect_error(
            acknowledge(client, md, "a1", sent.name), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(e) == "NOT_RECEIVER"
        await expect_error(
            give_back(client, md, "b1", sent.name, "no"), grpc.StatusCode.PERMISSION_DENIED
        )
        await expect_error(
            client.accept_handover(
                pb.AcceptHandoverRequest(request_id="x1", name=sent.name, new_case=case_msg()),
                metadata=md,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    # The receiving department with a read-only role may not act either.
    await expect_error(
        acknowledge(client, tokens("mps", "analyst"), "a1", sent.name),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert await snapshot(client, campaigns, tokens) == before

    police = tokens("mps")
    await acknowledge(client, police, "a1", sent.name)
    for dept in ("office", "cac"):
        await expect_error(
            give_back(client, tokens(dept), "b1", sent.name, "no"),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await expect_error(
            client.accept_handover(
                pb.AcceptHandoverRequest(request_id="x1", name=sent.name, new_case=case_msg()),
                metadata=tokens(dept),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    # Only the holder transfers a clue.
    other = await record_clue(client, office, "r2", "office")
    e = await expect_error(
        transfer(client, police, "t2", other.name, "cac"), grpc.StatusCode.PERMISSION_DENIED
    )
    assert error_reason(e) == "NOT_HOLDER"


async def test_steps_out_of_order_are_failed_preconditions(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    office, police = tokens("office"), tokens("mps")
    clue = await record_clue(client, office, "r1", "office")
    sent = await transfer(client, office, "t1", clue.name, "mps")

    async def refused(step: str, request_id: str) -> None:
        before = await snapshot(client, campaigns, tokens)
        if step == "ack":
            call = acknowledge(client, police, request_id, sent.name)
        elif step == "accept":
            call = client.accept_handover(
                pb.AcceptHandoverRequest(
                    request_id=request_id, name=sent.name, new_case=case_msg(lead="")
                ),
                metadata=police,
            )
        elif step == "return":
            call = give_back(client, police, request_id, sent.name, "no")
        else:
            call = transfer(client, office, request_id, clue.name, "cac")
        e = await expect_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(e) in ("HANDOVER_STATE", "CLUE_STATE")
        assert await snapshot(client, campaigns, tokens) == before

    # sent: not yet accepted or returned; the clue cannot be sent twice at once.
    await refused("accept", "x1")
    await refused("return", "b1")
    await refused("transfer", "t2")
    await acknowledge(client, police, "a1", sent.name)
    # acknowledged: not acknowledged twice.
    await refused("ack", "a2")
    await refused("transfer", "t3")
    await client.accept_handover(
        pb.AcceptHandoverRequest(request_id="x2", name=sent.name, new_case=case_msg(lead="")),
        metadata=police,
    )
    # accepted: final.
    await refused("ack", "a3")
    await refused("accept", "x3")
    await refused("return", "b2")
    e = await expect_error(
        transfer(client, police, "t4", clue.name, "cac"), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error_reason(e) == "CLUE_STATE"

    # returned: final for that receipt as well.
    clue2 = await record_clue(client, office, "r2", "office")
    sent2 = await transfer(client, office, "t5", clue2.name, "mps")
    await acknowledge(client, police, "a4", sent2.name)
    await give_back(client, police, "b3", sent2.name, "duplicate of 5·11")
    for call in (
        acknowledge(client, police, "a5", sent2.name),
        give_back(client, police, "b4", sent2.name, "again"),
        client.accept_handover(
            pb.AcceptHandoverRequest(request_id="x4", name=sent2.name, new_case=case_msg(lead="")),
            metadata=police,
        ),
    ):
        await expect_error(call, grpc.StatusCode.FAILED_PRECONDITION)
    # Sending a clue to where it already is makes no sense.
    e = await expect_error(
        transfer(client, office, "t6", clue2.name, "office"), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error_reason(e) == "SAME_HOLDER"


async def test_unknown_hand_overs_and_clues_are_not_found(
    client: CasesClient, tokens: Tokens
) -> None:
    office = tokens("office")
    clue = await record_clue(client, office, "r1", "office")
    sent = await transfer(client, office, "t1", clue.name, "mps")
    police = tokens("mps")
    await expect_error(
        acknowledge(client, police, "a1", f"{clue.name}/handovers/999"), grpc.StatusCode.NOT_FOUND
    )
    other = await record_clue(client, office, "r2", "office")
    # The right hand-over id under the wrong clue does not resolve.
    hid = sent.name.rsplit("/", 1)[1]
    await expect_error(
        acknowledge(client, police, "a2", f"{other.name}/handovers/{hid}"),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        client.get_clue(pb.GetClueRequest(name="clues/999"), metadata=office),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        transfer(client, office, "t2", "clues/999", "mps"), grpc.StatusCode.NOT_FOUND
    )


async def test_unacknowledged_hand_overs_become_overdue(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    office, police = tokens("office"), tokens("mps")
    c1 = await record_clue(client, office, "r1", "office")
    c2 = await record_clue(client, office, "r2", "office")
    c3 = await record_clue(client, office, "r3", "office")
    h1 = await transfer(client, office, "t1", c1.name, "mps")
    clock.advance(1800)
    h2 = await transfer(client, office, "t2", c2.name, "mps")
    h3 = await transfer(client, office, "t3", c3.name, "cac")  # another receiver
    assert not any(h.overdue for h in (h1, h2, h3))

    clock.advance(ACK_SECONDS - 1800 - 1)  # 1 s before h1's time is up
    assert await listed(client, police, incoming=True, overdue_only=True) == []
    assert [h.overdue for h in await listed(client, police, incoming=True)] == [False, False]

    clock.advance(1)  # h1 has waited exactly the acknowledgement time
    overdue = await listed(client, police, incoming=True, overdue_only=True)
    assert [h.name for h in overdue] == [h1.name]
    assert overdue[0].overdue and overdue[0].state == pb.HANDOVER_STATE_SENT
    assert {h.name: h.overdue for h in await listed(client, police, incoming=True)} == {
        h1.name: True,
        h2.name: False,
    }
    # The sender sees its late hand-overs too, the flag on the clue as well.
    assert [h.name for h in await listed(client, office, incoming=False, overdue_only=True)] == [
        h1.name
    ]
    got = await client.get_clue(pb.GetClueRequest(name=c1.name), metadata=office)
    assert got.handovers[0].overdue
    # Not the business of other departments.
    assert await listed(client, tokens("cac"), incoming=True, overdue_only=True) == []
    assert await listed(client, tokens("miit"), incoming=False, overdue_only=True) == []

    # Acknowledging, however late, ends it (the acknowledgement time is kept).
    clock.advance(600)
    late = await acknowledge(client, police, "a1", h1.name)
    assert not late.overdue
    assert late.acknowledge_time.ToMicroseconds() == START_US + (ACK_SECONDS + 600) * SECOND_US
    assert await listed(client, police, incoming=True, overdue_only=True) == []

    clock.advance(1200)  # now h2 and h3 are both an hour old
    assert [h.name for h in await listed(client, police, incoming=True, overdue_only=True)] == [
        h2.name
    ]
    assert [
        h.name for h in await listed(client, tokens("cac"), incoming=True, overdue_only=True)
    ] == [h3.name]
    assert [h.name for h in await listed(client, office, incoming=False, overdue_only=True)] == [
        h2.name,
        h3.name,
    ]
    # An acknowledged hand-over never becomes overdue, however long it waits.
    clock.advance(30 * 86_400)
    flags = {h.name: h.overdue for h in await listed(client, office, incoming=False)}
    assert flags == {h1.name: False, h2.name: True, h3.name: True}
    # overdue hand-overs are 'sent' ones: asking for another state with overdue_only is wrong.
    e = await expect_error(
        client.list_handovers(
            pb.ListHandoversRequest(
                incoming=True, overdue_only=True, state=pb.HANDOVER_STATE_ACKNOWLEDGED
            ),
            metadata=police,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["state"]


async def test_list_hand_overs_by_direction_state_and_page(
    client: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    office, police = tokens("office"), tokens("mps")
    sent: list[pb.Handover] = []
    for i in range(5):
        clue = await record_clue(client, office, f"r{i}", "office")
        sent.append(await transfer(client, office, f"t{i}", clue.name, "mps"))
        clock.advance(1)
    await acknowledge(client, police, "a1", sent[1].name)
    await acknowledge(client, police, "a3", sent[3].name)
    names = [h.name for h in sent]
    assert [h.name for h in await listed(client, police, incoming=True, page_size=2)] == names
    assert [h.name for h in await listed(client, office, incoming=False, page_size=3)] == names
    assert await listed(client, police, incoming=False) == []
    assert await listed(client, office, incoming=True) == []
    acked = await listed(client, police, incoming=True, state=pb.HANDOVER_STATE_ACKNOWLEDGED)
    assert [h.name for h in acked] == [names[1], names[3]]
    waiting = await listed(
        client, office, incoming=False, state=pb.HANDOVER_STATE_SENT, page_size=1
    )
    assert [h.name for h in waiting] == [names[0], names[2], names[4]]
    # A page token is bound to its filter.
    page = (
        await client.list_handovers(
            pb.ListHandoversRequest(incoming=True, page_size=2), metadata=police
        )
    ).response
    e = await expect_error(
        client.list_handovers(
            pb.ListHandoversRequest(incoming=False, page_size=2, page_token=page.next_page_token),
            metadata=police,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert bad_fields(e) == ["page_token"]


async def test_hand_over_steps_are_idempotent(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    office, police = tokens("office"), tokens("mps")
    clue = await record_clue(client, office, "r1", "office")
    assert await record_clue(client, office, "r1", "office") == clue
    sent = await transfer(client, office, "t1", clue.name, "mps")
    clock.advance(60)
    assert await transfer(client, office, "t1", clue.name, "mps") == sent
    acked = await acknowledge(client, police, "a1", sent.name)
    clock.advance(60)
    assert await acknowledge(client, police, "a1", sent.name) == acked
    request = pb.AcceptHandoverRequest(request_id="x1", name=sent.name, new_case=case_msg(lead=""))
    first = await client.accept_handover(request, metadata=police)
    state = await snapshot(client, campaigns, tokens)
    clock.advance(60)
    assert await client.accept_handover(request, metadata=police) == first
    assert await snapshot(client, campaigns, tokens) == state
    cases = ((await client.list_cases(pb.ListCasesRequest(), metadata=police)).response).cases
    assert [c.name for c in cases] == [first.case.name]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.TransferClueRequest(to_department="police"), "to_department"),
        (pb.TransferClueRequest(to_department="mps", to_region="34112"), "to_region"),
        (pb.TransferClueRequest(to_department="mps", note="x" * 4001), "note"),
        (pb.TransferClueRequest(to_department="mps", clue="clue/1"), "clue"),
    ],
)
async def test_bad_transfers_are_invalid(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    request_: pb.TransferClueRequest,
    field: str,
) -> None:
    office = tokens("office")
    clue = await record_clue(client, office, "r1", "office")
    before = await snapshot(client, campaigns, tokens)
    request = pb.TransferClueRequest(request_id="t1", clue=clue.name)
    request.MergeFrom(request_)
    if request_.clue:
        request.clue = request_.clue
    e = await expect_error(
        client.transfer_clue(request, metadata=office), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(e) == [field]
    assert await snapshot(client, campaigns, tokens) == before


async def test_bad_accepts_and_returns_are_invalid(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    office, police = tokens("office"), tokens("mps")
    clue = await record_clue(client, office, "r1", "office")
    sent = await transfer(client, office, "t1", clue.name, "mps")
    await acknowledge(client, police, "a1", sent.name)
    before = await snapshot(client, campaigns, tokens)
    cases = [
        (pb.AcceptHandoverRequest(request_id="x1", name=sent.name), ["case"]),
        (
            pb.AcceptHandoverRequest(
                request_id="x1", name=sent.name, case="cases/1", new_case=case_msg()
            ),
            ["case"],
        ),
        (
            pb.AcceptHandoverRequest(
                request_id="x1", name=sent.name, new_case=case_msg(categories=["gossip"])
            ),
            ["new_case.categories"],
        ),
        (
            pb.AcceptHandoverRequest(request_id="x1", name=sent.name, new_case=case_msg("5 11")),
            ["new_case.number"],
        ),
        (pb.AcceptHandoverRequest(request_id="x1", name="handovers/1", case="cases/1"), ["name"]),
    ]
    for request, fields in cases:
        e = await expect_error(
            client.accept_handover(request, metadata=police), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert bad_fields(e) == fields
    for reasons in ([], ["x" * 513], [""]):
        e = await expect_error(
            give_back(client, police, "b1", sent.name, *reasons), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert bad_fields(e) == ["reasons"]
    assert await snapshot(client, campaigns, tokens) == before
