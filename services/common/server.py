"""Bootstrap shared by every server: grpc.aio server, health, reflection, database, drain."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common import audit, metrics, reflection, revocation, rollups, storage
from services.common.auth import KeySetError, Revocations, Verifier, ensure_key, key_set
from services.common.changes import ChangeFeed
from services.common.clock import Clock
from services.common.config import ConfigError, Settings, load_settings
from services.common.interceptor import Calls, Registrar
from services.common.limits import Limiter
from services.common.logging import configure
from services.common.storage import Conn
from services.common.storage.postgres import Postgres
from services.common.storage.sqlite import Sqlite
from services.common.storage.writer import Backend, Database
from services.common.tls import CertificateFiles, TLSError, server_credentials

log = structlog.get_logger()


@dataclass
class Runtime:
    """What a servicer gets from the process: settings, database, feed, clock."""

    settings: Settings
    db: Database
    feed: ChangeFeed
    clock: Clock
    # Set when the process begins to stop: endless streams end so the drain is not held up.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Called after the server has drained (e.g. closing client channels).
    on_stop: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    audit_key: bytes = b""
    checkpointed: int = 0  # the audit entry last checkpointed by this process
    # The server's certificate files when it serves TLS (a companion serves the same ones).
    tls_files: CertificateFiles | None = None
    # Checks each call's token: the public key set, and the revocations this process knows.
    verifier: Verifier | None = None
    # More background loops a servicer's registration adds (the gateway's revocations).
    loops: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)


@dataclass(frozen=True)
class Companion:
    """A server started beside the gRPC one (the gateway's dashboard): where it serves, and
    how it stops."""

    name: str
    url: str
    stop: Callable[[], Coroutine[Any, Any, None]]


# Starts a companion once the gRPC server listens, given its port (a companion may call it);
# None when the settings turn it off.
StartCompanion = Callable[[Runtime, int], Coroutine[Any, Any, Companion | None]]


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # process name, e.g. "accounts"
    migrations: Path | None  # None: a process without a database (the gateway)
    # Adds servicers to the server; returns the full names of the gRPC services served.
    register: Callable[[grpc.aio.Server, Runtime], list[str]]
    # Background loops (sweeps) that run while serving.
    background: tuple[Callable[[Runtime], Coroutine[Any, Any, None]], ...] = field(default=())
    # How each rollup is recounted from the records, when a migration marks it for a rebuild.
    rollup_sources: rollups.Sources = field(default_factory=dict)
    # Started before health turns SERVING; stopped before the drain.
    companions: tuple[StartCompanion, ...] = field(default=())


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.so_reuseport", 0),
    ]


class RunningServer:
    """A started server: its port, its runtime, and a clean stop."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        runtime: Runtime,
        health_servicer: health.aio.HealthServicer,
        names: list[str],
        tasks: list[asyncio.Task[None]],
        companions: list[Companion],
        calls: Calls,
    ) -> None:
        self.server, self.port, self.runtime, self.calls = server, port, runtime, calls
        self._health, self._names, self._tasks = health_servicer, names, tasks
        self.companions = {c.name: c for c in companions}

    async def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING, refuse new calls, drain in-flight ones, close the database."""
        await self._health.enter_graceful_shutdown()
        self.runtime.stopping.set()
        self.runtime.feed.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for companion in self.companions.values():
            await companion.stop()
        # The calls in flight finish while new ones are refused by the interceptor (UNAVAILABLE,
        # DRAINING: a client tries again elsewhere); then grpc's own stop, which would cancel a
        # new call that raced it, and cancels what is still running after the grace.
        grace = self.runtime.settings.drain_seconds if grace is None else grace
        began = time.monotonic()
        await self.calls.drained(grace)
        await self.server.stop(max(grace - (time.monotonic() - began), 0.0))
        for close in self.runtime.on_stop:
            await close()
        if self.runtime.audit_key:
            await checkpoint_quietly(self.runtime)  # the head as the process leaves it
        await self.runtime.db.close()


async def checkpoint(runtime: Runtime) -> audit.Checkpoint | None:
    """Sign the audit chain's head and keep it outside the database: a line in the service's
    checkpoint file and in the log. Nothing when the head has not moved since the last."""
    s = runtime.settings
    now = runtime.clock.now_us()
    cp = await runtime.db.read(lambda c: audit.head(c, runtime.audit_key, s.service, now))
    if cp.seq == runtime.checkpointed:
        return None
    path = audit.checkpoint_file(s.audit_checkpoint_dir, s.service)
    await asyncio.to_thread(audit.save_checkpoint, path, cp)
    runtime.checkpointed = cp.seq
    log.info("audit checkpoint", file=str(path), **asdict(cp))
    return cp


async def checkpoint_quietly(runtime: Runtime) -> None:
    try:
        await checkpoint(runtime)
    except Exception as e:  # the chain is intact; the next checkpoint covers it
        log.warning("audit checkpoint failed", error=str(e))


async def _checkpoints(runtime: Runtime) -> None:
    while True:
        await checkpoint_quietly(runtime)
        await asyncio.sleep(runtime.settings.audit_checkpoint_seconds)


# TLSError: certificate files that changed between the settings' check and the start.
CANNOT_START: tuple[type[Exception], ...] = (OSError, TLSError, *storage.Error)


def backend(settings: Settings, setup: Callable[[Conn], None] | None) -> Backend:
    """The store the settings name: PostgreSQL's schema, or else the SQLite file."""
    if settings.database_url:
        return Postgres(settings.database_url, settings.database_schema, setup)
    return Sqlite(settings.database_path, settings.sqlite_synchronous, setup)


async def start(spec: ServiceSpec, settings: Settings, clock: Clock | None = None) -> RunningServer:
    # Only the public key set: the private key stays with the issuer (netnet token issue).
    try:
        keys = key_set(settings.public_keys_file)
    except KeySetError as e:
        raise OSError(str(e)) from None
    verifier = Verifier(keys, settings.reference.departments, Revocations())
    audit_key = ensure_key(settings.audit_key_file) if spec.migrations else b""
    server = grpc.aio.server(options=server_options(settings))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    db = Database(
        backend(settings, partial(audit.bind_key, key=audit_key) if audit_key else None),
        partial(audit.seal, key=audit_key) if audit_key else None,
    )
    tls_files = CertificateFiles(settings.tls) if settings.tls else None
    runtime = Runtime(
        settings,
        db,
        ChangeFeed(db),
        clock or Clock(),
        audit_key=audit_key,
        tls_files=tls_files,
        verifier=verifier,
    )
    # The servicers' handlers go in wrapped by the per-call bookkeeping (see interceptor.py).
    calls = Calls(spec.name, verifier, runtime.stopping, Limiter(settings.limits))
    registrar = cast(grpc.aio.Server, Registrar(server, calls))
    names = spec.register(registrar, runtime)
    if spec.migrations:  # the gateway serves its own (it records at every service)
        names += revocation.register(registrar, runtime)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable(server, [*names, health.SERVICE_NAME])
    try:
        if tls_files is not None:  # renewed files are served to new connections (tls.py)
            port = server.add_secure_port(settings.addr, server_credentials(tls_files))
        else:
            port = server.add_insecure_port(settings.addr)
    except RuntimeError:  # grpc raises (rather than returning 0) when the bind fails
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {settings.addr}")
    await server.start()
    companions: list[Companion] = []
    try:
        applied = await db.open([(spec.name, spec.migrations)]) if spec.migrations else []
        # Before serving: no figure is read from a rollup that does not count its records yet.
        rebuilt = (
            await db.write(lambda c: rollups.rebuild_marked(c, spec.rollup_sources))
            if spec.migrations
            else []
        )
        if spec.migrations:  # no revoked token is taken for a moment after a restart
            await revocation.refresh(runtime)
        for start_companion in spec.companions:
            companion = await start_companion(runtime, port)
            if companion is not None:
                companions.append(companion)
    except BaseException:
        # Stop and close what is open: the database's threads would keep the process alive.
        for companion in companions:
            await companion.stop()
        await server.stop(0)
        await db.close()
        raise
    loops = [
        *spec.background,
        *([_checkpoints] if audit_key else []),
        *([revocation.refresh_forever] if spec.migrations else []),
    ]
    tasks = [asyncio.create_task(loop(runtime)) for loop in loops]
    tasks += [asyncio.create_task(loop()) for loop in runtime.loops]
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        service=spec.name,
        addr=settings.addr,
        port=port,
        tls=("mutual" if settings.tls.client_ca else "on") if settings.tls else "off",
        database=db.backend.name if spec.migrations else None,
        migrations_applied=applied,
        rollups_rebuilt=rebuilt,
        **{c.name: c.url for c in companions},
    )
    return RunningServer(server, port, runtime, health_servicer, names, tasks, companions, calls)


async def _serve(spec: ServiceSpec, settings: Settings) -> None:
    # Metrics first: if its port is taken, fail before the database threads exist (they
    # would keep the process alive after the error).
    metrics.serve(settings.metrics_port)
    running = await start(spec, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", service=spec.name, grace_seconds=settings.drain_seconds)
    await running.stop()
    log.info("stopped", service=spec.name)


def main(spec: ServiceSpec) -> None:
    """Process entry point: settings from the environment, serve until SIGTERM/SIGINT."""
    try:
        settings = load_settings(spec.name)
    except ConfigError as e:
        print(f"{spec.name}: configuration error: {e}", file=sys.stderr)
        sys.exit(2)
    configure(settings.log_format)
    try:
        asyncio.run(_serve(spec, settings))
    except CANNOT_START as e:
        print(f"{spec.name}: cannot start: {e}", file=sys.stderr)
        sys.exit(1)
