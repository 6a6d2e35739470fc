"""The SDK against a real cases server: typed methods per RPC, the request or its fields,
pagers that hide page tokens, resource-name helpers, typed errors, and retries on
UNAVAILABLE for read-only calls only (through a proxy that refuses each method's first call)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from netnet.cases.v1 import cases_pb2 as pb
from netnet.client import (
    CasesClient,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    campaign_path,
    case_path,
    handover_path,
    parse_case_path,
    parse_handover_path,
    parse_party_path,
    party_path,
)
from netnet.client.channel import read_only
from services.common.server import RunningServer
from tests.service.cases.helpers import Tokens, case_msg


def token_of(md: list[tuple[str, str]]) -> str:
    return dict(md)["authorization"].removeprefix("Bearer ")


@pytest.fixture
async def cases(server: RunningServer, tokens: Tokens) -> AsyncIterator[CasesClient]:
    async with CasesClient(f"127.0.0.1:{server.port}", token=token_of(tokens("mps"))) as client:
        yield client


async def test_typed_methods_take_the_request_or_its_fields(cases: CasesClient) -> None:
    made = await cases.create_case(request_id="sdk-1", case=case_msg("S-1"))
    assert made.case.number == "S-1"
    by_fields = await cases.get_case(name=made.case.name)
    by_request = await cases.get_case(pb.GetCaseRequest(name=made.case.name))
    assert by_fields.case == by_request.case == made.case
    with pytest.raises(ValueError, match="not both"):
        await cases.get_case(pb.GetCaseRequest(name=made.case.name), name=made.case.name)
    # The campaign service lives in the same process and client.
    campaign = await cases.get_campaign(name=campaign_path("netnet-2021"))
    assert campaign.campaign.id == "netnet-2021"


async def test_pagers_walk_every_page_without_tokens(cases: CasesClient) -> None:
    numbers = [f"P-{i:02d}" for i in range(7)]
    for n in numbers:
        await cases.create_case(request_id=f"sdk-{n}", case=case_msg(n))
    pager = await cases.list_cases(page_size=3, campaign_id="netnet-2021")
    # The first page is fetched by the call; iterating fetches the rest.
    assert len(pager.response.cases) == 3 and pager.response.next_page_token
    assert sorted([c.number async for c in pager]) == numbers
    pages = [len(page.cases) async for page in (await cases.list_cases(page_size=3)).pages]
    assert pages == [3, 3, 1]
    assert sorted(c.number for c in await (await cases.list_cases(page_size=2)).all()) == numbers


async def test_resource_names_round_trip(cases: CasesClient) -> None:
    made = (await cases.create_case(request_id="sdk-n", case=case_msg("N-1"))).case
    case_id = parse_case_path(made.name)["case"]
    assert case_path(case_id) == made.name == case_path(int(case_id))
    party = (
        await cases.add_party(
            request_id="sdk-party",
            parent=made.name,
            party=pb.Party(kind=pb.PARTY_KIND_SUSPECT, real_name="Zhu Dawei"),
        )
    ).party
    ids = parse_party_path(party.name)
    assert ids["case"] == case_id and party_path(**ids) == party.name
    assert parse_handover_path(handover_path(3, 9)) == {"clue": "3", "handover": "9"}
    assert parse_case_path("sites/1") == {} and parse_case_path("cases/1/parties/2") == {}
    with pytest.raises(ValueError):
        case_path("1/parties/2")


async def test_failures_are_typed_errors(
    server: RunningServer, cases: CasesClient, tokens: Tokens
) -> None:
    with pytest.raises(NotFound):
        await cases.get_case(name=case_path(999))
    with pytest.raises(InvalidArgument) as bad:
        await cases.get_case(name="clues/1")
    assert bad.value.fields == ["name"]
    made = (await cases.create_case(request_id="sdk-e", case=case_msg("E-1"))).case
    outsider = token_of(tokens("nppa"))
    with pytest.raises(PermissionDenied):
        await cases.transition_case(
            request_id="sdk-t",
            name=made.name,
            state=pb.CASE_STATE_INVESTIGATING,
            metadata=[("authorization", f"Bearer {outsider}")],
        )
    async with CasesClient(f"127.0.0.1:{server.port}", token="") as anonymous:
        with pytest.raises(Unauthenticated):
            await anonymous.get_case(name=made.name)
    assert (await cases.get_case(name=made.name)).case.state == pb.CASE_STATE_REGISTERED


class FirstCallUnavailable:
    """A byte-forwarding proxy in front of a real server: the first call of each method is
    answered UNAVAILABLE, every later one goes through."""

    def __init__(self, target: str) -> None:
        self.calls: Counter[str] = Counter()
        self.upstream = grpc.aio.insecure_channel(target)
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers([self])
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = details.method  # type: ignore[attr-defined]

        async def forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            self.calls[method] += 1
            if self.calls[method] == 1:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the first call fails")
            md = [(k, v) for k, v in context.invocation_metadata() or () if k != "user-agent"]
            call = self.upstream.unary_unary(method)
            return await call(request, metadata=md)  # type: ignore[no-any-return]

        return grpc.unary_unary_rpc_method_handler(forward)


@pytest.fixture
async def proxy(server: RunningServer) -> AsyncIterator[FirstCallUnavailable]:
    proxy = FirstCallUnavailable(f"127.0.0.1:{server.port}")
    await proxy.server.start()
    yield proxy
    await proxy.server.stop(0)
    await proxy.upstream.close()


async def test_only_read_only_calls_are_retried_on_unavailable(
    proxy: FirstCallUnavailable, cases: CasesClient, tokens: Tokens
) -> None:
    made = (await cases.create_case(request_id="sdk-r", case=case_msg("R-1"))).case
    async with CasesClient(f"127.0.0.1:{proxy.port}", token=token_of(tokens("mps"))) as through:
        # A read is tried again and succeeds.
        assert (await through.get_case(name=made.name)).case == made
        assert [c.number async for c in await through.list_cases()] == ["R-1"]
        # A write is not: the caller sees UNAVAILABLE, and nothing was written.
        with pytest.raises(Unavailable):
            await through.create_case(request_id="sdk-w", case=case_msg("W-1"))
    service = "/netnet.cases.v1.CaseService/"
    assert proxy.calls == {
        service + "GetCase": 2,
        service + "ListCases": 2,
        service + "CreateCase": 1,
    }
    assert [c.number async for c in await cases.list_cases()] == ["R-1"]
    # The rule, method by method: reads are retried, no write is.
    names = [m.name for m in pb.DESCRIPTOR.services_by_name["CaseService"].methods]
    assert {n for n in names if read_only(n)} == {
        "GetClue",
        "ListHandovers",
        "GetCase",
        "BatchGetCases",
        "ListCases",
        "FindCaseHolders",
        "ListCaseEvents",
        "ListParties",
        "GetTypicalCase",
        "ListTypicalCases",
        "GetStats",
        "BatchGetStats",
        "ListAuditEntries",
        "VerifyAuditChain",
    }
