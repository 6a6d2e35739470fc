"""Container health check: python -m services.common.healthcheck SERVICE (exit 0 if SERVING)."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netnet.client.tls import sync_channel
from services.common.config import ConfigError, client_tls, own_port_tls, server_tls, service_addr


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m services.common.healthcheck accounts|sites|cases|gateway")
        return 2
    try:
        addr = service_addr(argv[0])
        # TLS as the process serves it (NETNET_TLS_CERT), trusting NETNET_TLS_CA, with the
        # process's client certificate where it asks for one.
        tls = own_port_tls(server_tls(), client_tls())
    except (ConfigError, KeyError) as e:
        print(f"cannot check {argv[0]}: {e}")
        return 2
    host, _, port = addr.rpartition(":")
    if host in ("0.0.0.0", "[::]", "::"):
        addr = f"127.0.0.1:{port}"  # listening everywhere: ask over loopback
    with sync_channel(addr, tls) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.RpcError as e:
            print(f"{argv[0]} at {addr}: {e.code().name}")  # type: ignore[attr-defined]
            return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print(f"{argv[0]} at {addr}: {'SERVING' if serving else 'NOT_SERVING'}")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
