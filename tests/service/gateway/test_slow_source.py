"""A slow source, made slow by a TCP proxy between the gateway and the real service: the status
comes back within the caller's deadline with that source marked DEADLINE_EXCEEDED and the
others intact, in about one budget however many sources are slow; released, it is whole."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder, state_of, status_of
from tests.support.oracles import SOURCE_OF, figures_of, intact, unset
from tests.support.proxy import TcpProxy
from tests.support.servers import Tokens

C = "netnet-2021"
BUDGET = 1.0  # the stack's per-source budget
MARGIN = 0.5


@pytest.fixture
async def proxies() -> AsyncIterator[dict[str, TcpProxy]]:
    made = {source: await TcpProxy().start() for source in SOURCE_OF}
    yield made
    for proxy in made.values():
        await proxy.close()


@pytest.fixture
def addrs(proxies: dict[str, TcpProxy]) -> dict[str, str]:
    return {source: proxy.addr for source, proxy in proxies.items()}


@pytest.fixture
async def rec(
    stack: Stack, proxies: dict[str, TcpProxy], tokens: Tokens, clock: ManualClock
) -> Recorder:
    for source, proxy in proxies.items():
        proxy.point_at(stack.servers[source].port)
    recorder = Recorder(stack, tokens, clock)  # writes go straight to the services
    await recorder.campaign(C, "Net Net 2021")
    await recorder.account("cac", "u1", apb.ACTION_TYPE_BAN, C)
    await recorder.site("cac", "bad.example.com", spb.SITE_ACTION_TYPE_CLOSE, C)
    await recorder.case("mps", "5·11", cpb.CASE_KIND_CRIMINAL, C)
    return recorder


async def timed_status(rec: Recorder, tokens: Tokens) -> tuple[pb.CampaignStatus, float]:
    started = time.perf_counter()
    status = await status_of(rec.api, tokens("office"), C, deadline=3)
    return status, time.perf_counter() - started


@pytest.mark.parametrize("slow", list(SOURCE_OF))
async def test_a_slow_source_is_cut_off_at_its_budget(
    rec: Recorder, proxies: dict[str, TcpProxy], tokens: Tokens, slow: str
) -> None:
    whole, _ = await timed_status(rec, tokens)
    assert whole.complete, whole.sources
    assert proxies[slow].connections >= 1, "the gateway reaches the source through the proxy"

    proxies[slow].hold()
    status, elapsed = await timed_status(rec, tokens)
    assert elapsed < 2 * BUDGET + MARGIN, elapsed
    assert not status.complete
    assert state_of(status, slow) == pb.SOURCE_STATE_DEADLINE_EXCEEDED, status.sources
    for other in set(SOURCE_OF) - {slow}:
        assert state_of(status, other) == pb.SOURCE_STATE_OK
        assert intact(status.total, other)
    assert unset(status.total, slow)
    assert figures_of(status.total) == {
        k: None if k in SOURCE_OF[slow] else v for k, v in figures_of(whole.total).items()
    }

    proxies[slow].release()
    again, _ = await timed_status(rec, tokens)
    assert again.complete, again.sources
    assert again.total == whole.total and again.departments == whole.departments


async def test_status_time_is_one_budget_not_the_sum_over_sources(
    rec: Recorder, proxies: dict[str, TcpProxy], tokens: Tokens
) -> None:
    for proxy in proxies.values():
        proxy.hold()
    status, elapsed = await timed_status(rec, tokens)
    # Sequential calls would take at least 3 budgets; in parallel it is about one.
    assert elapsed < 2 * BUDGET + MARGIN, elapsed
    assert [s.state for s in status.sources] == [pb.SOURCE_STATE_DEADLINE_EXCEEDED] * 3
    assert not status.complete and not status.total.ListFields()
    assert all(s.latency_ms < (BUDGET + MARGIN) * 1000 for s in status.sources)
    for proxy in proxies.values():
        proxy.release()
    again, _ = await timed_status(rec, tokens)
    assert again.complete, again.sources


async def test_lookup_and_dossier_with_a_slow_source(
    rec: Recorder, proxies: dict[str, TcpProxy], tokens: Tokens
) -> None:
    api = rec.api
    site = await rec.site("cac", "linked.example.com", spb.SITE_ACTION_TYPE_BAN, C)
    account = await rec.account("cac", "u2", apb.ACTION_TYPE_WARN, C)
    case = await rec.case(
        "mps",
        "6·07",
        cpb.CASE_KIND_CRIMINAL,
        C,
        linked=[site.site.name, account.account.name],
    )
    proxies["sites"].hold()
    mps = tokens("mps")
    started = time.perf_counter()
    dossier = await api.gateway.get_case_dossier(
        pb.GetCaseDossierRequest(name=case.name), metadata=mps, timeout=3
    )
    assert time.perf_counter() - started < 2 * BUDGET + MARGIN
    assert dossier.case.name == case.name
    health = {s.source: s.state for s in dossier.sources}
    assert health == {
        "cases": pb.SOURCE_STATE_OK,
        "sites": pb.SOURCE_STATE_DEADLINE_EXCEEDED,
        "accounts": pb.SOURCE_STATE_OK,
    }
    assert not dossier.sites and [a.account.name for a in dossier.accounts] == [
        account.account.name
    ]
    assert not dossier.unresolved_links, "a site not fetched is unknown, not unresolved"

    started = time.perf_counter()
    found = await api.gateway.lookup(
        pb.LookupRequest(query="linked.example.com"), metadata=mps, timeout=3
    )
    assert time.perf_counter() - started < 2 * BUDGET + MARGIN
    assert {s.source: s.state for s in found.sources}["sites"] == (
        pb.SOURCE_STATE_DEADLINE_EXCEEDED
    )
    proxies["sites"].release()
    found = await api.gateway.lookup(
        pb.LookupRequest(query="linked.example.com"), metadata=mps, timeout=3
    )
    assert [m.resource for m in found.matches] == [site.site.name]
