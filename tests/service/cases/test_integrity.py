"""Change feed, audit chain, idempotency and authentication of the cases service."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.cases.v1 import campaigns_pb2 as cpb
from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import CasesClient
from netnet.common.v1 import common_pb2
from services.common.clock import ManualClock
from services.common.config import Settings
from services.common.server import RunningServer
from tests.service.cases.helpers import (
    add_party,
    case_msg,
    create_campaign,
    create_case,
    publish_draft,
    snapshot,
    transition,
    vetted_draft,
    watch,
)
from tests.support.audit import keyed_link, transaction
from tests.support.rpc import Metadata, bad_fields, connected, error_reason, expect_error, method_of
from tests.support.servers import START_US, Tokens

CREATED, UPDATED = common_pb2.CHANGE_KIND_CREATED, common_pb2.CHANGE_KIND_UPDATED


async def _some_changes(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> list[tuple[str, int, str, str, str, str]]:
    """Nine mutations (and some refused or repeated ones); returns what the log should say:
    (resource, kind, department, campaign, method, request id)."""
    admin = tokens("office", "admin", operator="director")
    mps = tokens("mps", operator="detective")
    await create_campaign(campaigns, admin, "k1")
    clock.advance(1)
    case = await create_case(client, mps, "c1", case_msg())
    await create_case(client, mps, "c1", case_msg())  # repeat: nothing new
    await expect_error(  # refused: nothing
        create_case(client, mps, "c2", case_msg(lead="cac")), grpc.StatusCode.PERMISSION_DENIED
    )
    clock.advance(1)
    party = await add_party(client, mps, "p1", case.name, "Zhu Dawei")
    await expect_error(
        transition(client, mps, "s0", case.name, pb.CASE_STATE_CLOSED),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    clock.advance(1)
    await transition(client, mps, "s1", case.name, pb.CASE_STATE_INVESTIGATING)
    office = tokens("office", operator="clerk")
    clue = (
        await client.record_clue(
            pb.RecordClueRequest(
                request_id="r1",
                clue=pb.Clue(
                    source=pb.CLUE_SOURCE_PUBLIC_REPORT,
                    summary="QQ group",
                    holder_department="office",
                    category="obscene",
                    campaign_id="netnet-2021",
                ),
            ),
            metadata=office,
        )
    ).clue
    sent = (
        await client.transfer_clue(
            pb.TransferClueRequest(request_id="t1", clue=clue.name, to_department="mps"),
            metadata=office,
        )
    ).handover
    await client.acknowledge_handover(
        pb.AcknowledgeHandoverRequest(request_id="a1", name=sent.name), metadata=mps
    )
    draft = await vetted_draft(
        client,
        mps,
        "y0",
        pb.TypicalCase(
            case=case.name, title="5·11", region="Quanjiao", summary="Zhu XX ran a site"
        ),
    )
    t = await publish_draft(client, office, "y1", draft.name)
    return [
        ("campaigns/netnet-2021", CREATED, "office", "netnet-2021", "CreateCampaign", "k1"),
        (case.name, CREATED, "mps", "netnet-2021", "CreateCase", "c1"),
        (party.name, CREATED, "mps", "netnet-2021", "AddParty", "p1"),
        (case.name, UPDATED, "mps", "netnet-2021", "TransitionCase", "s1"),
        (clue.name, CREATED, "office", "netnet-2021", "RecordClue", "r1"),
        (sent.name, CREATED, "office", "netnet-2021", "TransferClue", "t1"),
        (sent.name, UPDATED, "mps", "netnet-2021", "AcknowledgeHandover", "a1"),
        (t.name, CREATED, "mps", "netnet-2021", "DraftTypicalCase", "y0"),
        (t.name, UPDATED, "office", "netnet-2021", "PublishTypicalCase", "y1"),
    ]


# --- change feed ---------------------------------------------------------------------------


@pytest.mark.own_campaigns  # its audit sequence starts with its own
async def test_the_change_feed_is_ordered_and_resumable(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    expected = await _some_changes(client, campaigns, tokens, clock)
    md = tokens("office", "analyst")  # reads every record of these changes
    events = await watch(client, md, 0, len(expected))
    assert [e.seq for e in events] == list(range(1, len(expected) + 1))
    assert [(e.resource, e.kind, e.department, e.campaign_id) for e in events] == [
        x[:4] for x in expected
    ]
    assert [e.time.ToMicroseconds() for e in events[:3]] == [
        START_US,
        START_US + 1_000_000,
        START_US + 2_000_000,
    ]
    assert all(e.count == 1 for e in events)
    # Resume after any position.
    assert await watch(client, md, 5, len(events) - 5) == events[5:]

    # Live: a watcher at the end gets the next change as it commits.
    # The generated stub: the write must wait until the watch is listening.
    call = client.stub.WatchChanges(pb.WatchChangesRequest(after_seq=events[-1].seq), metadata=md)
    async with connected(call) as changes:
        pending = asyncio.ensure_future(anext(changes, None))
        made = await create_case(client, tokens("mct"), "live", case_msg("M-1", lead="mct"))
        response = await asyncio.wait_for(pending, 10)
    assert response is not None, "the stream ended"
    event = response.event
    assert (event.seq, event.resource, event.kind, event.department) == (
        len(expected) + 1,
        made.name,
        CREATED,
        "mct",
    )


async def test_watch_from_the_end(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    md = tokens("office", "analyst")
    await create_case(client, tokens("mps"), "c1", case_msg())
    # The generated stub: the write must wait until the watch is listening.
    call = client.stub.WatchChanges(pb.WatchChangesRequest(after_seq=0, from_end=True), metadata=md)
    async with connected(call) as changes:
        made = await create_case(client, tokens("mps"), "c2", case_msg("N-2"))
        response = await asyncio.wait_for(anext(changes, None), 10)
    assert isinstance(response, pb.WatchChangesResponse)
    # The first change after the end (the shared campaigns and c1 came before it).
    assert response.event.resource == made.name


async def test_watch_rejects_a_negative_position(client: CasesClient, tokens: Tokens) -> None:
    e = await expect_error(watch(client, tokens(), -1, 1), grpc.StatusCode.INVALID_ARGUMENT)
    assert bad_fields(e) == ["after_seq"]


# --- audit ---------------------------------------------------------------------------------


async def _entries(client: CasesClient, md: Metadata) -> list[common_pb2.AuditEntry]:
    out: list[common_pb2.AuditEntry] = []
    token = ""
    while True:
        page = (
            await client.list_audit_entries(
                pb.ListAuditEntriesRequest(page_size=3, page_token=token), metadata=md
            )
        ).response
        out += page.entries
        token = page.next_page_token
        if not token:
            return out


@pytest.mark.own_campaigns  # its audit sequence starts with its own
async def test_every_mutation_is_audited_in_a_hash_chain(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
) -> None:
    expected = await _some_changes(client, campaigns, tokens, clock)
    auditor = tokens("office", "auditor")
    entries = await _entries(client, auditor)
    assert [e.seq for e in entries] == list(range(1, len(expected) + 1))
    assert [(e.resource, e.department, e.method, e.request_id) for e in entries] == [
        (x[0], x[2], x[4], x[5]) for x in expected
    ]
    assert [e.operator for e in entries] == [
        "director",
        "detective",
        "detective",
        "detective",
        "clerk",
        "clerk",
        "detective",
        "detective",
        "clerk",
    ]
    assert entries[3].outcome == "registered → investigating"
    assert entries[0].time.ToMicroseconds() == START_US
    prev = entries[0].prev_hash
    for e in entries:
        assert e.prev_hash == prev
        assert e.hash == keyed_link(e, server.runtime.settings.audit_key_file)
        prev = e.hash
    # No real name in the audit trail either.
    assert not any("Zhu Dawei" in e.outcome or "Dawei" in e.resource for e in entries)
    verification = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
    ).verification
    assert verification.ok and verification.entries_checked == len(expected)


async def test_the_audit_log_is_for_auditors(client: CasesClient, tokens: Tokens) -> None:
    for md in (tokens("office", "admin"), tokens("mps", "operator", "analyst")):
        for call in (
            client.list_audit_entries(pb.ListAuditEntriesRequest(), metadata=md),
            client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=md),
        ):
            e = await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
            assert error_reason(e) == "ROLE_REQUIRED"


def _tamper(settings: Settings, sql: str) -> None:
    with transaction(settings) as conn:
        conn.execute(sql)


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [
        ("UPDATE audit_log SET outcome = 'registered → closed' WHERE seq = 4", 4),
        ("UPDATE audit_log SET operator = 'someone' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 8", 8),  # the tail cut off
    ],
)
@pytest.mark.own_campaigns
async def test_an_edited_or_deleted_audit_entry_is_detected(
    client: CasesClient,
    campaigns: CasesClient,
    tokens: Tokens,
    clock: ManualClock,
    server: RunningServer,
    sql: str,
    first_bad: int,
) -> None:
    await _some_changes(client, campaigns, tokens, clock)
    auditor = tokens("office", "auditor")
    ok = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
    ).verification
    assert ok.ok
    _tamper(server.runtime.settings, sql)
    bad = (
        await client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=auditor)
    ).verification
    assert not bad.ok
    assert bad.first_bad_seq == first_bad
    assert bad.problem


# --- idempotency ---------------------------------------------------------------------------


async def test_the_same_request_twice_gives_the_same_answer_and_one_record(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, clock: ManualClock
) -> None:
    mps = tokens("mps")
    first = await create_case(client, mps, "c1", case_msg())
    after_first = await snapshot(client, campaigns, tokens)
    clock.advance(3600)
    assert await create_case(client, mps, "c1", case_msg()) == first
    assert await snapshot(client, campaigns, tokens) == after_first
    # Many at once, too.
    answers = await asyncio.gather(
        *(create_case(client, mps, "c2", case_msg("N-2")) for _ in range(8))
    )
    assert len({a.name for a in answers}) == 1
    cases = ((await client.list_cases(pb.ListCasesRequest(), metadata=mps)).response).cases
    assert [c.name for c in cases] == [first.name, answers[0].name]
    entries = (
        (
            await client.list_audit_entries(
                pb.ListAuditEntriesRequest(), metadata=tokens("office", "auditor")
            )
        ).response
    ).entries
    own = [e.request_id for e in entries if not e.request_id.startswith("campaign-")]
    assert own == ["c1", "c2"]

    # Every kind of mutation replays its first answer.
    party_request = pb.AddPartyRequest(
        request_id="p1", parent=first.name, party=pb.Party(kind=1, real_name="Zhu Dawei")
    )
    replays: list[tuple[object, Message]] = [
        (client.add_party, party_request),
        (
            client.transition_case,
            pb.TransitionCaseRequest(request_id="s1", name=first.name, state=2),
        ),
    ]
    for method, request in replays:
        one = await method(request, metadata=mps)  # type: ignore[operator]
        state = await snapshot(client, campaigns, tokens)
        clock.advance(60)
        assert await method(request, metadata=mps) == one  # type: ignore[operator]
        assert await snapshot(client, campaigns, tokens) == state


async def test_a_request_id_reused_for_another_body_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    before = await snapshot(client, campaigns, tokens)
    e = await expect_error(
        create_case(client, mps, "c1", case_msg("6·07")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad_fields(e) == ["request_id"]
    assert error_reason(e) == "REQUEST_ID_REUSED"
    assert await snapshot(client, campaigns, tokens) == before
    # The same id for another method is another request.
    party = await add_party(client, mps, "c1", case.name, "Zhu Dawei")
    assert party.masked_name == "Zhu XX"


async def test_a_refused_request_does_not_use_up_its_id(
    client: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    case = await create_case(client, mps, "c1", case_msg())
    await expect_error(
        transition(client, mps, "s1", case.name, pb.CASE_STATE_TRIAL),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    moved = await transition(client, mps, "s1", case.name, pb.CASE_STATE_INVESTIGATING)
    assert moved.state == pb.CASE_STATE_INVESTIGATING


# --- authentication and departments --------------------------------------------------------

UNARY = [
    m.name
    for service in (pb.DESCRIPTOR.services_by_name["CaseService"],)
    for m in service.methods
    if not m.server_streaming
]
CAMPAIGN_RPCS = [m.name for m in cpb.DESCRIPTOR.services_by_name["CampaignService"].methods]


def _request(service: str, method: str) -> Message:
    descriptor = (
        pb.DESCRIPTOR.services_by_name["CaseService"]
        if service == "cases"
        else cpb.DESCRIPTOR.services_by_name["CampaignService"]
    ).methods_by_name[method]
    module = pb if service == "cases" else cpb
    return getattr(module, descriptor.input_type.name)()  # type: ignore[no-any-return]


def _foreign_token(tokens: Tokens, key: Any = None, **claims: object) -> Metadata:
    body = tokens.claims(sub="intruder", dept="mps", roles=["operator", "admin", "auditor"])
    body.update(claims)
    token = tokens.sign({k: v for k, v in body.items() if v is not None}, key)
    return [("authorization", f"Bearer {token}")]


async def test_every_rpc_needs_a_token(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    for name in UNARY:
        e = await expect_error(
            method_of(client, name)(_request("cases", name)), grpc.StatusCode.UNAUTHENTICATED
        )
        assert error_reason(e) == "TOKEN_MISSING", name
    for name in CAMPAIGN_RPCS:
        await expect_error(
            method_of(campaigns, name)(_request("campaigns", name)), grpc.StatusCode.UNAUTHENTICATED
        )
    await expect_error(
        watch(client, [], 0, 1),
        grpc.StatusCode.UNAUTHENTICATED,  # the streaming one too
    )


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("garbage", "TOKEN_INVALID"),
        ("basic", "TOKEN_MISSING"),
        ("empty", "TOKEN_MISSING"),
        ("expired", "TOKEN_EXPIRED"),
        ("other-key", "TOKEN_INVALID"),
        ("other-issuer", "TOKEN_INVALID"),
        ("unknown-department", "TOKEN_INVALID"),
        ("no-expiry", "TOKEN_INVALID"),
    ],
)
async def test_bad_tokens_are_unauthenticated_and_write_nothing(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens, kind: str, reason: str
) -> None:
    md: Metadata
    if kind == "garbage":
        md = [("authorization", "Bearer not-a-jwt")]
    elif kind == "basic":
        md = [("authorization", "Basic bXBzOnNlY3JldA==")]
    elif kind == "empty":
        md = [("authorization", "Bearer ")]
    elif kind == "expired":
        md = tokens("mps", ttl=-60)
    elif kind == "other-key":
        md = _foreign_token(tokens, Ed25519PrivateKey.generate())
    elif kind == "other-issuer":
        md = _foreign_token(tokens, iss="someone-else")
    elif kind == "unknown-department":
        md = _foreign_token(tokens, dept="army")
    else:
        md = _foreign_token(tokens, exp=None)
    before = await snapshot(client, campaigns, tokens)
    for call in (
        create_case(client, md, "c1", case_msg()),
        client.get_stats(pb.GetStatsRequest(subject=pb.STATS_SUBJECT_CASES), metadata=md),
        campaigns.list_campaigns(cpb.ListCampaignsRequest(), metadata=md),
        client.verify_audit_chain(pb.VerifyAuditChainRequest(), metadata=md),
    ):
        e = await expect_error(call, grpc.StatusCode.UNAUTHENTICATED)
        assert error_reason(e) == reason
    assert await snapshot(client, campaigns, tokens) == before


async def test_writing_in_another_departments_name_is_refused(
    client: CasesClient, campaigns: CasesClient, tokens: Tokens
) -> None:
    mps = tokens("mps")
    before = await snapshot(client, campaigns, tokens)
    for dept in ("cac", "office", "police"):
        e = await expect_error(
            create_case(client, mps, f"c-{dept}", case_msg(lead=dept)),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(e) == "WRONG_DEPARTMENT"
        e = await expect_error(
            client.record_clue(
                pb.RecordClueRequest(
                    request_id=f"r-{dept}",
                    clue=pb.Clue(
                        source=pb.CLUE_SOURCE_PATROL,
                        summary="s",
                        holder_department=dept,
                        category="obscene",
                    ),
                ),
                metadata=mps,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(e) == "WRONG_DEPARTMENT"
    # Read-only roles write nothing, even in their own name.
    for roles in (("analyst",), ("auditor",)):
        e = await expect_error(
            create_case(client, tokens("mps", *roles), "c1", case_msg()),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(e) == "ROLE_REQUIRED"
    assert await snapshot(client, campaigns, tokens) == before
    made = await create_case(client, mps, "c1", case_msg())
    assert made.lead_department == "mps"


async def test_health_needs_no_token(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)  # the gRPC health service: not in the SDK
    for service in ("", "netnet.cases.v1.CaseService", "netnet.cases.v1.CampaignService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
