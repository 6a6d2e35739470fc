"""WatchChanges: an ordered, resumable log of every write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import grpc
import jwt

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, NetNetError
from netnet.common.v1 import common_pb2
from netnet.common.v1 import revocation_pb2 as rpb
from netnet.common.v1 import revocation_pb2_grpc as rpb_grpc
from tests.service.accounts.helpers import action, record, stream
from tests.support.rpc import Metadata, bad_fields, expect_error
from tests.support.servers import Tokens

TIMEOUT = 5.0  # a safety bound only: events are expected at once


class Watch:
    def __init__(self, changes: AsyncIterator[pb.WatchChangesResponse]) -> None:
        self.changes = changes

    async def next(self) -> common_pb2.ChangeEvent:
        msg = await asyncio.wait_for(anext(self.changes, None), TIMEOUT)
        assert msg is not None, "the stream ended"
        return msg.event

    async def take(self, n: int) -> list[common_pb2.ChangeEvent]:
        return [await self.next() for _ in range(n)]


@asynccontextmanager
async def watching(
    client: AccountsClient, md: Metadata, after_seq: int = 0
) -> AsyncIterator[Watch]:
    async with aclosing(client.watch_changes(after_seq=after_seq, metadata=md)) as changes:
        yield Watch(changes)


async def test_events_arrive_in_order_and_resume(client: AccountsClient, tokens: Tokens) -> None:
    cac, mps = tokens("cac"), tokens("mps", "analyst")
    async with watching(client, mps) as w:
        names = []
        for i in range(3):
            r = await record(client, cac, action(f"r{i}", f"u{i}", campaign_id="c1"))
            names.append(r.action.name)
        events = await w.take(3)
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.resource for e in events] == names
    assert all(e.kind == common_pb2.CHANGE_KIND_CREATED for e in events)
    assert all((e.department, e.campaign_id, e.count) == ("cac", "c1", 1) for e in events)
    assert all(e.time.ToMicroseconds() > 0 for e in events)

    # Resuming after the second gives only what came later, then the new writes live.
    async with watching(client, mps, after_seq=events[1].seq) as w:
        resumed = await w.next()
        assert resumed == events[2]
        x = await client.retract_action(
            pb.RetractActionRequest(request_id="x", name=names[0], reason="mistake"), metadata=cac
        )
        retracted = await w.next()
        assert (retracted.seq, retracted.kind, retracted.resource) == (
            4,
            common_pb2.CHANGE_KIND_RETRACTED,
            x.action.name,
        )
        summary = (
            await client.import_actions(
                stream([[action(f"i{i}", f"i{i}", campaign_id="c2") for i in range(5)], []]),
                metadata=cac,
            )
        ).summary
        assert summary.accepted == 5
        bulk = await w.next()
        assert (bulk.seq, bulk.kind, bulk.resource, bulk.count, bulk.campaign_id) == (
            5,
            common_pb2.CHANGE_KIND_BULK_IMPORTED,
            "accounts",
            5,
            "c2",
        )

    # From the beginning, the whole log in order.
    async with watching(client, mps) as w:
        replay = await w.take(5)
    assert [e.seq for e in replay] == [1, 2, 3, 4, 5]
    assert replay[:3] == events

    # Resuming at the end waits for the next write.
    async with watching(client, mps, after_seq=5) as w:
        pending = asyncio.ensure_future(w.next())
        done, _ = await asyncio.wait({pending}, timeout=0.05)
        assert not done, "an event arrived though nothing was written"
        r = await record(client, cac, action("late", "late"))
        event = await pending
        assert (event.seq, event.resource) == (6, r.action.name)


async def test_failed_and_duplicate_writes_leave_no_event(
    client: AccountsClient, tokens: Tokens
) -> None:
    md = tokens("cac")
    await record(client, md, action("r1", "u1"))
    await record(client, md, action("r1", "u1"))  # duplicate
    await expect_error(
        record(client, md, action("r2", "u2", pb.ACTION_TYPE_RESTORE)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    r = await record(client, md, action("r3", "u3"))
    async with watching(client, md) as w:
        events = await w.take(2)
    assert [e.seq for e in events] == [1, 2]
    assert events[1].resource == r.action.name


async def test_many_events_stream_in_order(client: AccountsClient, tokens: Tokens) -> None:
    md = tokens("cac")
    writes = [
        record(client, md, action(f"r{i}", f"u{i % 50}", pb.ACTION_TYPE_WARN)) for i in range(600)
    ]
    names = {r.action.name for r in await asyncio.gather(*writes)}
    async with watching(client, md) as w:
        events = await w.take(600)
    assert [e.seq for e in events] == list(range(1, 601))
    assert {e.resource for e in events} == names


async def test_negative_after_seq(client: AccountsClient, tokens: Tokens) -> None:
    async with watching(client, tokens("cac"), after_seq=-1) as w:
        try:
            await w.next()
        except NetNetError as e:
            assert bad_fields(e) == ["after_seq"]
        else:
            raise AssertionError("a negative after_seq was accepted")


async def test_a_watch_whose_token_is_revoked_ends_at_its_next_event(
    client: AccountsClient, tokens: Tokens
) -> None:
    cac, watcher = tokens("cac"), tokens("mps", "analyst", operator="watcher")
    async with watching(client, watcher) as w:
        await record(client, cac, action("k0", "k0", campaign_id="c1"))
        await w.next()
        token = watcher[0][1].removeprefix("Bearer ")
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        stub = rpb_grpc.RevocationServiceStub(client.channel)
        admin = tokens("office", "admin")
        await stub.RevokeToken(rpb.RevokeTokenRequest(token_id=jti), metadata=admin)
        await record(client, cac, action("k1", "k1", campaign_id="c1"))
        try:
            await w.next()
        except NetNetError as e:
            assert e.code == grpc.StatusCode.UNAUTHENTICATED and e.reason == "TOKEN_REVOKED"
        else:
            raise AssertionError("the revoked token's watch went on")
