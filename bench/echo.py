"""The limit for unary calls: a bare grpc.aio server echoing the request bytes back.

No generated code, no interceptor, no serialization: a generic handler at RecordAction's
path with identity (bytes) serializers. Run as a process: python -m bench.echo; it prints
"port N" once listening and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal

import grpc

from services.common.config import server_tls
from services.common.tls import CertificateFiles, server_credentials

SERVICE = "netnet.accounts.v1.AccountService"
METHOD = "RecordAction"
PATH = f"/{SERVICE}/{METHOD}"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


def handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(_echo)}
    )


async def serve(addr: str = "127.0.0.1:0") -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler(),))
    # TLS as the services serve it when NETNET_TLS_CERT/KEY are set: a like-for-like baseline.
    tls = server_tls()
    if tls is None:
        port = server.add_insecure_port(addr)
    else:
        port = server.add_secure_port(addr, server_credentials(CertificateFiles(tls)))
    await server.start()
    print(f"port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(serve())
