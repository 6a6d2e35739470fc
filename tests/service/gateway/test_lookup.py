"""Look-up: one query across the services. Departments acting on the same target see who else
holds it (whom to contact) but not each other's details; a case the caller may not see shows
its holders and no resource name."""

from __future__ import annotations

import grpc
import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.client import NetNetError
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2 as spb
from services.common.clock import ManualClock
from tests.service.gateway.conftest import Stack
from tests.service.gateway.helpers import Recorder
from tests.support.rpc import sha
from tests.support.servers import Tokens

C = "netnet-2021"
ALLOWED_FIELDS = {"kind", "resource", "summary", "departments", "own"}


class World:
    """Targets two departments acted on: a website, an app, an account, content, and a case
    number held by two departments."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.names: dict[str, str] = {}

    async def build(self) -> World:
        rec, s, a = self.rec, spb, apb
        await rec.campaign(C, "Net Net 2021", [("minors", "Minors")])
        await rec.site("cac", "shared.example.com", s.SITE_ACTION_TYPE_CLOSE, C, "minors")
        got = await rec.site("mct", "shared.example.com", s.SITE_ACTION_TYPE_BAN, C)
        self.names["site"] = got.site.name
        await rec.site(
            "miit",
            "com.shared.app",
            s.SITE_ACTION_TYPE_NOTIFY_RECTIFICATION,
            C,
            kind=s.SITE_KIND_APP,
        )
        got = await rec.site(
            "cac", "com.shared.app", s.SITE_ACTION_TYPE_REMOVE_FROM_STORES, C, kind=s.SITE_KIND_APP
        )
        self.names["app"] = got.site.name
        await rec.account("cac", "shared1", a.ACTION_TYPE_BAN, C, handle="bad_anchor")
        acc = await rec.account("mps", "shared1", a.ACTION_TYPE_WARN, C, handle="bad_anchor")
        self.names["account"] = acc.account.name
        await rec.content("cac", "video.example.com", sha("clip"), s.HANDLER_DIRECT, C)
        got_c = await rec.content("nrta", "tv.example.com", sha("clip"), s.HANDLER_PLATFORM, C)
        self.names["content"] = got_c.disposition.name
        first = await rec.case("mps", "5·11", cpb.CASE_KIND_CRIMINAL, C, assisting=["cac"])
        second = await rec.case("mct", "5·11", cpb.CASE_KIND_ADMINISTRATIVE, C)
        self.names["case_mps"], self.names["case_mct"] = first.name, second.name
        return self

    async def lookup(self, query: str, department: str) -> pb.LookupResponse:
        return await self.rec.api.gateway.lookup(
            pb.LookupRequest(query=query), metadata=self.rec.md(department), timeout=5
        )


@pytest.fixture
async def world(stack: Stack, tokens: Tokens, clock: ManualClock) -> World:
    return await World(Recorder(stack, tokens, clock)).build()


def only_contact_fields(m: pb.LookupMatch) -> None:
    assert {f.name for f, _ in m.ListFields()} <= ALLOWED_FIELDS


def healthy(reply: pb.LookupResponse, *sources: str) -> None:
    assert {s.source: s.state for s in reply.sources} == dict.fromkeys(sources, pb.SOURCE_STATE_OK)


async def test_lookup_a_host_two_departments_acted_on(world: World) -> None:
    for query in ("shared.example.com", "https://Shared.Example.com/some/page"):
        seen = {}
        for dept in ("cac", "mct", "nrta"):
            reply = await world.lookup(query, dept)
            (match,) = reply.matches
            only_contact_fields(match)
            assert match.kind == pb.MATCH_KIND_SITE and match.resource == world.names["site"]
            assert list(match.departments) == ["cac", "mct"]
            assert match.own is (dept in ("cac", "mct")), dept
            seen[dept] = (match.summary, list(match.departments))
        # Every caller sees the same contact view, whichever department asks.
        assert len(set(map(str, seen.values()))) == 1
        assert seen["nrta"][0] == "shared.example.com (banned)"


async def test_lookup_a_package_id(world: World) -> None:
    reply = await world.lookup("com.shared.app", "miit")
    (match,) = reply.matches
    assert match.kind == pb.MATCH_KIND_SITE and match.resource == world.names["app"]
    assert list(match.departments) == ["cac", "miit"] and match.own
    assert match.summary == "com.shared.app (removed)"
    healthy(reply, "sites", "cases")
    other = await world.lookup("com.shared.app", "nppa")
    assert not other.matches[0].own and other.matches[0].departments == match.departments


async def test_lookup_an_account(world: World) -> None:
    reply = await world.lookup("weibo:shared1", "mps")
    (match,) = reply.matches
    only_contact_fields(match)
    assert match.kind == pb.MATCH_KIND_ACCOUNT and match.resource == world.names["account"]
    assert list(match.departments) == ["cac", "mps"] and match.own
    assert match.summary == "weibo:shared1 bad_anchor (banned)"
    healthy(reply, "accounts", "cases")
    other = await world.lookup("weibo:shared1", "nrta")
    assert not other.matches[0].own and list(other.matches[0].departments) == ["cac", "mps"]
    assert not (await world.lookup("weibo:nobody", "mps")).matches
    assert not (await world.lookup("qq:shared1", "mps")).matches  # another platform


async def test_lookup_a_content_hash(world: World) -> None:
    for query in (sha("clip"), sha("clip").upper()):
        reply = await world.lookup(query, "nrta")
        (match,) = reply.matches
        only_contact_fields(match)
        assert match.kind == pb.MATCH_KIND_CONTENT and match.own
        assert list(match.departments) == ["cac", "nrta"]
        assert match.resource.startswith("sites/") and "/dispositions/" in match.resource
        healthy(reply, "sites")
    reply = await world.lookup(sha("clip"), "mps")
    assert not reply.matches[0].own
    assert not (await world.lookup(sha("never seen"), "mps")).matches


async def test_lookup_a_case_number_held_by_two_departments(world: World) -> None:
    by_lead = {m.resource: m for m in (await world.lookup("5·11", "mps")).matches}
    case_mps, case_mct = world.names["case_mps"], world.names["case_mct"]

    reply = await world.lookup("5·11", "nrta")  # sees neither case: holders, no names
    assert [(m.resource, list(m.departments), m.own) for m in reply.matches] == [
        ("", ["mps", "cac"], False),
        ("", ["mct"], False),
    ]
    assert all(m.kind == pb.MATCH_KIND_CASE for m in reply.matches)
    healthy(reply, "cases")

    reply = await world.lookup("5·11", "cac")  # assists the first
    assert [(m.resource, m.own) for m in reply.matches] == [(case_mps, True), ("", False)]
    reply = await world.lookup("5·11", "mct")
    assert [(m.resource, m.own) for m in reply.matches] == [("", False), (case_mct, True)]
    reply = await world.lookup("5·11", "office")  # the office sees every case
    assert [(m.resource, m.own) for m in reply.matches] == [(case_mps, False), (case_mct, False)]
    assert case_mps in by_lead and by_lead[case_mps].own


async def test_lookup_nothing_and_bad_queries(world: World) -> None:
    reply = await world.lookup("nothing-here.example.org", "cac")
    assert not reply.matches
    healthy(reply, "sites", "cases")
    for query in ("", "   ", "x" * 300):
        with pytest.raises(NetNetError) as e:
            await world.lookup(query, "cac")
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
