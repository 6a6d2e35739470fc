"""Local launcher behind `make run`: the services as child processes on SQLite under
NETNET_DATA_DIR, a dev key pair (the issuer's private key, the servers' public key set), an
admin token and the gateway's service token, health-checked; Ctrl-C stops them all, at once
even while the demo campaign loads, and the launcher then ends by that SIGINT (a shell reports
130). SIGHUP stops them the same way; SIGTERM too, with exit code 0. On Linux the services
also go when the launcher is killed outright."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console

from deploy.demo import CAMPAIGN, Demo
from deploy.keys import write_token
from netnet.cli.progress import import_progress
from netnet.cli.render import text as render
from netnet.client.tls import PLAINTEXT, ClientTLS, sync_channel
from netnet.client.tokens import ensure_key_pair
from services.common.auth import issue_token
from services.common.config import (
    ConfigError,
    Settings,
    data_dir,
    gateway_token_file,
    key_file,
    load_settings,
    public_keys_file,
    reference,
)

# Processes in start order: the gateway last, once its sources serve.
PROCESSES = (
    ("accounts", "services.accounts"),
    ("sites", "services.sites"),
    ("cases", "services.cases"),
    ("gateway", "gateway"),
)
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
T = TypeVar("T")


@dataclass
class Child:
    name: str
    addr: str
    log: Path
    process: subprocess.Popen[bytes]


class Stop:
    """The signal that asked the launcher to stop (SIGINT from Ctrl-C, SIGTERM, SIGHUP when
    the terminal goes), and the one piece of work it cancels at once: the demo load."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.signum = 0
        self._cancel: Callable[[], object] | None = None

    def install(self) -> None:
        for sig in self.SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = self.signum or signum
        if self._cancel is not None:
            self._cancel()

    async def guard(self, work: Coroutine[Any, Any, T]) -> T:
        """Await work (run as asyncio.run's task); a stop signal cancels it (CancelledError)."""
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        self._cancel = partial(loop.call_soon_threadsafe, task.cancel)
        try:
            if self.signum:
                work.close()
                raise asyncio.CancelledError
            return await work
        finally:
            self._cancel = None

    def exit_code(self) -> int:
        """0 for SIGTERM, a stop asked for (the services too exit 0 on it); else -signum: the
        launcher, its work done, ends by SIGINT (SIGHUP) itself, so that whoever started it
        (a shell, make, a script's loop) sees it interrupted rather than finished."""
        return 0 if self.signum == signal.SIGTERM else -self.signum


def die_with_launcher() -> Callable[[], None] | None:
    """What a child runs between fork and exec, on Linux: the kernel sends it SIGTERM (it
    drains and exits) when the launcher dies, however it dies: SIGKILL, its process group
    killed, a crash. Safe here as preexec_fn: the launcher has a single thread when it
    starts the services, and the call needs no lock (prctl is looked up before the fork)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    launcher = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != launcher:  # the launcher died before the call: nobody to serve
            os._exit(1)

    return in_child


def port_free(addr: str) -> bool:
    host, _, port = addr.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError:
            return False
    return True


def healthy(addr: str, timeout: float) -> bool:
    with sync_channel(addr) as channel:  # TLS as NETNET_TLS_CA and the client cert say
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def stop_all(children: list[Child], grace: float) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace + 5
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def dev_key() -> Any:
    """The dev issuer's private key, made on first start, its public half in the set the
    servers read (the servers never see the private key)."""
    return ensure_key_pair(key_file(), public_keys_file())


def write_admin_token(directory: Path) -> Path:
    """A person's token (8 hours, issued again at each start), and the gateway's service
    token (30 days), with which it learns the revocations from the services."""
    key = dev_key()
    write_token(
        gateway_token_file(),
        issue_token(key, operator="gateway", department="office", roles=["service"]),
    )
    token = issue_token(
        key,
        operator="admin",
        department="office",
        roles=["admin", "auditor", "analyst"],
        known=reference().departments,
    )
    return write_token(directory / "admin.token", token)


def check_tls(settings: dict[str, Settings]) -> None:
    """The launcher, the demo loader and the services dial one another as the environment
    says: servers on TLS need clients on TLS (and a client certificate for mutual TLS)."""
    tls = settings["gateway"].tls
    own = settings["gateway"].client_tls
    if tls is not None and not own.enabled:
        raise ConfigError(
            "NETNET_TLS_CERT is set but not NETNET_TLS_CA: the services, the launcher and the "
            "demo loader dial one another over TLS and must trust the servers' certificate"
        )
    if tls is not None and tls.client_ca is not None and not own.cert:
        raise ConfigError(
            "NETNET_TLS_CLIENT_CA asks for mutual TLS: set NETNET_TLS_CLIENT_CERT and "
            "NETNET_TLS_CLIENT_KEY too (the certificate the services present to one another)"
        )
    if tls is None and own.enabled:
        raise ConfigError(
            "NETNET_TLS_CA is set but not NETNET_TLS_CERT/NETNET_TLS_KEY: the services would "
            "serve plaintext to clients dialing TLS"
        )


def main() -> int:
    try:
        settings = {name: load_settings(name) for name, _ in PROCESSES}
        demo_scale()
        check_tls(settings)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    directory = data_dir()
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    busy = [f"{name} ({s.addr})" for name, s in settings.items() if not port_free(s.addr)]
    dashboard = settings["gateway"].http_addr
    if dashboard and not port_free(dashboard):
        busy.append(f"the dashboard ({dashboard}, NETNET_GATEWAY_HTTP_ADDR)")
    if busy:
        print(
            f"cannot start: address already in use for {', '.join(busy)}. Stop whatever "
            "holds it, or set NETNET_<SERVICE>_ADDR to another port.",
            file=sys.stderr,
        )
        return 1
    token_path = write_admin_token(directory)
    children: list[Child] = []
    stop = Stop()
    stop.install()
    in_child = die_with_launcher()
    # Accounts and sites learn campaigns from the cases process, where it listens.
    env = {
        **os.environ,
        "NETNET_DATA_DIR": str(directory),
        "NETNET_CASES_ADDR": settings["cases"].addr,
    }
    for name, module in PROCESSES:
        log = logs / f"{name}.log"
        out = log.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops them in turn
            preexec_fn=in_child,
        )
        children.append(Child(name, settings[name].addr, log, process))
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(children)
    while waiting and not stop.signum:
        for child in list(waiting):
            if child.process.poll() is not None:
                print(
                    f"{child.name} exited with code {child.process.returncode} while "
                    f"starting; its last log lines ({child.log}):\n{tail(child.log)}",
                    file=sys.stderr,
                )
                stop_all(children, 5)
                return 1
            if healthy(child.addr, 1.0):
                waiting.remove(child)
        if time.monotonic() > deadline:
            print(
                f"not healthy after {START_TIMEOUT:.0f}s: {', '.join(c.name for c in waiting)}",
                file=sys.stderr,
            )
            stop_all(children, 5)
            return 1
        time.sleep(0.1)
    if not stop.signum:
        try:
            print(asyncio.run(stop.guard(demo_and_status(children))), flush=True)
        except asyncio.CancelledError:
            print("\ndemo load interrupted: the next start resumes it", flush=True)
        except Exception as e:  # the stack still serves; say what went wrong in plain words
            print(f"could not load the demo campaign or read its status: {e}", file=sys.stderr)
    if not stop.signum:
        print_ready(children, directory, token_path, dashboard, settings["gateway"].client_tls)
    while not stop.signum:
        crashed = [c for c in children if c.process.poll() is not None]
        if crashed:
            for c in crashed:
                print(
                    f"{c.name} stopped unexpectedly (exit code {c.process.returncode}); "
                    f"last log lines ({c.log}):\n{tail(c.log)}",
                    file=sys.stderr,
                )
            print("stopping the others", file=sys.stderr)
            stop_all(children, max(s.drain_seconds for s in settings.values()))
            return 1
        time.sleep(0.2)
    print("\nstopping (draining in-flight calls)...", flush=True)
    stop_all(children, max(s.drain_seconds for s in settings.values()))
    print("all stopped", flush=True)
    return stop.exit_code()


async def demo_and_status(children: list[Child]) -> str:
    """Load the demo campaign on first start (NETNET_DEMO_SCALE, 0 to skip); then the status."""
    addrs = {c.name: c.addr for c in children}
    demo = Demo(addrs, dev_key(), demo_scale())
    try:
        marker = data_dir() / "demo.loaded"
        if demo.scale > 0 and not marker.exists():
            # Fixed request ids: an interrupted load resumes and adds nothing twice.
            print(f"loading the demo campaign (scale {demo.scale}) ...", flush=True)
            started = time.monotonic()
            await demo.load(
                lambda line: print(f"  {line}", flush=True),
                partial(import_progress, console=Console(), indent=2),
            )
            marker.write_text(f"{demo.scale}\n")
            print(f"  done in {time.monotonic() - started:.1f}s", flush=True)
        reply = await demo.gateway.get_campaign_status(
            campaign_id=CAMPAIGN, metadata=demo.md("office", "analyst"), timeout=10
        )
        return "\n" + render(reply.status)
    finally:
        await demo.close()


def demo_scale() -> float:
    raw = os.environ.get("NETNET_DEMO_SCALE") or "0.01"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"NETNET_DEMO_SCALE={raw!r} is not a number") from None
    if not 0 <= value <= 1:
        raise ConfigError(f"NETNET_DEMO_SCALE={value} is outside 0..1")
    return value


def dashboard_url(addr: str, scheme: str = "http") -> str:
    host, _, port = addr.rpartition(":")
    return f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '[::]', '::') else host}:{port}/"


def print_ready(
    children: list[Child],
    directory: Path,
    token_path: Path,
    dashboard: str,
    tls: ClientTLS = PLAINTEXT,
) -> None:
    over = " over TLS" if tls.enabled else ""
    print(f"\nNet Net is running{over} (SQLite under {directory}):\n")
    print(f"  {'service':<10} {'address':<18} {'health':<8} log")
    for c in children:
        print(f"  {c.name:<10} {c.addr:<18} {'SERVING':<8} {c.log}")
    gateway = next(c for c in children if c.name == "gateway")
    if dashboard:
        print(
            f"\n  Dashboard: {dashboard_url(dashboard, tls.scheme)}  (served by the gateway; "
            "sign in with the admin token below, or a department's token)"
        )
    # buf curl speaks TLS with the deployment's CA (and client certificate), h2c without.
    transport = "--http2-prior-knowledge"
    if tls.enabled:
        transport = " ".join(
            [
                *([f"--cacert {tls.ca}"] if tls.ca else []),
                *([f"--cert {tls.cert} --key {tls.key}"] if tls.cert else []),
            ]
        )
    print(
        f"""
Admin token (department office, roles admin/auditor/analyst): {token_path}
Call a service over reflection, for example:

  .tools/node_modules/.bin/buf curl --protocol grpc {transport} \\
    -H "authorization: Bearer $(cat {token_path})" -d '{{"campaign_id":"netnet-2021"}}' \\
    {tls.scheme}://{gateway.addr}/netnet.gateway.v1.GatewayService/GetCampaignStatus

Issue a token for a department operator:

  .venv/bin/python -m services.common.tokens --operator alice --department cac --role operator

Press Ctrl-C to stop.""",
        flush=True,
    )


def end(code: int) -> None:
    if code < 0:  # stopped by this signal: end by it (status 128 + signal to a shell)
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    sys.exit(code)


if __name__ == "__main__":
    end(main())
