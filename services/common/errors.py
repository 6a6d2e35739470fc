"""Typed domain errors: a reason and, for bad input, the field violations; no transport.

The per-call wrapper (services/common/interceptor.py) maps each type to its status code."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
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
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], reason: str | None = None) -> None:
        fields = ", ".join(v.field for v in violations)
        super().__init__(
            f"invalid {fields}: " + "; ".join(v.description for v in violations), reason
        )
        self.violations = violations


class NotFound(DomainError):
    reason = "NOT_FOUND"


class FailedPrecondition(DomainError):
    reason = "FAILED_PRECONDITION"


class EtagMismatch(DomainError):
    reason = "ETAG_MISMATCH"


class AlreadyExists(DomainError):
    reason = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class Unavailable(DomainError):
    reason = "UNAVAILABLE"


class ResourceExhausted(DomainError):
    """A limit was reached: the caller may try again after retry_after seconds."""

    reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        reason: str | None = None,
        retry_after: float = 0.0,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason)
        self.retry_after = retry_after
        self.metadata = metadata or {}


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


class Reject(Exception):
    """One record refused: raised as its error in a unary call, reported in a bulk one."""

    def __init__(self, error: DomainError, field: str) -> None:
        super().__init__(error.message)
        self.error, self.field = error, field
