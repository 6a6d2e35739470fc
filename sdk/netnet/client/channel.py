"""Channels with the retry policy every Net Net client uses: UNAVAILABLE, safe calls only."""

from __future__ import annotations

import json

import grpc

from netnet.accounts.v1 import accounts_pb2
from netnet.cases.v1 import campaigns_pb2, cases_pb2
from netnet.gateway.v1 import gateway_pb2
from netnet.sites.v1 import sites_pb2

# Methods that change nothing, so a retry can do no harm.
SAFE_PREFIXES = ("Get", "BatchGet", "List", "Find", "Lookup", "Verify", "Generate")


def service_config() -> str:
    names = []
    for module in (accounts_pb2, sites_pb2, cases_pb2, campaigns_pb2, gateway_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            names += [
                {"service": service.full_name, "method": m.name}
                for m in service.methods
                if m.name.startswith(SAFE_PREFIXES)
            ]
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": names,
                    "retryPolicy": {
                        "maxAttempts": 3,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "0.5s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def open_channel(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", service_config()),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ],
    )
