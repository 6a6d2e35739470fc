"""Typed domain errors and their one mapping to google.rpc.Status."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

DOMAIN = "netnet"


class DomainError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    reason: str = "UNKNOWN"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], reason: str | None = None) -> None:
        fields = ", ".join(v.field for v in violations)
        super().__init__(
            f"invalid {fields}: " + "; ".join(v.description for v in violations), reason
        )
        self.violations = violations


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class EtagMismatch(DomainError):
    code = grpc.StatusCode.ABORTED
    reason = "ETAG_MISMATCH"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"


class Violations:
    """Collects field violations so a request reports every bad field at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def check(self, ok: bool, field: str, description: str) -> bool:
        if not ok:
            self.add(field, description)
        return ok

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: DomainError, service: str) -> status_pb2.Status:
    """The rich status for a domain error: ErrorInfo always, BadRequest for bad fields."""
    details = [
        _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=f"{service}.{DOMAIN}"))
    ]
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
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


def internal_status(service: str) -> status_pb2.Status:
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message="internal error",
        details=[
            _pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=f"{service}.{DOMAIN}"))
        ],
    )
