"""Channels as every Net Net client opens them: read-only calls retried on UNAVAILABLE, calls
spread round-robin over the addresses a target names (a service's replicas)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grpc

from netnet.accounts.v1 import accounts_pb2
from netnet.cases.v1 import campaigns_pb2, cases_pb2
from netnet.client.tls import ClientTLS
from netnet.gateway.v1 import gateway_pb2
from netnet.sites.v1 import sites_pb2

# Methods that change nothing, so a retry can do no harm.
SAFE_PREFIXES = ("Get", "BatchGet", "List", "Find", "Lookup", "Verify", "Generate")
RETRY_POLICY = {
    "maxAttempts": 3,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def read_only(method: str) -> bool:
    """Whether an RPC (by its short name) changes nothing: only those are retried."""
    return method.startswith(SAFE_PREFIXES)


def service_config(wait_for_ready: bool = False) -> str:
    """The channel's service config: read-only methods retried on UNAVAILABLE; with
    wait_for_ready, they wait for the connection within their deadline instead of failing
    while the channel sits out a reconnect backoff."""
    names = []
    for module in (accounts_pb2, sites_pb2, cases_pb2, campaigns_pb2, gateway_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            names += [
                {"service": service.full_name, "method": m.name}
                for m in service.methods
                if read_only(m.name)
            ]
    method: dict[str, Any] = {"name": names, "retryPolicy": RETRY_POLICY}
    if wait_for_ready:
        method["waitForReady"] = True
    # Calls spread over every address the target resolves to: the replicas of a service
    # behind one DNS name, or listed (ipv4:10.0.0.1:50051,10.0.0.2:50051).
    balancing: list[dict[str, Any]] = [{"round_robin": {}}]
    return json.dumps({"loadBalancingConfig": balancing, "methodConfig": [method]})


def open_channel(
    target: str,
    *,
    wait_for_ready: bool = False,
    options: Sequence[tuple[str, Any]] = (),
    tls: ClientTLS | None = None,
) -> grpc.aio.Channel:
    """A channel to target; TLS as tls says (None: as the environment says, ClientTLS.from_env)."""
    tls = ClientTLS.from_env() if tls is None else tls
    all_options = [
        ("grpc.service_config", service_config(wait_for_ready)),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        *tls.options(target),
        *options,
    ]
    creds = tls.credentials()
    if creds is None:
        return grpc.aio.insecure_channel(target, options=all_options)
    return grpc.aio.secure_channel(target, creds, options=all_options)
