"""The error checks the tests share read the rich status through the SDK's typed errors."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from netnet.client.errors import (
    FailedPrecondition,
    InvalidArgument,
    NetNetError,
    NotFound,
    from_rpc_error,
)
from tests.support.rpc import bad_fields, error_reason, expect_error, raises


def _error(
    code: grpc.StatusCode,
    message: str,
    reason: str = "",
    fields: tuple[str, ...] = (),
) -> grpc.aio.AioRpcError:
    details = []
    if reason:
        details.append(any_pb2.Any())
        details[-1].Pack(error_details_pb2.ErrorInfo(reason=reason))
    if fields:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description="bad")
                for f in fields
            ]
        )
        details.append(any_pb2.Any())
        details[-1].Pack(bad)
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, details=message)


async def _fail(error: grpc.aio.AioRpcError) -> None:
    raise error


async def _fail_typed(error: NetNetError) -> None:
    raise error


async def _succeed() -> str:
    return "done"


async def test_raises_gives_the_typed_error() -> None:
    error = _error(
        grpc.StatusCode.INVALID_ARGUMENT, "invalid", "BAD_REQUEST", ("action.category", "region")
    )
    with raises(InvalidArgument) as caught:
        await _fail(error)
    assert caught.value.fields == ["action.category", "region"]
    assert caught.value.reason == "BAD_REQUEST"
    assert caught.value.message == "invalid"
    # A client's typed error is taken as it is.
    with raises(InvalidArgument) as again:
        await _fail_typed(caught.value)
    assert again.value is caught.value


async def test_raises_fails_on_another_code_or_on_success() -> None:
    with pytest.raises(AssertionError, match="expected NOT_FOUND, got FAILED_PRECONDITION"):
        with raises(NotFound):
            await _fail(_error(grpc.StatusCode.FAILED_PRECONDITION, "no", "ILLEGAL_TRANSITION"))
    with pytest.raises(AssertionError, match="the call succeeded"):
        with raises(FailedPrecondition):
            await _succeed()


async def test_expect_error_and_its_details() -> None:
    error = _error(grpc.StatusCode.INVALID_ARGUMENT, "invalid", "BAD_REQUEST", ("a", "b"))
    got = await expect_error(_fail(error), grpc.StatusCode.INVALID_ARGUMENT)
    assert bad_fields(got) == ["a", "b"] and error_reason(got) == "BAD_REQUEST"
    with pytest.raises(AssertionError, match="expected NOT_FOUND"):
        await expect_error(_fail(error), grpc.StatusCode.NOT_FOUND)
    with pytest.raises(AssertionError, match="succeeded"):
        await expect_error(_succeed(), grpc.StatusCode.NOT_FOUND)


def test_missing_details_are_reported() -> None:
    with pytest.raises(AssertionError, match="no BadRequest detail"):
        bad_fields(
            from_rpc_error(_error(grpc.StatusCode.INVALID_ARGUMENT, "invalid", "BAD_REQUEST"))
        )
    with pytest.raises(AssertionError, match="no ErrorInfo detail"):
        error_reason(from_rpc_error(_error(grpc.StatusCode.NOT_FOUND, "missing")))
    with pytest.raises(AssertionError):
        bad_fields(from_rpc_error(_error(grpc.StatusCode.NOT_FOUND, "missing", "NOT_FOUND")))
