"""Calls and their checks: timestamps, pages, and errors read through the SDK's typed exceptions."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
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


class Raised:
    """What `raises` caught: the typed exception (`.value`) and the call's own error."""

    value: Any
    error: grpc.aio.AioRpcError


@contextmanager
def raises(expected: type[E]) -> Iterator[Raised]:
    """`with raises(NotFound) as caught:` — the block must fail with that typed error; the
    reason and bad fields are then `caught.value.reason` and `caught.value.fields`."""
    caught = Raised()
    try:
        yield caught
    except grpc.aio.AioRpcError as e:
        typed = from_rpc_error(e)
        assert isinstance(typed, expected), (
            f"expected {expected.code.name}, got {e.code().name}: {e.details()}"
        )
        caught.value, caught.error = typed, e
        return
    raise AssertionError(f"expected {expected.code.name}, the call succeeded")


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    """Await call, which must fail with code; returns the error."""
    try:
        result = await call
    except grpc.aio.AioRpcError as e:
        assert e.code() == code, f"expected {code.name}, got {e.code().name}: {e.details()}"
        return e
    raise AssertionError(f"expected {code.name}, the call succeeded with {result!r}")


def bad_fields(err: grpc.aio.AioRpcError) -> list[str]:
    """The fields named by the google.rpc.BadRequest detail of an INVALID_ARGUMENT error."""
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.code()
    typed = from_rpc_error(err)
    assert isinstance(typed, InvalidArgument)
    assert typed.violations, "no BadRequest detail"
    return typed.fields


def error_reason(err: grpc.aio.AioRpcError) -> str:
    """The reason of the google.rpc.ErrorInfo detail in the error's trailers."""
    reason = from_rpc_error(err).reason
    assert reason, "no ErrorInfo detail"
    return reason


async def pages(fetch: Callable[..., Awaitable[Any]], attr: str) -> list[Any]:
    """Every item of a listing, page after page: fetch(page_token) -> a page with `attr`."""
    items: list[Any] = []
    token = ""
    while True:
        page = await fetch(token)
        items += list(getattr(page, attr))
        token = page.next_page_token
        if not token:
            return items
