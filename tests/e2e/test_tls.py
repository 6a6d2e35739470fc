"""Transport security: TLS and mutual TLS on real servers with certificates from `netnet certs
dev`; a renewed certificate served to new connections while calls in flight go on; plaintext
refused off loopback; the gateway over TLS to TLS sources, its dashboard over HTTPS, health
and reflection through buf curl, the CLI's --tls-* options."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.__main__ import SPEC as GATEWAY
from gateway.servicer import register
from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cli.certs import SERVER_NAMES, issue, load_ca, new_ca, write, write_dev_certs
from netnet.client import AccountsClient, CasesClient, GatewayClient
from netnet.client.channel import open_channel
from netnet.client.tls import PLAINTEXT, ClientTLS
from netnet.gateway.v1 import gateway_pb2
from services.accounts.__main__ import SPEC as ACCOUNTS
from services.cases.__main__ import SPEC as CASES
from services.common.config import ConfigError, load_settings
from services.common.server import RunningServer
from services.common.tls import CertificateFiles, ServerTLS
from services.sites.__main__ import SPEC as SITES
from tests.e2e.conftest import ctrl_c, start_make_run, wait_for
from tests.support.servers import CampaignOwner, bearer

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
Serve = Callable[..., Any]


@dataclass
class Certs:
    dir: Path
    other: Path  # a second deployment's: its own CA and certificates

    def server(self, mutual: bool = False) -> ServerTLS:
        d = self.dir
        return ServerTLS(d / "server.pem", d / "server.key", d / "ca.pem" if mutual else None)

    def client(
        self, name: str = "admin", *, cert: bool = True, of: Path | None = None
    ) -> ClientTLS:
        """Trusting this deployment's CA; presenting client-NAME's certificate (of another
        deployment's CA with of=certs.other)."""
        c = of or self.dir
        if not cert:
            return ClientTLS.of(str(self.dir / "ca.pem"))
        return ClientTLS.of(
            str(self.dir / "ca.pem"), str(c / f"client-{name}.pem"), str(c / f"client-{name}.key")
        )


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    write_dev_certs(tmp_path / "certs")
    write_dev_certs(tmp_path / "other")
    return Certs(tmp_path / "certs", tmp_path / "other")


async def health(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    return int(reply.status)


async def refused(channel: grpc.aio.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await health(channel)
    await channel.close()
    return e.value.code()


def peer_serial(port: int, cafile: Path, **client: Path) -> int:
    """The serial of the certificate a new TLS connection to the port is shown (blocking)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if client:
        ctx.load_cert_chain(client["cert"], client["key"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def serial_of(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def test_certs_dev_writes_a_ca_server_and_client_certificates(tmp_path: Path) -> None:
    """The CLI command: keys mode 0600, the server certificate names loopback and every
    compose service, the clients' are signed by the same CA; run again, the CA is kept."""
    directory = tmp_path / "dev"
    run = [sys.executable, "-m", "netnet.cli", "certs", "dev", str(directory)]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert "new CA" in first.stdout and "client-admin" in first.stdout
    keys = sorted(directory.glob("*.key"))
    assert {k.stem for k in keys} >= {"ca", "server", "client-admin", "client-gateway"}
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    server = x509.load_pem_x509_certificate((directory / "server.pem").read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(v) for v in sans.get_values_for_type(x509.DNSName)} | {
        str(v) for v in sans.get_values_for_type(x509.IPAddress)
    }
    assert names == set(SERVER_NAMES)
    for pg in ("accounts-pg", "sites-pg", "cases-pg", "gateway-pg", "gateway"):
        assert pg in names
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    for leaf in ("server", "client-admin", "client-accounts"):
        cert = x509.load_pem_x509_certificate((directory / f"{leaf}.pem").read_bytes())
        cert.verify_directly_issued_by(ca)
    before = serial_of(directory / "server.pem")
    again = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert "kept the CA" in again.stdout
    assert serial_of(directory / "ca.pem") == ca.serial_number
    assert serial_of(directory / "server.pem") != before


async def test_tls_refuses_plaintext_and_serves_a_client_trusting_the_ca(
    serve: Serve, certs: Certs, campaign_owner: CampaignOwner
) -> None:
    cases: RunningServer = await serve(CASES, tls=certs.server())
    target = f"127.0.0.1:{cases.port}"
    assert await refused(open_channel(target, tls=PLAINTEXT)) == grpc.StatusCode.UNAVAILABLE
    # A client trusting another CA does not accept the server's certificate.
    strange = ClientTLS.of(str(certs.other / "ca.pem"))
    assert await refused(open_channel(target, tls=strange)) == grpc.StatusCode.UNAVAILABLE
    channel = open_channel(target, tls=certs.client(cert=False))
    try:
        assert await health(channel) == health_pb2.HealthCheckResponse.SERVING
        client = CasesClient(channel=channel, token="")
        md = campaign_owner.admin()
        await client.create_campaign(CampaignOwner.create_request("tls-one"), metadata=md)
        got = await client.get_campaign(name="campaigns/tls-one", metadata=md)
        assert got.campaign.id == "tls-one"
    finally:
        await channel.close()


async def test_mutual_tls_refuses_clients_without_a_certificate_of_its_ca(
    serve: Serve, certs: Certs, campaign_owner: CampaignOwner
) -> None:
    cases: RunningServer = await serve(CASES, tls=certs.server(mutual=True))
    target = f"127.0.0.1:{cases.port}"
    # No client certificate; one signed by another CA: refused at the handshake.
    for tls in (certs.client(cert=False), certs.client(of=certs.other)):
        assert await refused(open_channel(target, tls=tls)) == grpc.StatusCode.UNAVAILABLE
    channel = open_channel(target, tls=certs.client())
    try:
        assert await health(channel) == health_pb2.HealthCheckResponse.SERVING
        client = CasesClient(channel=channel, token="")
        md = campaign_owner.admin()
        await client.create_campaign(CampaignOwner.create_request("tls-two"), metadata=md)
    finally:
        await channel.close()


async def test_a_renewed_certificate_is_served_to_new_connections_under_load(
    serve: Serve, certs: Certs, tmp_path: Path, campaign_owner: CampaignOwner
) -> None:
    """Calls keep going on the connection opened before the renewal (none fails); a new
    connection is shown the new certificate, signed by a new CA, without a restart."""
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.pem", "server.key"):
        shutil.copy2(certs.dir / name, live / name)
    os.chmod(live / "server.key", 0o600)
    new = new_ca("the renewal's CA")
    bundle = tmp_path / "both-cas.pem"  # clients trusting both CAs through the change
    bundle.write_bytes((certs.dir / "ca.pem").read_bytes() + _pem(new.cert))
    (tmp_path / "new-ca.pem").write_bytes(_pem(new.cert))

    cases: RunningServer = await serve(
        CASES, tls=ServerTLS(live / "server.pem", live / "server.key")
    )
    target = f"127.0.0.1:{cases.port}"
    old_serial = serial_of(live / "server.pem")
    assert await asyncio.to_thread(peer_serial, cases.port, bundle) == old_serial

    channel = open_channel(target, tls=ClientTLS.of(str(bundle)))
    client = CasesClient(channel=channel, token="")
    md = campaign_owner.admin()
    await client.create_campaign(CampaignOwner.create_request("tls-renewed"), metadata=md)
    done, failures = 0, []
    stop = asyncio.Event()

    async def load() -> None:
        nonlocal done
        while not stop.is_set():
            try:
                await client.get_campaign(name="campaigns/tls-renewed", metadata=md, timeout=5)
                done += 1
            except Exception as e:  # counted: the assertion below says which
                failures.append(e)

    workers = [asyncio.create_task(load()) for _ in range(8)]
    try:
        await asyncio.sleep(0.3)
        before = done
        # The renewal: key and certificate replaced one after the other, as a renewal
        # script does (in between, the pair does not match: the old one is kept).
        renewed = issue(new, "netnet-server", server_names=SERVER_NAMES)
        write(renewed, live, "server")
        new_serial = renewed.cert.serial_number
        seen = await asyncio.to_thread(peer_serial, cases.port, bundle)
        assert seen == new_serial, (seen, old_serial, new_serial)
        # Only the new CA: a new channel works; only the old CA: refused.
        fresh = open_channel(target, tls=ClientTLS.of(str(tmp_path / "new-ca.pem")))
        assert await health(fresh) == health_pb2.HealthCheckResponse.SERVING
        await fresh.close()
        stale = ClientTLS.of(str(certs.dir / "ca.pem"))
        assert await refused(open_channel(target, tls=stale)) == grpc.StatusCode.UNAVAILABLE
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        await channel.close()
    assert not failures, failures[:3]
    assert done > before > 0, (before, done)


def test_a_half_written_renewal_keeps_the_served_certificate(certs: Certs, tmp_path: Path) -> None:
    """A key that does not match the new certificate (the renewal written halfway): the
    previous pair stays; once both are in place, the new one."""
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.pem", "server.key"):
        shutil.copy2(certs.dir / name, live / name)
    files = CertificateFiles(ServerTLS(live / "server.pem", live / "server.key"))
    first = files.current()
    ca = load_ca(certs.dir)
    assert ca is not None
    renewed = issue(ca, "netnet-server", server_names=SERVER_NAMES)
    (live / "server.pem").write_bytes(_pem(renewed.cert))  # the key not yet
    assert files.current() is first
    write(renewed, live, "server")
    assert files.current().serial == renewed.cert.serial_number


def test_plaintext_beyond_loopback_refuses_to_start_unless_allowed(tmp_path: Path) -> None:
    env = {
        "NETNET_DATA_DIR": str(tmp_path),
        "NETNET_CASES_ADDR": "0.0.0.0:0",
        "NETNET_CASES_METRICS_PORT": "0",
    }
    with pytest.raises(ConfigError, match=r"NETNET_CASES_ADDR='0\.0\.0\.0:0' listens beyond"):
        load_settings("cases", env)
    assert load_settings("cases", {**env, "NETNET_ALLOW_PLAINTEXT": "1"}).tls is None
    for loopback in ("127.0.0.1:0", "localhost:0", "[::1]:0"):
        load_settings("cases", {**env, "NETNET_CASES_ADDR": loopback})
    # The gateway's dashboard too.
    gateway = {**env, "NETNET_GATEWAY_ADDR": "127.0.0.1:0", "NETNET_GATEWAY_HTTP_ADDR": "[::]:0"}
    with pytest.raises(ConfigError, match="NETNET_GATEWAY_HTTP_ADDR"):
        load_settings("gateway", gateway)
    # As a process: it says why, and exits before it listens.
    process = subprocess.run(
        [sys.executable, "-m", "services.cases"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("NETNET_")} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2, process.stderr
    assert "listens beyond loopback without TLS" in process.stderr
    assert "NETNET_ALLOW_PLAINTEXT=1" in process.stderr


def test_tls_settings_fail_fast_naming_the_variable(certs: Certs, tmp_path: Path) -> None:
    base = {"NETNET_DATA_DIR": str(tmp_path), "NETNET_CASES_ADDR": "0.0.0.0:0"}
    d = certs.dir
    good = {"NETNET_TLS_CERT": str(d / "server.pem"), "NETNET_TLS_KEY": str(d / "server.key")}
    settings = load_settings("cases", {**base, **good})  # TLS: any address
    assert settings.tls is not None and settings.tls.client_ca is None
    with pytest.raises(ConfigError, match="go together"):
        load_settings("cases", {**base, "NETNET_TLS_CERT": good["NETNET_TLS_CERT"]})
    with pytest.raises(ConfigError, match="is not the key of the certificate"):
        load_settings("cases", {**good, **base, "NETNET_TLS_KEY": str(d / "client-admin.key")})
    with pytest.raises(ConfigError, match="NETNET_TLS_CLIENT_CA asks for mutual TLS"):
        load_settings("cases", {**base, "NETNET_TLS_CLIENT_CA": str(d / "ca.pem")})
    with pytest.raises(ConfigError, match="NETNET_TLS_CLIENT_CERT and NETNET_TLS_CLIENT_KEY"):
        load_settings("cases", {**base, **good, "NETNET_TLS_CLIENT_CERT": str(d / "ca.pem")})


async def test_the_gateway_over_tls_to_tls_sources_and_its_dashboard_over_https(
    serve: Serve, certs: Certs, campaign_owner: CampaignOwner, tmp_path: Path
) -> None:
    """Every server on mutual TLS: the sources dial cases, the gateway its sources and its
    dashboard the gateway's own port, each with its client certificate. The campaign's status
    through the gateway counts what accounts recorded; the dashboard answers HTTPS (not
    plain HTTP); health and reflection answer buf curl; the CLI reads through --tls-*."""
    mutual = certs.server(mutual=True)
    cases: RunningServer = await serve(CASES, tls=mutual, client_tls=certs.client("cases"))
    cases_addr = f"127.0.0.1:{cases.port}"
    sources = {"cases": cases}
    for spec in (ACCOUNTS, SITES):
        sources[spec.name] = await serve(
            spec, tls=mutual, client_tls=certs.client(spec.name), cases_addr=cases_addr
        )
    backends = {s: f"127.0.0.1:{sources[s].port}" for s in sources}
    gateway: RunningServer = await serve(
        _gateway_to(backends),
        tls=mutual,
        client_tls=certs.client("gateway"),
        http_addr="127.0.0.1:0",
    )
    admin = certs.client("admin")
    key = campaign_owner.key
    md = bearer(key, "office", "admin", operator="owner")
    async with CasesClient(channel=open_channel(cases_addr, tls=admin), token="") as c:
        await c.create_campaign(CampaignOwner.create_request("tls-stack"), metadata=md)
    accounts_target = f"127.0.0.1:{sources['accounts'].port}"
    async with AccountsClient(channel=open_channel(accounts_target, tls=admin), token="") as a:
        for i in range(3):
            await a.record_action(
                action=apb.ActionInput(
                    request_id=f"tls-{i}",
                    account=apb.AccountRef(
                        platform="weibo", platform_uid=f"tls{i}", kind=apb.ACCOUNT_KIND_USER
                    ),
                    action=apb.ACTION_TYPE_BAN,
                    category="obscene",
                    department="cac",
                    campaign_id="tls-stack",
                ),
                metadata=bearer(key, "cac", "operator"),
                timeout=10,
            )
    gateway_target = f"127.0.0.1:{gateway.port}"
    async with GatewayClient(channel=open_channel(gateway_target, tls=admin), token="") as gw:
        reply = await gw.get_campaign_status(
            campaign_id="tls-stack", metadata=bearer(key, "office", "analyst"), timeout=10
        )
    status = reply.status
    assert all(s.state == gateway_pb2.SOURCE_STATE_OK for s in status.sources), status.sources
    assert status.total.accounts_handled == 3

    # The dashboard: HTTPS on the same certificate, plain HTTP refused.
    url = gateway.companions["dashboard"].url
    assert url.startswith("https://127.0.0.1:"), url
    page = await asyncio.to_thread(_https_get, url + "login", certs.dir / "ca.pem")
    assert page[0] == 200 and "<form" in page[1]
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        await asyncio.to_thread(_plain_get, url.replace("https://", "http://") + "login")
    dashboard_port = int(url.rstrip("/").rpartition(":")[2])
    served = await asyncio.to_thread(peer_serial, dashboard_port, certs.dir / "ca.pem")
    assert served == serial_of(certs.dir / "server.pem")

    if BUF.exists():
        await asyncio.to_thread(_buf_curl, gateway_target, certs)
    cli = await asyncio.to_thread(_cli_status, gateway_target, certs, key)
    assert cli.returncode == 0, cli.stderr
    assert "tls-stack" in cli.stdout or "3" in cli.stdout
    # The CLI without --tls-ca dials plaintext: refused, exit 3 (unreachable).
    plain = await asyncio.to_thread(_cli_status, gateway_target, None, key)
    assert plain.returncode == 3, (plain.stdout, plain.stderr)
    assert "--tls-ca" in plain.stderr


def _gateway_to(addrs: dict[str, str]) -> Any:
    """The gateway's spec, dialing these addresses for its sources."""
    return replace(GATEWAY, register=partial(register, addrs=addrs))


def _https_get(url: str, cafile: Path) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=str(cafile))
    with urllib.request.urlopen(url, context=ctx, timeout=10) as reply:
        return reply.status, reply.read().decode()


def _plain_get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as reply:
        reply.read()


def _buf_curl(target: str, certs: Certs) -> None:
    d = certs.dir
    tls = ["--cacert", str(d / "ca.pem"), "--cert", str(d / "client-admin.pem")]
    tls += ["--key", str(d / "client-admin.key")]
    check = subprocess.run(
        [
            str(BUF),
            "curl",
            "--protocol",
            "grpc",
            *tls,
            "-d",
            "{}",
            f"https://{target}/grpc.health.v1.Health/Check",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and "SERVING" in check.stdout, (check.stdout, check.stderr)
    listed = subprocess.run(
        [
            str(BUF),
            "curl",
            "--protocol",
            "grpc",
            *tls,
            "--reflect-protocol",
            "grpc-v1",
            "--list-methods",
            f"https://{target}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "netnet.gateway.v1.GatewayService/GetCampaignStatus" in listed.stdout, listed.stdout
    # Without the client certificate, mutual TLS refuses buf too.
    bare = subprocess.run(
        [
            str(BUF),
            "curl",
            "--protocol",
            "grpc",
            "--cacert",
            str(d / "ca.pem"),
            "-d",
            "{}",
            f"https://{target}/grpc.health.v1.Health/Check",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bare.returncode != 0


def _cli_status(target: str, certs: Certs | None, key: bytes) -> subprocess.CompletedProcess[str]:
    token = bearer(key, "office", "analyst")[0][1].removeprefix("Bearer ")
    options: list[str] = []
    if certs is not None:
        d = certs.dir
        options = [
            "--tls-ca",
            str(d / "ca.pem"),
            "--tls-cert",
            str(d / "client-admin.pem"),
            "--tls-key",
            str(d / "client-admin.key"),
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETNET_")}
    env |= {"NETNET_GATEWAY_ADDR": target, "NETNET_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "netnet.cli", *options, "status", "-c", "tls-stack", "--plain"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_dashboard_serves_a_renewed_certificate_to_new_connections(
    serve: Serve, certs: Certs, tmp_path: Path
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.pem", "server.key"):
        shutil.copy2(certs.dir / name, live / name)
    gateway: RunningServer = await serve(
        GATEWAY,
        tls=ServerTLS(live / "server.pem", live / "server.key"),
        client_tls=certs.client(cert=False),
        http_addr="127.0.0.1:0",
    )
    url = gateway.companions["dashboard"].url
    port = int(url.rstrip("/").rpartition(":")[2])
    ca = certs.dir / "ca.pem"
    assert await asyncio.to_thread(peer_serial, port, ca) == serial_of(live / "server.pem")
    issuer = load_ca(certs.dir)
    assert issuer is not None
    renewed = issue(issuer, "netnet-server", server_names=SERVER_NAMES)
    write(renewed, live, "server")
    assert await asyncio.to_thread(peer_serial, port, ca) == renewed.cert.serial_number
    page = await asyncio.to_thread(_https_get, url + "login", ca)
    assert page[0] == 200


def test_make_run_over_mutual_tls_loads_the_demo_and_serves_https(certs: Certs) -> None:
    """`make run` with the TLS variables: the services, the launcher's health checks, the
    demo loader and the gateway's fan-out all over mutual TLS; the ready text says https and
    shows buf curl with the CA and client certificate; the dashboard answers HTTPS."""
    d = certs.dir
    tls = {
        "NETNET_TLS_CERT": str(d / "server.pem"),
        "NETNET_TLS_KEY": str(d / "server.key"),
        "NETNET_TLS_CA": str(d / "ca.pem"),
        "NETNET_TLS_CLIENT_CA": str(d / "ca.pem"),
        "NETNET_TLS_CLIENT_CERT": str(d / "client-admin.pem"),
        "NETNET_TLS_CLIENT_KEY": str(d / "client-admin.key"),
    }
    stack = start_make_run(certs.dir.parent, more=tls)
    try:
        text = wait_for(stack, "Press Ctrl-C to stop.")
        dashboard = stack.env["NETNET_GATEWAY_HTTP_ADDR"]
        page = _https_get(f"https://{dashboard}/login", d / "ca.pem")
    finally:
        code = ctrl_c(stack) if stack.process.poll() is None else stack.process.returncode
    assert "running over TLS" in text
    assert "sources: accounts ok, sites ok, cases ok" in text, text
    assert f"Dashboard: https://{dashboard}/" in text
    assert f"--cacert {d / 'ca.pem'} --cert {d / 'client-admin.pem'}" in text
    assert f"https://{stack.env['NETNET_GATEWAY_ADDR']}/" in text
    assert page[0] == 200
    assert code in (0, -2), stack.text()  # make ends by the SIGINT, after a clean stop
    assert "all stopped" in stack.text()


async def test_a_list_of_addresses_and_a_named_server_verify_the_certificate(
    serve: Serve, certs: Certs
) -> None:
    """A target listing replicas (ipv4:A:P,B:P) is checked against its first address;
    NETNET_TLS_SERVER_NAME names the host the certificate must bear instead of the dialed one."""
    cases: RunningServer = await serve(CASES, tls=certs.server())
    port = cases.port
    trust = certs.client(cert=False)
    listed = open_channel(f"ipv4:127.0.0.1:{port},127.0.0.1:{port}", tls=trust)
    named = ClientTLS.from_env({"NETNET_TLS_CA": trust.ca, "NETNET_TLS_SERVER_NAME": "cases"})
    by_name = open_channel(f"127.0.0.1:{port}", tls=named)
    for channel in (listed, by_name):
        assert await health(channel) == health_pb2.HealthCheckResponse.SERVING
        await channel.close()
    elsewhere = replace(named, server_name="elsewhere.example")
    wrong = open_channel(f"127.0.0.1:{port}", tls=elsewhere)
    assert await refused(wrong) == grpc.StatusCode.UNAVAILABLE
