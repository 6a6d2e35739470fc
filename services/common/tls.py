"""A server's TLS: its certificate files, re-read when they change, as grpc's dynamic server
credentials and as the dashboard's ssl context; and the refusal of plaintext off loopback."""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization

log = structlog.get_logger()

CERT_VAR, KEY_VAR, CLIENT_CA_VAR = "NETNET_TLS_CERT", "NETNET_TLS_KEY", "NETNET_TLS_CLIENT_CA"
ALLOW_PLAINTEXT_VAR = "NETNET_ALLOW_PLAINTEXT"


class TLSError(ValueError):
    """Certificate files that cannot be served; the message names the file."""


@dataclass(frozen=True)
class ServerTLS:
    """A server's certificate chain and key (PEM files); with client_ca, mutual TLS: only
    clients presenting a certificate signed by one of its CAs complete the handshake."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.cert, self.key, *([self.client_ca] if self.client_ca else []))


@dataclass(frozen=True)
class Material:
    """The files' contents, checked to belong together."""

    cert: bytes
    key: bytes
    client_ca: bytes | None
    serial: int  # the leaf certificate's, for the log


Stamp = tuple[tuple[int, int, int], ...]


def stamp(tls: ServerTLS) -> Stamp:
    """What changes when a file is rewritten or replaced (a renewal, a symlink swapped)."""
    stats = [os.stat(f) for f in tls.files]
    return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats)


def load(tls: ServerTLS) -> Material:
    """Read and check the files: PEM, a key that matches the leaf certificate, a CA bundle
    that parses. Raises TLSError naming the file (a renewal half written fails here)."""

    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as e:
            raise TLSError(f"{path}: cannot read: {e.strerror or e}") from None

    cert_pem, key_pem = read(tls.cert), read(tls.key)
    ca_pem = read(tls.client_ca) if tls.client_ca else None
    try:
        leaf = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as e:
        raise TLSError(f"{tls.cert}: not a PEM certificate ({e})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise TLSError(f"{tls.key}: not an unencrypted PEM private key ({e})") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != leaf.public_key().public_bytes(der, spki):
        raise TLSError(f"{tls.key} is not the key of the certificate in {tls.cert}")
    if ca_pem is not None:
        try:
            x509.load_pem_x509_certificates(ca_pem)
        except ValueError as e:
            raise TLSError(f"{tls.client_ca}: not PEM CA certificates ({e})") from None
    return Material(cert_pem, key_pem, ca_pem, leaf.serial_number)


class CertificateFiles:
    """The files as last read, re-read when their stamp moves. A change that does not load
    (a renewal written halfway, a key that does not match) keeps what was served before,
    with a warning, until the files change again. Shared by the gRPC server and the
    dashboard: each asks for the current material and compares it with what it serves."""

    def __init__(self, tls: ServerTLS) -> None:
        self.tls = tls
        self._lock = threading.Lock()  # grpc calls the fetcher from its own threads
        self._seen = stamp(tls)
        self.material = load(tls)  # at start, a file that does not load stops the process

    def current(self) -> Material:
        """The material of the files as they are now (re-read only when they changed)."""
        with self._lock:
            try:
                now = stamp(self.tls)
            except OSError as e:
                if self._seen != ():
                    log.warning("tls files unreadable; serving the previous ones", error=str(e))
                self._seen = ()
                return self.material
            if now == self._seen:
                return self.material
            self._seen = now
            try:
                material = load(self.tls)
            except TLSError as e:
                log.warning(
                    "tls files changed but do not load; serving the previous ones", error=str(e)
                )
                return self.material
            if material != self.material:
                self.material = material
                log.info(
                    "tls certificate reloaded", cert=str(self.tls.cert), serial=material.serial
                )
            return self.material


def _configuration(m: Material) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(m.key, m.cert)], m.client_ca)


def server_credentials(files: CertificateFiles) -> grpc.ServerCredentials:
    """grpc's dynamic credentials: each new connection's handshake asks for the files' current
    material, so a renewed certificate is served without a restart, and connections already
    open (with their calls in flight) keep theirs."""
    served = files.material

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        nonlocal served
        try:
            material = files.current()
        except Exception as e:  # never let a fetch fail a handshake: keep the current one
            log.warning("tls reload failed", error=str(e))
            return None
        if material is served:
            return None  # unchanged: grpc keeps what it has
        served = material
        return _configuration(material)

    return grpc.dynamic_ssl_server_credentials(
        _configuration(served),
        fetch,
        require_client_authentication=files.tls.client_ca is not None,
    )


def _context(m: Material) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reads files only: the checked material goes through a private copy.
    with tempfile.TemporaryDirectory() as d:
        cert, key = Path(d) / "cert.pem", Path(d) / "key.pem"
        cert.write_bytes(m.cert)
        key.touch(0o600)
        key.write_bytes(m.key)
        ctx.load_cert_chain(cert, key)
    if m.client_ca is not None:
        ctx.load_verify_locations(cadata=m.client_ca.decode())
        # A browser has no client certificate: asked for, not required (the dashboard's
        # sign-in still guards every page); one not signed by the client CA is refused.
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def ssl_context(files: CertificateFiles) -> ssl.SSLContext:
    """A server ssl context (the dashboard's HTTPS) on the same files: each new connection's
    handshake is moved to a context on the renewed files when they changed (connections
    already open keep theirs)."""
    served = files.material
    contexts = [_context(served)]

    def swap(sock: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        nonlocal served
        try:
            material = files.current()
            if material is not served:
                fresh = _context(material)
                fresh.sni_callback = swap
                contexts[0], served = fresh, material
        except Exception as e:
            log.warning("tls reload failed", error=str(e))
        if ctx is not contexts[0]:
            sock.context = contexts[0]

    contexts[0].sni_callback = swap
    return contexts[0]


def is_loopback(addr: str) -> bool:
    """Whether HOST:PORT listens on loopback only (127.0.0.0/8, ::1, localhost)."""
    host = addr.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name (or 0.0.0.0 / ::, handled above as addresses): not loopback
