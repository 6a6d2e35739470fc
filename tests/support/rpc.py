"""Calls and their checks: timestamps, typed errors (the SDK's), and raw server streams."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from netnet.client.errors import InvalidArgument, NetNetError, from_rpc_error

Metadata = list[tuple[str, str]]
SECOND_US = 1_000_000
HOUR_US = 3_600 * SECOND_US
DAY_US = 86_400 * SECOND_US

E = TypeVar("E", bound=NetNetError)


def ts(us: int) -> Timestamp:
    t = Timestamp()
    t.FromMicroseconds(us)
    return t


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def method_of(client: Any, rpc: str) -> Callable[..., Any]:
    """An SDK client's method for an RPC named as in its proto (RecordAction: record_action)."""
    return getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", rpc).lower())


def typed(error: BaseException) -> NetNetError:
    """The SDK's typed error for a failed call: as raised by a client, or made from the raw
    error of a call made on a generated stub."""
    if isinstance(error, grpc.aio.AioRpcError):
        return from_rpc_error(error)
    assert isinstance(error, NetNetError), f"not an RPC error: {error!r}"
    return error


class Raised:
    """What `raises` caught: the typed exception (`.value`)."""

    value: Any


@contextmanager
def raises(expected: type[E]) -> Iterator[Raised]:
    """`with raises(NotFound) as caught:` — the block must fail with that typed error; the
    reason and bad fields are then `caught.value.reason` and `caught.value.fields`."""
    caught = Raised()
    try:
        yield caught
    except (NetNetError, grpc.aio.AioRpcError) as e:
        error = typed(e)
        assert isinstance(error, expected), (
            f"expected {expected.code.name}, got {error.code.name}: {error.message}"
        )
        caught.value = error
        return
    raise AssertionError(f"expected {expected.code.name}, the call succeeded")


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode) -> NetNetError:
    """Await call, which must fail with code; returns the typed error."""
    try:
        result = await call
    except (NetNetError, grpc.aio.AioRpcError) as e:
        error = typed(e)
        assert error.code == code, f"expected {code.name}, got {error.code.name}: {error.message}"
        return error
    raise AssertionError(f"expected {code.name}, the call succeeded with {result!r}")


def bad_fields(err: NetNetError) -> list[str]:
    """The fields named by the google.rpc.BadRequest detail of an INVALID_ARGUMENT error."""
    assert isinstance(err, InvalidArgument), err.code
    assert err.violations, "no BadRequest detail"
    return err.fields


def error_reason(err: NetNetError) -> str:
    """The reason of the google.rpc.ErrorInfo detail in the error's trailers."""
    assert err.reason, "no ErrorInfo detail"
    return err.reason


@asynccontextmanager
async def connected(call: Any) -> AsyncIterator[AsyncIterator[Any]]:
    """The replies of a server stream made on a generated stub, once the server has taken
    the call (its initial metadata came); cancelled at the end. A test that writes only once
    a watch is listening needs this: an SDK stream starts on its first read, and cannot say
    when the server is listening."""
    try:
        await call.initial_metadata()
        yield aiter(call)
    finally:
        call.cancel()
