"""Domain errors are plain exceptions; the per-call wrapper alone knows their status codes."""

from __future__ import annotations

import ast
import inspect

import grpc
from google.rpc import error_details_pb2

from services.common import errors
from services.common.interceptor import CODES, code_of, to_status


def test_errors_module_knows_no_transport() -> None:
    tree = ast.parse(inspect.getsource(errors))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"grpc", "google", "grpc_status", "netnet"}, imported
    assert not any(hasattr(kind, "code") for kind in _domain_errors())


def _domain_errors() -> list[type[errors.DomainError]]:
    return [
        kind
        for kind in vars(errors).values()
        if isinstance(kind, type)
        and issubclass(kind, errors.DomainError)
        and kind is not errors.DomainError
    ]


def test_every_domain_error_has_its_code_in_the_one_table() -> None:
    assert set(_domain_errors()) == set(CODES)
    expected = {
        "InvalidArgument": grpc.StatusCode.INVALID_ARGUMENT,
        "NotFound": grpc.StatusCode.NOT_FOUND,
        "FailedPrecondition": grpc.StatusCode.FAILED_PRECONDITION,
        "EtagMismatch": grpc.StatusCode.ABORTED,
        "AlreadyExists": grpc.StatusCode.ALREADY_EXISTS,
        "PermissionDenied": grpc.StatusCode.PERMISSION_DENIED,
        "Unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
        "Unavailable": grpc.StatusCode.UNAVAILABLE,
        "ResourceExhausted": grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    assert {kind.__name__: code for kind, code in CODES.items()} == expected
    assert code_of(errors.DomainError("x")) == grpc.StatusCode.UNKNOWN


def test_status_of_an_invalid_argument_names_every_field() -> None:
    error = errors.InvalidArgument(
        [errors.FieldViolation("a", "bad a"), errors.FieldViolation("b", "bad b")],
        reason="REQUEST_ID_REUSED",
    )
    status = to_status(error, "accounts")
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and status.details[1].Unpack(bad)
    assert (info.reason, info.domain) == ("REQUEST_ID_REUSED", "accounts.netnet")
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("a", "bad a"),
        ("b", "bad b"),
    ]


def test_status_of_a_limit_reached_says_when_to_retry() -> None:
    error = errors.ResourceExhausted(
        "too many calls", reason="RATE_LIMITED", retry_after=0.25, metadata={"scope": "operator"}
    )
    status = to_status(error, "cases")
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info) and status.details[1].Unpack(retry)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "RATE_LIMITED",
        "cases.netnet",
        {"scope": "operator"},
    )
    assert retry.retry_delay.ToMilliseconds() == 250
