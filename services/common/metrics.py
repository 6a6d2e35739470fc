"""Prometheus metrics of every server, exposed over HTTP."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RPCS = Counter("netnet_rpc_total", "RPCs handled", ["service", "method", "code"])
RPC_SECONDS = Histogram(
    "netnet_rpc_seconds",
    "RPC duration",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
IMPORTED = Counter("netnet_import_records_total", "Bulk-import records", ["service", "outcome"])
# The writer's group commits: how many writes each took in, and how long it held the writer.
WRITE_GROUP = Histogram(
    "netnet_write_group_size",
    "Writes committed together in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
WRITE_SECONDS = Histogram(
    "netnet_write_group_seconds",
    "Time a group commit held the writer (its statements and COMMIT)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics; port 0 turns the endpoint off."""
    if port:
        try:
            start_http_server(port, addr=host)
        except OSError as e:  # say which port: the error alone does not
            raise OSError(f"cannot serve metrics on {host}:{port}: {e.strerror or e}") from e
