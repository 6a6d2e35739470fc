"""Transport security as every Net Net client sets it up: the one place that builds channel
credentials (TLS trusting NETNET_TLS_CA, with NETNET_TLS_CLIENT_CERT/KEY for mutual TLS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

CA_VAR = "NETNET_TLS_CA"
CLIENT_CERT_VAR = "NETNET_TLS_CLIENT_CERT"
CLIENT_KEY_VAR = "NETNET_TLS_CLIENT_KEY"
SERVER_NAME_VAR = "NETNET_TLS_SERVER_NAME"


class TLSConfigError(ValueError):
    """A TLS variable or option names a file that cannot be used; the message names it."""


@dataclass(frozen=True)
class ClientTLS:
    """How a client secures its channels. Off: plaintext. On: TLS trusting `ca` (a PEM file
    of CA certificates; empty: the system's roots), presenting `cert`/`key` (PEM files) to a
    server that asks for a client certificate (mutual TLS). The server's certificate must
    name the host dialed, or server_name when given."""

    enabled: bool = False
    ca: str = ""
    cert: str = ""
    key: str = ""
    server_name: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientTLS:
        """On when NETNET_TLS_CA or NETNET_TLS_CLIENT_CERT is set; plaintext otherwise."""
        env = os.environ if env is None else env
        tls = cls.of(env.get(CA_VAR, ""), env.get(CLIENT_CERT_VAR, ""), env.get(CLIENT_KEY_VAR, ""))
        return replace(tls, server_name=env.get(SERVER_NAME_VAR, ""))

    @classmethod
    def of(
        cls,
        ca: str = "",
        cert: str = "",
        key: str = "",
        *,
        names: tuple[str, str, str] = (CA_VAR, CLIENT_CERT_VAR, CLIENT_KEY_VAR),
    ) -> ClientTLS:
        """From file paths (any may be empty); names say where each came from, for errors."""
        if bool(cert) != bool(key):
            raise TLSConfigError(f"{names[1]} and {names[2]} go together: set both or neither")
        return cls(bool(ca or cert), ca, cert, key)

    def on(self) -> ClientTLS:
        """The same trust and certificate, with TLS on even when nothing was named (the
        system's roots): for a client of a server known to serve TLS."""
        return replace(self, enabled=True)

    def options(self, target: str) -> list[tuple[str, str]]:
        """Channel options: the name the server's certificate must bear, where it is not the
        target's host: server_name, or for a list of addresses (ipv4:A:P,B:P, whose authority
        grpc takes whole) the first one's."""
        if not self.enabled:
            return []
        name = self.server_name or _first_listed_host(target)
        return [("grpc.ssl_target_name_override", name)] if name else []

    def credentials(self) -> grpc.ChannelCredentials | None:
        """grpc's channel credentials, or None for plaintext. The files are read now: a
        channel keeps what it read (a renewed client certificate is used by new channels)."""
        if not self.enabled:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca, CA_VAR) if self.ca else None,
            private_key=_read(self.key, CLIENT_KEY_VAR) if self.key else None,
            certificate_chain=_read(self.cert, CLIENT_CERT_VAR) if self.cert else None,
        )

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"


PLAINTEXT = ClientTLS()


def _first_listed_host(target: str) -> str:
    scheme, _, addrs = target.partition(":")
    if scheme not in ("ipv4", "ipv6") or "," not in addrs:
        return ""
    return addrs.split(",", 1)[0].rpartition(":")[0].strip("[]")


def _read(path: str, name: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise TLSConfigError(f"{name}={path!r}: cannot read: {e.strerror or e}") from None
    if b"-----BEGIN" not in data:
        raise TLSConfigError(f"{name}={path!r}: not a PEM file")
    return data


def sync_channel(target: str, tls: ClientTLS | None = None) -> grpc.Channel:
    """A blocking channel (health checks, scripts) with the same transport as open_channel."""
    tls = ClientTLS.from_env() if tls is None else tls
    creds = tls.credentials()
    if creds is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, creds, options=tls.options(target))
