"""Limits per caller on a real server: the unary rate and the open streams, per operator and
per department, per role; refused calls say when to come back and write nothing.

The limits live in the interceptor's memory, before any handler or store: the backend plays
no part, so these run on SQLite only."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from netnet.accounts.v1 import accounts_pb2 as pb
from netnet.client import AccountsClient, ResourceExhausted
from services.accounts.__main__ import SPEC
from services.common.limits import parse
from tests.service.accounts.helpers import action, snapshot
from tests.support.rpc import Metadata, connected
from tests.support.servers import Tokens, channel_to

pytestmark = pytest.mark.sqlite_only("limits are kept in the process, before the store")

NO_REFILL = 0.001  # calls a second: no token comes back while a test runs


Limited = Callable[[str], Awaitable[AccountsClient]]


@pytest.fixture
async def limited(serve) -> AsyncIterator[Limited]:  # type: ignore[no-untyped-def]
    """limited(NETNET_LIMITS's text): a client of an accounts server with those limits."""
    channels: list[grpc.aio.Channel] = []

    async def start(limits: str) -> AccountsClient:
        server = await serve(SPEC, limits=parse(limits))
        channels.append(await channel_to(server.port))
        return AccountsClient(channel=channels[-1], token="")

    yield start
    for channel in channels:
        await channel.close()


def exhausted(e: grpc.aio.AioRpcError) -> tuple[str, dict[str, str], float]:
    """A refusal's reason, ErrorInfo metadata and RetryInfo delay (seconds)."""
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
    status = rpc_status.from_call(e)  # type: ignore[arg-type]
    assert status is not None, "no rich status"
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert any(d.Unpack(info) for d in status.details), "no ErrorInfo"
    assert any(d.Unpack(retry) for d in status.details), "no RetryInfo"
    return info.reason, dict(info.metadata), retry.retry_delay.ToNanoseconds() / 1e9


async def refused_write(client: AccountsClient, md: Metadata, rid: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.stub.RecordAction(pb.RecordActionRequest(action=action(rid)), metadata=md)
    return caught.value


async def test_beyond_the_operators_rate_a_call_is_refused_with_when_to_retry(
    limited: Limited, tokens: Tokens
) -> None:
    client = await limited('{"operator": {"rate": 2, "burst": 2}}')
    ann = tokens("cac", operator="ann")
    before = await snapshot(client, tokens)  # an auditor and analyst: another role's limit
    for rid in ("a1", "a2"):
        await client.stub.RecordAction(pb.RecordActionRequest(action=action(rid)), metadata=ann)
    reason, meta, delay = exhausted(await refused_write(client, ann, "a3"))
    assert (reason, meta["scope"], meta["role"]) == ("RATE_LIMITED", "operator", "operator")
    assert 0 < delay <= 0.5
    # Nothing of the refused call was written; another operator goes on.
    after = await snapshot(client, tokens)
    assert after.total == before.total + 2
    await client.stub.RecordAction(
        pb.RecordActionRequest(action=action("b1", "u2")), metadata=tokens("cac", operator="bob")
    )
    # Once the delay has passed, the caller's next call goes through.
    await asyncio.sleep(delay)
    await client.stub.RecordAction(pb.RecordActionRequest(action=action("a3")), metadata=ann)


async def test_operators_of_one_department_share_its_rate(limited: Limited, tokens: Tokens) -> None:
    client = await limited(
        f'{{"operator": {{"burst": 10, "department": {{"rate": {NO_REFILL}, "burst": 3}}}}}}'
    )
    ann, bob = tokens("cac", operator="ann"), tokens("cac", operator="bob")
    await client.stub.RecordAction(pb.RecordActionRequest(action=action("a1", "u1")), metadata=ann)
    await client.stub.RecordAction(pb.RecordActionRequest(action=action("a2", "u2")), metadata=ann)
    await client.stub.RecordAction(pb.RecordActionRequest(action=action("b1", "u3")), metadata=bob)
    for md, rid in ((bob, "b2"), (ann, "a3")):
        reason, meta, delay = exhausted(await refused_write(client, md, rid))
        assert (reason, meta["scope"]) == ("RATE_LIMITED", "department")
        assert delay > 100  # a rate this low: come back much later
    # Another department has its own; and nothing refused was written.
    await client.stub.RecordAction(
        pb.RecordActionRequest(action=action("m1", "u9", department="mps")),
        metadata=tokens("mps", operator="ann"),
    )
    assert (await snapshot(client, tokens)).total == 4


async def test_a_role_has_its_own_limit(limited: Limited, tokens: Tokens) -> None:
    client = await limited(
        f'{{"analyst": {{"rate": {NO_REFILL}, "burst": 1}}, '
        f'"operator": {{"rate": {NO_REFILL}, "burst": 5}}}}',
    )
    analyst = tokens("cac", "analyst", operator="ann")
    await client.stub.GetStats(pb.GetStatsRequest(), metadata=analyst)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.stub.GetStats(pb.GetStatsRequest(), metadata=analyst)
    reason, meta, _ = exhausted(caught.value)
    assert (reason, meta["role"]) == ("RATE_LIMITED", "analyst")
    operator = tokens("cac", operator="ann")  # the same name as an operator: apart
    for _ in range(5):
        await client.stub.GetStats(pb.GetStatsRequest(), metadata=operator)
    with pytest.raises(grpc.aio.AioRpcError):
        await client.stub.GetStats(pb.GetStatsRequest(), metadata=operator)


async def test_health_and_reflection_are_never_limited(limited: Limited, tokens: Tokens) -> None:
    client = await limited(f'{{"*": {{"rate": {NO_REFILL}, "burst": 1}}}}')
    md = tokens("cac", operator="ann")
    await client.stub.GetStats(pb.GetStatsRequest(), metadata=md)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.stub.GetStats(pb.GetStatsRequest(), metadata=md)
    assert exhausted(caught.value)[0] == "RATE_LIMITED"
    health = health_pb2_grpc.HealthStub(client.channel)
    reflection = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    for _ in range(20):
        reply = await health.Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        asked = reflection_pb2.ServerReflectionRequest(list_services="")
        async for answer in reflection.ServerReflectionInfo(iter([asked])):
            assert answer.list_services_response.service


async def test_a_third_watch_is_refused_when_two_are_allowed(
    limited: Limited, tokens: Tokens
) -> None:
    client = await limited('{"*": {"watches": 2, "department": {"watches": 3}}}')
    ann, bob = tokens("cac", "analyst", operator="ann"), tokens("cac", "analyst", operator="bob")

    def watch(md: Metadata) -> grpc.aio.UnaryStreamCall:
        return client.stub.WatchChanges(pb.WatchChangesRequest(), metadata=md)

    async def refused(md: Metadata) -> tuple[str, dict[str, str], float]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in watch(md):
                pass
        return exhausted(caught.value)

    async with connected(watch(ann)), connected(watch(ann)):
        reason, meta, delay = await refused(ann)
        assert (reason, meta["scope"], meta["watches"]) == ("TOO_MANY_STREAMS", "operator", "2")
        assert delay > 0
        # bob has his own two, but the department's three are one away
        async with connected(watch(bob)):
            reason, meta, _ = await refused(bob)
            assert (reason, meta["scope"]) == ("TOO_MANY_STREAMS", "department")
    # Closed watches give their places back (as soon as the server sees them cancelled):
    # three watches open again, and each sees the next write.
    for attempt in range(100):
        try:
            async with (
                connected(watch(ann)) as a1,
                connected(watch(ann)) as a2,
                connected(watch(bob)) as b1,
            ):
                await client.stub.RecordAction(
                    pb.RecordActionRequest(action=action(f"w{attempt}")), metadata=tokens("cac")
                )
                for replies in (a1, a2, b1):
                    assert (await anext(replies)).event.seq > 0
                break
        except grpc.aio.AioRpcError as e:
            assert exhausted(e)[0] == "TOO_MANY_STREAMS"
            await asyncio.sleep(0.02)
    else:
        raise AssertionError("the closed watches' places never came back")


async def test_an_import_beyond_the_count_is_refused_and_writes_nothing(
    limited: Limited, tokens: Tokens
) -> None:
    client = await limited('{"operator": {"imports": 1}}')
    ann = tokens("cac", operator="ann")
    release = asyncio.Event()

    async def held() -> AsyncIterator[pb.ImportActionsRequest]:
        yield pb.ImportActionsRequest(actions=[action("h1", "u1")])
        await release.wait()

    async def other() -> AsyncIterator[pb.ImportActionsRequest]:
        yield pb.ImportActionsRequest(actions=[action("o1", "u2"), action("o2", "u3")])

    first = client.stub.ImportActions(held(), metadata=ann)
    for _ in range(250):  # its first batch is written: it is open on the server
        if (await snapshot(client, tokens)).total == 1:
            break
        await asyncio.sleep(0.02)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.stub.ImportActions(other(), metadata=ann)
    reason, meta, _ = exhausted(caught.value)
    assert (reason, meta["scope"], meta["imports"]) == ("TOO_MANY_STREAMS", "operator", "1")
    release.set()
    assert (await first).summary.accepted == 1
    assert (await snapshot(client, tokens)).total == 1  # the refused stream wrote nothing
    # The count is free again.
    reply = await client.stub.ImportActions(other(), metadata=ann)
    assert reply.summary.accepted == 2


class Attempts(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Counts the unary calls and server streams a client makes, per method's short name
    (a channel takes an interceptor as one kind only: streams have their own)."""

    def __init__(self) -> None:
        self.made: Counter[str] = Counter()
        self.streams = _StreamAttempts(self.made)

    async def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        self.made[details.method.decode().rsplit("/", 1)[-1]] += 1
        return await continuation(details, request)


class _StreamAttempts(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, made: Counter[str]) -> None:
        self.made = made

    async def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        self.made[details.method.decode().rsplit("/", 1)[-1]] += 1
        return await continuation(details, request)


@pytest.fixture
async def counted(
    serve,
) -> AsyncIterator[Callable[[str], Awaitable[tuple[AccountsClient, Attempts]]]]:  # type: ignore[no-untyped-def]
    """counted(limits): an SDK client (as a user makes one) of a limited server, and the
    attempts it makes."""
    channels: list[grpc.aio.Channel] = []

    async def start(limits: str) -> tuple[AccountsClient, Attempts]:
        server = await serve(SPEC, limits=parse(limits))
        attempts = Attempts()
        channels.append(
            grpc.aio.insecure_channel(
                f"127.0.0.1:{server.port}", interceptors=[attempts, attempts.streams]
            )
        )
        return AccountsClient(channel=channels[-1], token=""), attempts

    yield start
    for channel in channels:
        await channel.close()


async def test_the_sdk_retries_a_refused_read_after_the_delay(counted, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    client, attempts = await counted('{"analyst": {"rate": 2, "burst": 1}}')
    md = tokens("cac", "analyst")
    await client.get_stats(metadata=md)
    started = time.monotonic()
    await client.get_stats(metadata=md)  # refused once, told to wait ~0.5 s, then served
    assert time.monotonic() - started >= 0.4
    assert attempts.made["GetStats"] == 3


async def test_the_sdk_gives_up_when_the_wait_would_pass_the_deadline(
    counted, tokens: Tokens
) -> None:  # type: ignore[no-untyped-def]
    client, attempts = await counted(f'{{"analyst": {{"rate": {NO_REFILL}, "burst": 1}}}}')
    md = tokens("cac", "analyst")
    await client.get_stats(metadata=md)
    started = time.monotonic()
    with pytest.raises(ResourceExhausted) as caught:
        await client.get_stats(metadata=md, timeout=2.0)
    assert time.monotonic() - started < 1.0  # no wait that could not end in time
    assert caught.value.reason == "RATE_LIMITED"
    assert caught.value.retry_delay is not None and caught.value.retry_delay > 2.0
    assert attempts.made["GetStats"] == 2


async def test_the_sdk_retries_a_refused_write_only_with_a_request_id(
    counted, tokens: Tokens
) -> None:  # type: ignore[no-untyped-def]
    client, attempts = await counted('{"operator": {"rate": 2, "burst": 1}}')
    md = tokens("cac")
    first = await client.record_action(action=action("a1", "u1"), metadata=md)
    # Without a request id a repeat could write twice: the refusal is the caller's to see.
    with pytest.raises(ResourceExhausted) as caught:
        await client.record_action(action=action("", "u2"), metadata=md)
    assert caught.value.retry_delay is not None
    assert attempts.made["RecordAction"] == 2
    await asyncio.sleep(caught.value.retry_delay)
    # With one, it is tried again after the delay, and stored once.
    await client.record_action(action=action("a2", "u2"), metadata=md)  # takes the token back
    second = await client.record_action(action=action("a3", "u3"), metadata=md)
    assert attempts.made["RecordAction"] == 5
    again = await client.record_action(action=action("a3", "u3"), metadata=md)
    assert again.action == second.action  # the server's first answer, nothing written
    assert first.action.name != second.action.name
    assert (await snapshot(client, tokens)).total == 3


async def test_the_sdk_retries_a_watch_refused_before_its_first_reply(
    counted,  # type: ignore[no-untyped-def]
    tokens: Tokens,
) -> None:
    client, attempts = await counted('{"analyst": {"watches": 1}}')
    md = tokens("cac", "analyst")
    first = client.stub.WatchChanges(pb.WatchChangesRequest(), metadata=md)
    labels = {"service": "accounts", "method": "WatchChanges", "code": "RESOURCE_EXHAUSTED"}
    refusals = REGISTRY.get_sample_value("netnet_rpc_total", labels) or 0.0
    async with connected(first):
        second = client.watch_changes(metadata=md)
        waiting = asyncio.ensure_future(anext(second))
        for _ in range(250):  # the server refuses it (and says: come back in a second)
            if (REGISTRY.get_sample_value("netnet_rpc_total", labels) or 0.0) > refusals:
                break
            await asyncio.sleep(0.02)
        assert not waiting.done()
    # The first watch has ended: the retry takes its place and sees the next write.
    await client.record_action(action=action("w1"), metadata=tokens("cac"))
    reply = await asyncio.wait_for(waiting, 10)
    assert reply.event.seq == 1
    assert attempts.made["WatchChanges"] == 3  # the first; the SDK's refused, then retried
    await second.aclose()
