"""Typed exceptions made from the servers' rich status (google.rpc.Status details)."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class NetNetError(Exception):
    """An RPC that failed: its code, message, reason and the bad fields, if any."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(
        self, message: str, reason: str = "", violations: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.violations = violations or []
        self.hint = ""  # what the client adds (where it looked for a token, say)
        # Seconds the server asks the caller to wait before trying again (google.rpc.RetryInfo),
        # None when it asks nothing; the ErrorInfo's metadata (a limit's scope and role, say).
        self.retry_delay: float | None = None
        self.metadata: dict[str, str] = {}

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.violations]

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.violations:
            text += " [" + ", ".join(f"{f}: {d}" for f, d in self.violations) + "]"
        if self.hint:
            text += f" ({self.hint})"
        return text


class InvalidArgument(NetNetError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(NetNetError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(NetNetError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(NetNetError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(NetNetError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(NetNetError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(NetNetError):
    code = grpc.StatusCode.ABORTED


class ResourceExhausted(NetNetError):
    """A limit was reached (reason RATE_LIMITED or TOO_MANY_STREAMS); retry_delay says when
    to try again. Nothing was written by the refused call."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(NetNetError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(NetNetError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(NetNetError):
    code = grpc.StatusCode.INTERNAL


BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        FailedPrecondition,
        Aborted,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Internal,
    )
}


def from_rpc_error(error: grpc.aio.AioRpcError) -> NetNetError:
    reason, violations, delay, metadata = "", [], None, {}
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToNanoseconds() / 1e9
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.description) for v in bad.field_violations]
    cls = BY_CODE.get(error.code(), NetNetError)
    exc = cls(error.details() or "", reason, violations)
    exc.retry_delay, exc.metadata = delay, metadata
    if cls is NetNetError:
        exc.code = error.code()
    return exc
