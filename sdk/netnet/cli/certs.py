"""`netnet certs dev DIR`: a development CA and the certificates a TLS deployment uses — one
server certificate for every process, a client certificate for each process as a client
and one for the CLI. Not for production: the CA's key sits beside what it signed."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICES = ("accounts", "sites", "cases", "gateway")
# The names a server is dialled by: loopback (make run), the compose file's services, the
# replicas of its postgres profile (dns:///<service>-pg) and its tls profile.
SERVER_NAMES = (
    "localhost",
    "127.0.0.1",
    "::1",
    *SERVICES,
    *(f"{s}-pg" for s in SERVICES),
    *(f"{s}-tls" for s in SERVICES),
)
# Client certificates: each process as a client (the gateway of its sources and of its own
# port for the dashboard, accounts and sites of cases, each of itself for its health check),
# and the CLI's (an administrator's workstation).
CLIENTS = (*SERVICES, "admin")
DAYS = 365


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Net Net (development)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(days: int) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    return now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)


def new_ca(common_name: str = "Net Net development CA", days: int = DAYS) -> Issuer:
    key = _key()
    start, end = _validity(days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(cert, key)


def issue(
    ca: Issuer,
    common_name: str,
    *,
    server_names: tuple[str, ...] = (),
    client: bool = False,
    days: int = DAYS,
) -> Issuer:
    """A leaf certificate: a server's (server_names: its DNS names and IP addresses) or a
    client's."""
    key = _key()
    start, end = _validity(days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if server_names:
        sans: list[x509.GeneralName] = []
        for name in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Issuer(builder.sign(ca.key, hashes.SHA256()), key)


def write(issuer: Issuer, directory: Path, stem: str) -> tuple[Path, Path]:
    """STEM.pem (the certificate) and STEM.key (its key, mode 0600, written as such)."""
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    key_pem = issuer.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key never exists with wider rights, not even for a moment: a new file at 0600.
    tmp = key_path.with_suffix(".key.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    os.replace(tmp, key_path)
    cert_tmp = cert_path.with_suffix(".pem.tmp")
    cert_tmp.write_bytes(issuer.cert.public_bytes(serialization.Encoding.PEM))
    os.replace(cert_tmp, cert_path)
    return cert_path, key_path


def load_ca(directory: Path) -> Issuer | None:
    cert, key = directory / "ca.pem", directory / "ca.key"
    if not (cert.exists() and key.exists()):
        return None
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey), f"{key}: not an EC key"
    return Issuer(x509.load_pem_x509_certificate(cert.read_bytes()), loaded)


def write_dev_certs(directory: Path, days: int = DAYS, new: bool = False) -> dict[str, Path]:
    """The CA (kept when DIR has one, unless new: re-running renews the leaves and every
    client still trusts them), server.pem for every process and client-NAME.pem for each of
    CLIENTS. Returns what each file is, by name."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca = None if new else load_ca(directory)
    if ca is None:
        ca = new_ca(days=max(days, DAYS))
        write(ca, directory, "ca")
    files = {"ca": directory / "ca.pem", "ca_key": directory / "ca.key"}
    server = issue(ca, "netnet-server", server_names=SERVER_NAMES, days=days)
    files["server"], files["server_key"] = write(server, directory, "server")
    for name in CLIENTS:
        client = issue(ca, f"netnet-{name}", client=True, days=days)
        files[f"client-{name}"], files[f"client-{name}_key"] = write(
            client, directory, f"client-{name}"
        )
    return files


certs_app = typer.Typer(help="Certificates for TLS.", no_args_is_help=True)


@certs_app.command("dev")
def dev(
    directory: Annotated[Path, typer.Argument(help="Where to write them (made if missing).")],
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days the leaves are valid.")] = DAYS,
    new_ca: Annotated[
        bool, typer.Option("--new-ca", help="A new CA even when DIR has one.")
    ] = False,
) -> None:
    """Write a development CA and certificates to DIR (keys mode 0600). Run again to renew
    them: the CA is kept, so clients trusting it keep working and running servers pick up
    the new certificate without a restart."""
    kept = not new_ca and load_ca(directory) is not None
    files = write_dev_certs(directory, days, new_ca)
    d = directory
    typer.echo(
        f"""{"kept the CA in" if kept else "new CA:"} {files["ca"]}
server certificate for {", ".join(SERVER_NAMES)}:
  {files["server"]}  {files["server_key"]}
client certificates (signed by the same CA): {", ".join(f"client-{c}" for c in CLIENTS)}

Serve TLS (mutual TLS with the last line), in each process's environment:
  export NETNET_TLS_CERT={d}/server.pem NETNET_TLS_KEY={d}/server.key
  export NETNET_TLS_CA={d}/ca.pem
  export NETNET_TLS_CLIENT_CA={d}/ca.pem \\
    NETNET_TLS_CLIENT_CERT={d}/client-admin.pem NETNET_TLS_CLIENT_KEY={d}/client-admin.key"""
    )
