"""A revocation the gateway cannot record at every service: refused naming the one that did
not take it; the others and the gateway refuse the token all the same; repeating is safe."""

from __future__ import annotations

import grpc
import jwt
import pytest

from netnet.common.v1 import revocation_pb2 as rpb
from netnet.common.v1 import revocation_pb2_grpc as rpb_grpc
from tests.service.gateway.conftest import Stack
from tests.service.gateway.test_revocation import probes
from tests.support.rpc import error_reason, expect_error
from tests.support.servers import Tokens, free_port


@pytest.fixture
def addrs() -> dict[str, str]:
    return {"sites": f"127.0.0.1:{free_port()}"}  # nothing listens there


async def test_a_source_that_did_not_take_it_is_named(stack: Stack, tokens: Tokens) -> None:
    md = tokens("cac", operator="ann")
    token = md[0][1].removeprefix("Bearer ")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    stub = rpb_grpc.RevocationServiceStub(stack.gateway.channel)
    admin = tokens("office", "admin")
    err = await expect_error(
        stub.RevokeToken(rpb.RevokeTokenRequest(token_id=jti), metadata=admin),
        grpc.StatusCode.UNAVAILABLE,
    )
    assert error_reason(err) == "REVOCATION_INCOMPLETE"
    assert "not recorded by sites" in err.message and "recorded by accounts, cases" in err.message
    for name in ("gateway", "accounts", "cases"):
        refused = await expect_error(probes(stack)[name](md), grpc.StatusCode.UNAUTHENTICATED)
        assert error_reason(refused) == "TOKEN_REVOKED", name
    # Again: the same answer, nothing recorded twice over.
    await expect_error(
        stub.RevokeToken(rpb.RevokeTokenRequest(token_id=jti), metadata=admin),
        grpc.StatusCode.UNAVAILABLE,
    )
    listed = await rpb_grpc.RevocationServiceStub(stack.accounts.channel).ListRevocations(
        rpb.ListRevocationsRequest(), metadata=admin
    )
    assert [r.token_id for r in listed.revocations] == [jti]
