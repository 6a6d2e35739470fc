"""Server reflection on every server, under v1 and v1alpha, knows the error-details types: a
client that learns types only from reflection (grpcurl, buf curl) can decode a BadRequest."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, json_format, message_factory
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha import reflection_pb2 as rpb
from grpc_status import rpc_status

from netnet.accounts.v1 import accounts_pb2 as apb
from tests.service.gateway.conftest import Stack
from tests.support.servers import Tokens, channel_to

ROOT = Path(__file__).resolve().parents[3]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
V1, V1ALPHA = "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"
SERVICES = {
    "accounts": ["netnet.accounts.v1.AccountService"],
    "sites": ["netnet.sites.v1.SiteService"],
    "cases": ["netnet.cases.v1.CaseService", "netnet.cases.v1.CampaignService"],
    "gateway": ["netnet.gateway.v1.GatewayService"],
}


async def reflect(
    channel: grpc.aio.Channel, service: str, requests: list[rpb.ServerReflectionRequest]
) -> list[rpb.ServerReflectionResponse]:
    """One reflection stream under the given service name (v1 and v1alpha share the messages)."""
    call = channel.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=rpb.ServerReflectionRequest.SerializeToString,
        response_deserializer=rpb.ServerReflectionResponse.FromString,
    )

    async def send() -> AsyncIterator[rpb.ServerReflectionRequest]:
        for r in requests:
            yield r

    return [r async for r in call(send(), timeout=5)]


def files_of(
    response: rpb.ServerReflectionResponse,
) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    assert response.WhichOneof("message_response") == "file_descriptor_response", response
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in response.file_descriptor_response.file_descriptor_proto
    ]
    return {f.name: f for f in files}


@pytest.mark.parametrize("service", [V1, V1ALPHA])
async def test_every_server_reflects_its_services_and_the_error_types(
    stack: Stack, service: str
) -> None:
    for name, server in stack.servers.items():
        channel = await channel_to(server.port)
        try:
            listed, bad_request, status, itself = await reflect(
                channel,
                service,
                [
                    rpb.ServerReflectionRequest(list_services=""),
                    rpb.ServerReflectionRequest(file_containing_symbol="google.rpc.BadRequest"),
                    rpb.ServerReflectionRequest(file_containing_symbol="google.rpc.Status"),
                    rpb.ServerReflectionRequest(file_containing_symbol=service),
                ],
            )
        finally:
            await channel.close()
        names = {s.name for s in listed.list_services_response.service}
        assert names >= {*SERVICES[name], V1, V1ALPHA, "grpc.health.v1.Health"}, name
        assert "google/rpc/error_details.proto" in files_of(bad_request), name
        assert "google/rpc/status.proto" in files_of(status), name
        package = service.rsplit(".", 1)[0]
        assert any(f.package == package for f in files_of(itself).values()), name


async def decode_with_reflection(channel: grpc.aio.Channel, detail: any_pb2.Any) -> dict[str, Any]:
    """What grpcurl does with a status detail: look its type up over reflection (v1), build it
    from the files the server sends, and print it as JSON."""
    type_name = detail.type_url.rsplit("/", 1)[-1]
    (found,) = await reflect(
        channel, V1, [rpb.ServerReflectionRequest(file_containing_symbol=type_name)]
    )
    pool = descriptor_pool.DescriptorPool()  # knows nothing the server did not send
    files = files_of(found)
    added: set[str] = set()

    def add(file: descriptor_pb2.FileDescriptorProto) -> None:
        for dependency in file.dependency:
            if dependency not in added:
                add(files[dependency])
        if file.name not in added:
            pool.Add(file)
            added.add(file.name)

    for file in files.values():
        add(file)
    message = message_factory.GetMessageClass(pool.FindMessageTypeByName(type_name))()
    message.ParseFromString(detail.value)
    return json_format.MessageToDict(message)


async def test_a_bad_request_decodes_from_reflection_alone(stack: Stack, tokens: Tokens) -> None:
    channel = await channel_to(stack.servers["accounts"].port)
    try:
        # The generated stub: the raw status details are what reflection decodes.
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stack.accounts.stub.RecordAction(
                apb.RecordActionRequest(action=apb.ActionInput(request_id="r1")),
                metadata=tokens("cac"),
            )
        status = rpc_status.from_call(e.value)  # type: ignore[arg-type]
        assert status is not None
        decoded = {
            d.type_url.rsplit("/", 1)[-1]: await decode_with_reflection(channel, d)
            for d in status.details
        }
    finally:
        await channel.close()
    fields = [v["field"] for v in decoded["google.rpc.BadRequest"]["fieldViolations"]]
    assert "action.account.platform" in fields and "action.category" in fields
    assert decoded["google.rpc.ErrorInfo"]["reason"]


@pytest.mark.skipif(not BUF.exists(), reason="buf is installed by make install")
async def test_buf_curl_calls_over_reflection_v1_and_gets_the_bad_request(
    stack: Stack, tokens: Tokens
) -> None:
    """buf curl finds the method over reflection v1 and prints the BadRequest detail. buf
    1.61 prints a detail's bytes (base64), not its fields: its error printer knows only the
    types compiled into buf and asks reflection for none (`buf curl -v` shows one reflection
    call, for the method's files); grpcurl, which looks detail types up over reflection,
    prints the fields (the test above does what it does)."""
    port = stack.servers["accounts"].port
    token = tokens("cac")[0][1]
    process = await asyncio.create_subprocess_exec(
        str(BUF),
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--reflect-protocol",
        "grpc-v1",
        "-H",
        f"authorization: {token}",
        "-d",
        '{"action": {"request_id": "r1"}}',
        f"http://127.0.0.1:{port}/netnet.accounts.v1.AccountService/RecordAction",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 3 * 8, err.decode()  # buf's exit code for INVALID_ARGUMENT
    printed = json.loads(err)
    assert printed["code"] == "invalid_argument"
    bad = next(d for d in printed["details"] if d["type"] == "google.rpc.BadRequest")
    value = base64.b64decode(bad["value"] + "=" * (-len(bad["value"]) % 4))
    fields = [v.field for v in error_details_pb2.BadRequest.FromString(value).field_violations]
    assert "action.account.platform" in fields and "action.category" in fields
