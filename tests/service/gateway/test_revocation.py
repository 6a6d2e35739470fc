"""Revocation: recorded through the gateway at every service, refused within 5 seconds by each
service and by the gateway (on both backends), audited with the revoking token's jti."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import jwt
import pytest

from netnet.accounts.v1 import accounts_pb2
from netnet.cases.v1 import cases_pb2
from netnet.common.v1 import revocation_pb2 as rpb
from netnet.common.v1 import revocation_pb2_grpc as rpb_grpc
from netnet.sites.v1 import sites_pb2
from tests.service.gateway.conftest import Stack
from tests.support.rpc import error_reason, expect_error
from tests.support.servers import Tokens

Metadata = list[tuple[str, str]]
WITHIN = 5.0  # seconds: the promise


def probes(api: Stack) -> dict[str, Callable[[Metadata], Awaitable[Any]]]:
    """A read of each service, and of the gateway, that any role may make."""
    return {
        "accounts": lambda md: api.accounts.get_stats(accounts_pb2.GetStatsRequest(), metadata=md),
        "sites": lambda md: api.sites.get_stats(
            sites_pb2.GetStatsRequest(subject=sites_pb2.STATS_SUBJECT_SITE_ACTIONS), metadata=md
        ),
        "cases": lambda md: api.cases.get_stats(
            cases_pb2.GetStatsRequest(subject=cases_pb2.STATS_SUBJECT_CASES), metadata=md
        ),
        "gateway": lambda md: api.gateway.list_campaigns(page_size=1, metadata=md),
    }


def jti(md: Metadata) -> str:
    token = md[0][1].removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


async def refused_everywhere(api: Stack, md: Metadata) -> dict[str, float]:
    """How long each server took to refuse md as revoked (at most WITHIN seconds)."""
    start, took = time.monotonic(), {}
    pending = probes(api)
    while pending:
        for name, probe in list(pending.items()):
            try:
                await probe(md)
            except Exception as e:  # refused: it must be for revocation
                err = await expect_error(_raise(e), grpc.StatusCode.UNAUTHENTICATED)
                assert error_reason(err) == "TOKEN_REVOKED", (name, err.message)
                took[name] = time.monotonic() - start
                del pending[name]
        assert time.monotonic() - start < WITHIN, f"still taken after {WITHIN}s: {list(pending)}"
        await asyncio.sleep(0.05)
    return took


async def _raise(e: BaseException) -> None:
    raise e


async def taken_everywhere(api: Stack, md: Metadata) -> None:
    for probe in probes(api).values():
        await probe(md)


def revoker(api: Stack, target: str = "gateway") -> rpb_grpc.RevocationServiceStub:
    channel = api.gateway.channel if target == "gateway" else getattr(api, target).channel
    return rpb_grpc.RevocationServiceStub(channel)


async def test_a_revoked_token_is_refused_by_every_service_and_the_gateway(
    stack: Stack, tokens: Tokens
) -> None:
    ann, other = tokens("cac", operator="ann"), tokens("cac", operator="ann")
    await taken_everywhere(stack, ann)
    admin = tokens("office", "admin", operator="root")
    reply = await revoker(stack).RevokeToken(
        rpb.RevokeTokenRequest(token_id=jti(ann)), metadata=admin
    )
    assert reply.revocation.token_id == jti(ann)
    await refused_everywhere(stack, ann)
    await taken_everywhere(stack, other)  # the same operator's other token goes on
    # Again is harmless.
    await revoker(stack).RevokeToken(rpb.RevokeTokenRequest(token_id=jti(ann)), metadata=admin)
    # Each service audited it, naming the revoking token's jti.
    auditor = tokens("office", "auditor")
    entries = [
        e async for e in await stack.accounts.list_audit_entries(page_size=1000, metadata=auditor)
    ]
    revoking = [e for e in entries if e.method == "RevokeToken"]
    assert revoking and revoking[-1].token_id == jti(admin)
    assert revoking[-1].resource == f"revocations/tokens/{jti(ann)}"
    verified = await stack.accounts.verify_audit_chain(metadata=auditor)
    assert verified.verification.ok, verified.verification.problem


async def test_an_operators_tokens_are_refused_and_later_ones_taken(
    stack: Stack, tokens: Tokens
) -> None:
    old, bo = tokens("cac", operator="cy"), tokens("cac", operator="bo")
    admin = tokens("office", "admin", operator="root")
    reply = await revoker(stack).RevokeToken(rpb.RevokeTokenRequest(operator="cy"), metadata=admin)
    assert reply.revocation.operator == "cy" and reply.revocation.issued_before.seconds
    await refused_everywhere(stack, old)
    await taken_everywhere(stack, bo)
    await asyncio.sleep(1.1)  # a token of the next second on is a new one
    await taken_everywhere(stack, tokens("cac", operator="cy"))
    listed = await revoker(stack).ListRevocations(rpb.ListRevocationsRequest(), metadata=admin)
    assert [r.operator for r in listed.revocations if r.operator] == ["cy"]


async def test_the_gateway_learns_a_revocation_recorded_at_a_service(
    stack: Stack, tokens: Tokens
) -> None:
    """Recorded at one service only (as a partial fan-out leaves it): that service and the
    gateway (which reads the services' lists) refuse it within seconds."""
    md = tokens("cac", operator="dee")
    admin = tokens("office", "admin", operator="root")
    await revoker(stack, "accounts").RevokeToken(
        rpb.RevokeTokenRequest(token_id=jti(md)), metadata=admin
    )
    start = time.monotonic()
    while True:
        try:
            await probes(stack)["gateway"](md)
        except Exception as e:
            err = await expect_error(_raise(e), grpc.StatusCode.UNAUTHENTICATED)
            assert error_reason(err) == "TOKEN_REVOKED"
            break
        assert time.monotonic() - start < WITHIN
        await asyncio.sleep(0.05)
    await probes(stack)["sites"](md)  # not recorded there


@pytest.mark.parametrize("target", ["gateway", "accounts"])
async def test_only_an_admin_revokes_and_exactly_one_thing(
    stack: Stack, tokens: Tokens, target: str
) -> None:
    stub = revoker(stack, target)
    for roles in (("operator",), ("auditor",), ("service",)):
        md = tokens("office", *roles)
        call = stub.RevokeToken(rpb.RevokeTokenRequest(operator="x"), metadata=md)
        await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
    admin = tokens("office", "admin")
    for bad in (
        rpb.RevokeTokenRequest(),
        rpb.RevokeTokenRequest(token_id="a", operator="b"),
    ):
        await expect_error(stub.RevokeToken(bad, metadata=admin), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(
        stub.ListRevocations(rpb.ListRevocationsRequest(), metadata=tokens("cac")),
        grpc.StatusCode.PERMISSION_DENIED,
    )
