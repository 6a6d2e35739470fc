"""What every service client shares: token, default timeout, typed errors, pagers, batching.
The per-RPC methods are generated (netnet.client.services)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from typing import Any, Generic, Self, TypeVar

import grpc

from netnet.client import config
from netnet.client.channel import open_channel, read_only
from netnet.client.errors import NetNetError, ResourceExhausted, Unauthenticated, from_rpc_error

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Item = TypeVar("Item")
M = TypeVar("M")
Metadata = Sequence[tuple[str, str]]
DEFAULT_TIMEOUT = 10.0
IMPORT_TIMEOUT = 3600.0
# A call refused by a server's limit (RESOURCE_EXHAUSTED with RetryInfo) is tried again after
# the delay the server asks plus a jitter that grows with each attempt (so callers refused
# together do not all come back at once), at most this many times in all, and never past its
# deadline.
MAX_ATTEMPTS = 5
JITTER_SECONDS = 0.05
MAX_JITTER_SECONDS = 1.0


def flatten(message: Callable[..., M], request: M | None, **fields: Any) -> M:
    """The request: the message given, or one made from the fields given (not both)."""
    given = {k: v for k, v in fields.items() if v is not None}
    if request is not None:
        if given:
            raise ValueError(
                "pass either the request message or its fields, not both "
                f"(fields given: {', '.join(sorted(given))})"
            )
        return request
    return message(**given)


class Client:
    """A connection to one service. Use `async with`, or call close(). A client opens its
    own channel (with the retry policy of netnet.client.channel) unless given one; it closes
    only a channel it opened."""

    service = ""
    # attribute -> generated stub class, made on the client's channel (set per service)
    stub_types: tuple[tuple[str, Callable[[grpc.aio.Channel], Any]], ...] = ()

    def __init__(
        self,
        target: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.target = target or ("" if channel else config.address(self.service))
        if token is None:
            self.token, self.token_source = config.find_token()
        else:
            self.token = token
            self.token_source = "the token given to the client" if token else "no token given"
        self.timeout = timeout
        self.owns_channel = channel is None
        self.channel = channel or open_channel(self.target)
        for attr, make in self.stub_types:
            setattr(self, attr, make(self.channel))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.owns_channel:
            await self.channel.close()

    def metadata(self, extra: Metadata = ()) -> tuple[tuple[str, str], ...]:
        """A fresh request id and the client's token, unless the call brings its own."""
        given = {k for k, _ in extra}
        md = [] if "x-request-id" in given else [("x-request-id", uuid.uuid4().hex)]
        if self.token and "authorization" not in given:
            md.append(("authorization", f"Bearer {self.token}"))
        return (*md, *extra)

    def error(self, e: grpc.aio.AioRpcError) -> NetNetError:
        """The typed error for a failed call; UNAUTHENTICATED says which token was sent, or
        where the client looked for one."""
        error = from_rpc_error(e)
        if isinstance(error, Unauthenticated):
            error.hint = f"{self.token_source} was refused" if self.token else self.token_source
        return error

    async def call(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
    ) -> Resp:
        """One unary call; a failure raises the typed NetNetError for its status. A read, or a
        write that carries a request id (a repeat then changes nothing), refused by a limit is
        tried again after the server's delay, inside the call's deadline (see retry_wait);
        UNAVAILABLE is retried by the channel (netnet.client.channel), for reads only."""
        deadline = time.monotonic() + (timeout or self.timeout)
        md = self.metadata(metadata)  # one request id for every attempt
        retried = read_only(_method_name(method)) or _carries_request_id(request)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await method(request, metadata=md, timeout=deadline - time.monotonic())
            except grpc.aio.AioRpcError as e:
                error = self.error(e)
            wait = retry_wait(error, attempt) if retried and attempt < MAX_ATTEMPTS else None
            if wait is None or time.monotonic() + wait >= deadline:
                raise error
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def pager(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Any,
        items: str,
        timeout: float | None = None,
        metadata: Metadata = (),
    ) -> AsyncPager[Resp, Any]:
        """The first page of a list call, fetched now; the pager fetches the rest."""

        async def fetch(req: Any) -> Resp:
            return await self.call(method, req, timeout=timeout, metadata=metadata)

        return AsyncPager(fetch, request, await fetch(request), items)

    async def pages(
        self, method: Callable[..., Awaitable[Any]], request: Any, items: str
    ) -> AsyncIterator[Any]:
        """Every item of a list call, page after page (the page tokens stay hidden)."""
        async for item in await self.pager(method, request, items):
            yield item

    async def stream(
        self,
        method: Callable[..., Any],
        request: Any,
        metadata: Metadata = (),
        timeout: float | None = None,
    ) -> AsyncGenerator[Any, None]:
        """A server stream (watch calls), without a deadline unless one is given. A watch
        changes nothing: refused by a limit before its first reply, it is tried again as a
        unary read is (see call); once replies have come, a failure is the caller's to see."""
        deadline = None if timeout is None else time.monotonic() + timeout
        md = self.metadata(metadata)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            replied = False
            try:
                left = None if deadline is None else deadline - time.monotonic()
                async for reply in method(request, metadata=md, timeout=left):
                    replied = True
                    yield reply
                return
            except grpc.aio.AioRpcError as e:
                error = self.error(e)
            wait = None if replied or attempt == MAX_ATTEMPTS else retry_wait(error, attempt)
            if wait is None or (deadline is not None and time.monotonic() + wait >= deadline):
                raise error
            await asyncio.sleep(wait)

    async def call_stream(
        self,
        method: Callable[..., Awaitable[Resp]],
        requests: Iterable[Any] | AsyncIterable[Any],
        timeout: float | None = IMPORT_TIMEOUT,
        metadata: Metadata = (),
    ) -> Resp:
        """A client stream of requests; a failure raises the typed NetNetError. Never
        retried: the requests are consumed as they are sent. An import refused by a limit
        (ResourceExhausted, reason TOO_MANY_STREAMS) was refused before the server read a
        message, so nothing of it was written: start it again after error.retry_delay."""
        try:
            return await method(_each(requests), metadata=self.metadata(metadata), timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise self.error(e) from None

    async def import_batches(
        self,
        method: Callable[..., Awaitable[Resp]],
        records: Iterable[Any] | AsyncIterable[Any],
        make_request: Callable[[list[Any]], Any],
        batch_size: int = 1000,
        on_batch: Callable[[int], None] | None = None,
        metadata: Metadata = (),
    ) -> Resp:
        """A client-streaming import: records grouped into batches of batch_size per message;
        on_batch(n) is told after each batch is handed to the stream."""

        async def batches() -> AsyncIterator[Any]:
            chunk: list[Any] = []
            async for record in _each(records):
                chunk.append(record)
                if len(chunk) == batch_size:
                    yield make_request(chunk)
                    if on_batch:
                        on_batch(len(chunk))
                    chunk = []
            if chunk:
                yield make_request(chunk)
                if on_batch:
                    on_batch(len(chunk))

        return await self.call_stream(method, batches(), IMPORT_TIMEOUT, metadata)


class AsyncPager(Generic[Resp, Item]):
    """The items of a list call across its pages (`async for item in pager`), or its pages
    (`async for page in pager.pages`); the page tokens stay hidden. `response` is the page
    fetched last."""

    def __init__(
        self,
        fetch: Callable[[Any], Awaitable[Resp]],
        request: Any,
        response: Resp,
        items: str,
    ) -> None:
        self._fetch = fetch
        self._request = request
        self.response = response
        self._items = items

    @property
    async def pages(self) -> AsyncIterator[Resp]:
        yield self.response
        while token := getattr(self.response, "next_page_token", ""):
            request = type(self._request)()
            request.CopyFrom(self._request)
            request.page_token = token
            self.response = await self._fetch(request)
            yield self.response

    async def __aiter__(self) -> AsyncIterator[Item]:
        async for page in self.pages:
            for item in getattr(page, self._items):
                yield item

    async def all(self) -> list[Item]:
        """Every item, in a list."""
        return [item async for item in self]


def retry_wait(error: NetNetError, attempt: int) -> float | None:
    """How long to wait before trying a retriable call again after its attempt-th failure,
    or None when the error is not one to retry: a limit reached (RESOURCE_EXHAUSTED) whose
    server said when (RetryInfo). The wait is that delay, never less, plus a jitter."""
    if not isinstance(error, ResourceExhausted) or error.retry_delay is None:
        return None
    spread = min(MAX_JITTER_SECONDS, JITTER_SECONDS * 2 ** (attempt - 1))
    return error.retry_delay + random.uniform(0, spread)


def _method_name(method: Any) -> str:
    """The short name of a stub's method (GetAccount), "" when it cannot be told."""
    full = getattr(method, "_method", b"")  # grpc.aio's multi-callables keep their path
    return (full.decode() if isinstance(full, bytes) else str(full)).rsplit("/", 1)[-1]


def _carries_request_id(request: Any) -> bool:
    """Whether a request names an idempotency key (request_id, on the request or on the one
    record it carries): a server answers a repeat with the first answer, writing nothing."""
    if getattr(request, "request_id", ""):
        return True
    fields = request.ListFields() if hasattr(request, "ListFields") else []
    return any(
        f.message_type is not None and getattr(value, "request_id", "") for f, value in fields
    )


async def _each(records: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record
