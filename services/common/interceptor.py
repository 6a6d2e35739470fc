"""What every RPC of a service goes through, outermost first: request context, access log and
metrics, auth, limits per caller, and the mapping of domain errors to google.rpc.Status.

Not a grpc.aio interceptor: the servicers' method handlers are wrapped once, as they are
registered (Registrar); an interceptor costs every call a coroutine just to find its handler.
Health and reflection are registered on the server itself, unwrapped (open to all)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common import metrics, storage
from services.common.auth import Verifier
from services.common.context import Principal, principal_var, request_id_var
from services.common.errors import (
    AlreadyExists,
    DomainError,
    EtagMismatch,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from services.common.limits import Limiter

log = structlog.get_logger()
REQUEST_ID_HEADER = "x-request-id"
# A request id for a call that brings none: random per process, then counted.
_PROCESS_ID = os.urandom(8).hex()
_CALLS = itertools.count(1)
DOMAIN = "netnet"
# The status code of each domain error type (a subclass takes its nearest listed base's).
CODES: dict[type[DomainError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    EtagMismatch: grpc.StatusCode.ABORTED,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def code_of(error: DomainError) -> grpc.StatusCode:
    """The status code of a domain error (UNKNOWN for a type the table does not list)."""
    for kind in type(error).__mro__:
        code = CODES.get(kind)
        if code is not None:
            return code
    return grpc.StatusCode.UNKNOWN


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: DomainError, service: str) -> status_pb2.Status:
    """The rich status for a domain error: ErrorInfo always, BadRequest for bad fields,
    RetryInfo for a limit reached."""
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason,
                domain=f"{service}.{DOMAIN}",
                metadata=error.metadata if isinstance(error, ResourceExhausted) else {},
            )
        )
    ]
    if isinstance(error, ResourceExhausted):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1_000_000, math.ceil(error.retry_after * 1e9)))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    if isinstance(error, InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        )
    return status_pb2.Status(code=code_of(error).value[0], message=error.message, details=details)


def internal_status(service: str) -> status_pb2.Status:
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message="internal error",
        details=[
            _pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=f"{service}.{DOMAIN}"))
        ],
    )


class Registrar:
    """Stands in for the server while servicers register: their handlers go in wrapped."""

    def __init__(self, server: grpc.aio.Server, calls: Calls) -> None:
        self.server, self.calls = server, calls

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.server.add_generic_rpc_handlers([_Wrapped(h, self.calls) for h in handlers])

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.server.add_registered_method_handlers(
            service,
            {name: self.calls.wrap(f"/{service}/{name}", h) for name, h in handlers.items()},
        )


class _Wrapped(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, calls: Calls) -> None:
        self.inner, self.calls = inner, calls
        # method -> (its handler, the wrapped one): the same handler comes back for every call.
        self.known: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self.inner.service(details)
        if handler is None:
            return None
        method: str = details.method  # type: ignore[attr-defined]
        known = self.known.get(method)
        if known is None or known[0] is not handler:
            known = self.known[method] = (handler, self.calls.wrap(method, handler))
        return known[1]


class Calls:
    """The bookkeeping every RPC of one service gets (see the module's note)."""

    def __init__(
        self,
        service: str,
        verifier: Verifier,
        stopping: asyncio.Event | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.service = service
        self.verifier = verifier  # the key set, the deployment's departments, revocations
        # Set when the service drains: a new call is refused (UNAVAILABLE: retry elsewhere)
        # at once, not left to race the server's own stop; calls in flight go on.
        self.stopping = stopping or asyncio.Event()
        self.limiter = Limiter() if limiter is None else limiter
        self.in_flight = 0  # calls begun and not yet ended
        self._idle = asyncio.Event()
        self._idle.set()
        self._counted: dict[tuple[str, str], Any] = {}  # (method, code) -> labelled counter
        self._timed: dict[str, Any] = {}  # method -> labelled histogram

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        # What a call counts against (limits.py): a unary call the rate, an import (client
        # stream) or a watch (server stream) a slot of its kind while it is open.
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary, None), **kwargs
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(method, handler.stream_unary, "imports"), **kwargs
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream, "watches"), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            self._stream(method, handler.stream_stream, "watches"), **kwargs
        )

    def began(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def ended(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self._idle.set()

    async def drained(self, seconds: float) -> None:
        """Return once no call is in flight, or after that many seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)

    def count(self, method: str, code: str, seconds: float) -> None:
        """The RPC in the metrics (labelled children looked up once per method and code)."""
        counter = self._counted.get((method, code))
        if counter is None:
            name = method.rsplit("/", 1)[-1]
            counter = self._counted[(method, code)] = metrics.RPCS.labels(self.service, name, code)
        timer = self._timed.get(method)
        if timer is None:
            name = method.rsplit("/", 1)[-1]
            timer = self._timed[method] = metrics.RPC_SECONDS.labels(self.service, name)
        counter.inc()
        timer.observe(seconds)

    def _unary(self, method: str, behavior: Any, streams: str | None) -> Any:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = _Call(self, method, context)
            try:
                call.begin(streams)
                return await behavior(request, context)
            except BaseException as e:
                await call.fail(e)
            finally:
                call.end()

        return call

    def _stream(self, method: str, behavior: Any, streams: str) -> Any:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            call = _Call(self, method, context)
            try:
                call.begin(streams)
                async for response in behavior(request, context):
                    call.still_good()
                    yield response
            except BaseException as e:
                await call.fail(e)
            finally:
                call.end()

        return call


class _Call:
    """The bookkeeping of one RPC."""

    def __init__(self, owner: Calls, method: str, context: grpc.aio.ServicerContext) -> None:
        self.owner, self.method, self.context = owner, method, context
        owner.began()
        self.code = "OK"
        self.start = time.perf_counter()
        self.department = ""
        self.release: Callable[[], None] | None = None  # the stream slot it holds
        self.principal: Principal | None = None

    def begin(self, streams: str | None) -> None:
        """Bind the request id and the principal; refuse the call when the service drains,
        the token is bad, or the caller is beyond its limits (streams: the kind of stream
        it opens, None for a unary call)."""
        metadata = tuple(self.context.invocation_metadata() or ())
        rid = next((str(v) for k, v in metadata if k == REQUEST_ID_HEADER), "") or (
            f"{_PROCESS_ID}{next(_CALLS):016x}"
        )
        request_id_var.set(rid)
        principal_var.set(None)
        if self.owner.stopping.is_set():
            raise Unavailable("the service is shutting down", reason="DRAINING")
        principal = self.owner.verifier.principal(metadata)
        principal_var.set(principal)
        self.principal = principal
        self.department = principal.department
        if streams is None:
            self.owner.limiter.admit(principal)
        else:
            self.release = self.owner.limiter.open(principal, streams)

    def still_good(self) -> None:
        """A stream's caller still holds a token the server takes (not revoked meanwhile)."""
        if self.principal is not None:
            self.owner.verifier.still_good(self.principal)

    async def fail(self, error: BaseException) -> None:
        if isinstance(error, storage.Unreachable):
            log.warning("database unreachable", method=self.method, error=str(error))
            error = Unavailable("the database cannot be reached", reason="DATABASE_UNAVAILABLE")
        if isinstance(error, DomainError):
            self.code = code_of(error).name
            await self.context.abort_with_status(
                rpc_status.to_status(to_status(error, self.owner.service))
            )
        if isinstance(error, grpc.aio.AbortError):
            code = self.context.code()
            self.code = code.name if isinstance(code, grpc.StatusCode) else "ABORTED_BY_HANDLER"
            raise error
        if isinstance(error, Exception):
            self.code = "INTERNAL"
            log.error(
                "unhandled error",
                method=self.method,
                error="".join(traceback.format_exception(error)),
            )
            await self.context.abort_with_status(
                rpc_status.to_status(internal_status(self.owner.service))
            )
        self.code = "CANCELLED"
        raise error

    def end(self) -> None:
        self.owner.ended()
        if self.release is not None:
            self.release()
        elapsed = time.perf_counter() - self.start
        self.owner.count(self.method, self.code, elapsed)
        log.info(
            "rpc",
            method=self.method,
            code=self.code,
            duration_ms=round(elapsed * 1000, 2),
            request_id=request_id_var.get(),
            department=self.department,
        )
