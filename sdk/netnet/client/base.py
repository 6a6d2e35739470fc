"""The client every service shares: token, default timeout, typed errors, pagers, batching."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import grpc

from netnet.accounts.v1.accounts_pb2_grpc import AccountServiceStub
from netnet.cases.v1.campaigns_pb2_grpc import CampaignServiceStub
from netnet.cases.v1.cases_pb2_grpc import CaseServiceStub
from netnet.client import config
from netnet.client.channel import open_channel
from netnet.client.errors import NetNetError, Unauthenticated, from_rpc_error
from netnet.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from netnet.sites.v1.sites_pb2_grpc import SiteServiceStub

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Stub = TypeVar("Stub")
DEFAULT_TIMEOUT = 10.0
IMPORT_TIMEOUT = 3600.0


class Client(Generic[Stub]):
    """A connection to one service. Use `async with`, or call close()."""

    service = ""
    stub_type: Callable[[grpc.aio.Channel], Stub]

    def __init__(
        self, target: str | None = None, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.target = target or config.address(self.service)
        if token is None:
            self.token, self.token_source = config.find_token()
        else:
            self.token = token
            self.token_source = "the token given to the client" if token else "no token given"
        self.timeout = timeout
        self.channel = open_channel(self.target)
        self.stub: Stub = type(self).stub_type(self.channel)

    async def __aenter__(self) -> Client[Stub]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        md = [("x-request-id", uuid.uuid4().hex)]
        if self.token:
            md.append(("authorization", f"Bearer {self.token}"))
        return tuple(md)

    def error(self, e: grpc.aio.AioRpcError) -> NetNetError:
        """The typed error for a failed call; UNAUTHENTICATED says which token was sent, or
        where the client looked for one."""
        error = from_rpc_error(e)
        if isinstance(error, Unauthenticated):
            error.hint = f"{self.token_source} was refused" if self.token else self.token_source
        return error

    async def call(
        self, method: Callable[..., Awaitable[Resp]], request: Any, *, timeout: float | None = None
    ) -> Resp:
        """One unary call; a failure raises the typed NetNetError for its status."""
        try:
            return await method(request, metadata=self.metadata(), timeout=timeout or self.timeout)
        except grpc.aio.AioRpcError as e:
            raise self.error(e) from None

    async def pages(
        self, method: Callable[..., Awaitable[Any]], request: Any, items: str
    ) -> AsyncIterator[Any]:
        """Every item of a list call, page after page (the page tokens stay hidden)."""
        while True:
            reply = await self.call(method, request)
            for item in getattr(reply, items):
                yield item
            if not reply.next_page_token:
                return
            request.page_token = reply.next_page_token

    async def stream(self, method: Callable[..., Any], request: Any) -> AsyncIterator[Any]:
        """A server stream (watch calls), without a deadline."""
        try:
            async for reply in method(request, metadata=self.metadata()):
                yield reply
        except grpc.aio.AioRpcError as e:
            raise self.error(e) from None

    async def import_batches(
        self,
        method: Callable[..., Awaitable[Resp]],
        records: Iterable[Any] | AsyncIterable[Any],
        make_request: Callable[[list[Any]], Any],
        batch_size: int = 1000,
        on_batch: Callable[[int], None] | None = None,
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

        try:
            return await method(batches(), metadata=self.metadata(), timeout=IMPORT_TIMEOUT)
        except grpc.aio.AioRpcError as e:
            raise self.error(e) from None


async def _each(records: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record


class AccountsClient(Client[AccountServiceStub]):
    service = "accounts"
    stub_type = AccountServiceStub


class SitesClient(Client[SiteServiceStub]):
    service = "sites"
    stub_type = SiteServiceStub


class CasesClient(Client[CaseServiceStub]):
    service = "cases"
    stub_type = CaseServiceStub

    def __init__(
        self, target: str | None = None, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(target, token, timeout)
        self.campaigns = CampaignServiceStub(self.channel)


class GatewayClient(Client[GatewayServiceStub]):
    service = "gateway"
    stub_type = GatewayServiceStub
