"""Settings for a process, read once from NETNET_* environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from netnet.client.config import DEFAULT_ADDRS  # the fixed default addresses (DESIGN §7)
from netnet.client.tls import PLAINTEXT, ClientTLS, TLSConfigError
from services.common import limits as limits_
from services.common import tls as tlsfiles
from services.common.reference import DEFAULT_CONFIG_DIR, Reference, load
from services.common.storage.postgres import redacted, split_url

DEFAULT_METRICS_PORTS = {"gateway": 9460, "accounts": 9461, "sites": 9462, "cases": 9463}
DEFAULT_HTTP_ADDR = "127.0.0.1:8080"  # the gateway's dashboard


class ConfigError(ValueError):
    """A NETNET_* variable holds a value the process cannot use."""


@dataclass(frozen=True)
class Settings:
    service: str
    addr: str
    data_dir: Path
    database_path: Path
    key_file: Path  # the issuer's private key: servers never read it (only its place is checked)
    public_keys_file: Path  # the public key set (JWKS) tokens are checked with
    audit_key_file: Path
    audit_checkpoint_dir: Path
    audit_checkpoint_seconds: float
    metrics_port: int
    log_format: str
    drain_seconds: float
    max_message_bytes: int
    sqlite_synchronous: str
    overdue_sweep_seconds: float
    handover_ack_seconds: float
    source_timeout_seconds: float
    watch_debounce_seconds: float
    reference: Reference  # departments and categories, read once at start
    # Where the campaigns' owner (the cases service) is asked about a record's campaign.
    cases_addr: str = DEFAULT_ADDRS["cases"]
    # PostgreSQL instead of the SQLite file at database_path: libpq's URL, and the schema
    # that holds this service's tables (see database()).
    database_url: str = ""
    database_schema: str = ""
    # The gateway's dashboard (HTTP): HOST:PORT, or "" when turned off.
    http_addr: str = ""
    # Limits per caller, per role (NETNET_LIMITS; see services/common/limits.py).
    limits: dict[str, limits_.RoleLimits] = field(default_factory=lambda: dict(limits_.DEFAULTS))
    # The server's TLS (None: plaintext), and the TLS of the process's own channels (the
    # gateway's to its sources, the dashboard's to the gateway, accounts' and sites' to cases).
    tls: tlsfiles.ServerTLS | None = None
    client_tls: ClientTLS = PLAINTEXT
    # How often a server reads the revocations again (the store's, or on the gateway, the
    # services'): a revoked token is refused everywhere within a few of these.
    revocation_refresh_seconds: float = 1.0
    # The gateway's own service token, to learn the revocations from the services.
    gateway_token_file: Path = Path(".netnet/gateway.token")


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _float(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def _addr(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name}={value!r} must look like HOST:PORT")
    return value


def service_addr(service: str, env: dict[str, str] | None = None) -> str:
    """The address a service listens on (and that clients dial)."""
    env = dict(os.environ) if env is None else env
    return _addr(env, f"NETNET_{service.upper()}_ADDR", DEFAULT_ADDRS[service])


def http_addr(env: dict[str, str] | None = None) -> str:
    """Where the gateway serves its dashboard: HOST:PORT, or "" when NETNET_GATEWAY_HTTP_ADDR
    is 0 (turned off)."""
    env = dict(os.environ) if env is None else env
    if env.get("NETNET_GATEWAY_HTTP_ADDR") == "0":
        return ""
    return _addr(env, "NETNET_GATEWAY_HTTP_ADDR", DEFAULT_HTTP_ADDR)


def data_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("NETNET_DATA_DIR") or ".netnet")


def key_file(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("NETNET_KEY_FILE") or data_dir(env) / "signing.key")


def public_keys_file(env: dict[str, str] | None = None) -> Path:
    """The public key set the servers check tokens with: beside the private key unless named."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("NETNET_PUBLIC_KEYS_FILE") or key_file(env).with_name("public-keys.json"))


def gateway_token_file(env: dict[str, str] | None = None) -> Path:
    """The gateway's service token (made by the issuer, beside its key unless named)."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("NETNET_GATEWAY_TOKEN_FILE") or key_file(env).with_name("gateway.token"))


def audit_key_file(env: dict[str, str] | None = None) -> Path:
    """The key the audit chain is keyed with: apart from the token signing key."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("NETNET_AUDIT_KEY_FILE") or data_dir(env) / "audit.key")


def audit_checkpoint_dir(env: dict[str, str] | None = None) -> Path:
    """Where each service appends signed checkpoints of its audit chain's head."""
    env = dict(os.environ) if env is None else env
    return Path(env.get("NETNET_AUDIT_CHECKPOINT_DIR") or data_dir(env))


def reference(env: dict[str, str] | None = None) -> Reference:
    """The deployment's reference data, from NETNET_CONFIG_DIR (default deploy/config)."""
    env = dict(os.environ) if env is None else env
    directory = Path(env.get("NETNET_CONFIG_DIR") or DEFAULT_CONFIG_DIR)
    try:
        return load(directory)
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"NETNET_CONFIG_DIR={str(directory)!r}: no usable reference data: {e}"
        ) from None


def server_tls(env: dict[str, str] | None = None) -> tlsfiles.ServerTLS | None:
    """NETNET_TLS_CERT and NETNET_TLS_KEY (PEM files): TLS; with NETNET_TLS_CLIENT_CA too,
    mutual TLS. The files are read and checked here: a bad one stops the process at start."""
    env = dict(os.environ) if env is None else env
    cert, key = env.get(tlsfiles.CERT_VAR, ""), env.get(tlsfiles.KEY_VAR, "")
    client_ca = env.get(tlsfiles.CLIENT_CA_VAR, "")
    if bool(cert) != bool(key):
        raise ConfigError(
            f"{tlsfiles.CERT_VAR} and {tlsfiles.KEY_VAR} go together: set both or neither"
        )
    if not cert:
        if client_ca:
            raise ConfigError(
                f"{tlsfiles.CLIENT_CA_VAR} asks for mutual TLS, which needs TLS: set "
                f"{tlsfiles.CERT_VAR} and {tlsfiles.KEY_VAR} too"
            )
        return None
    tls = tlsfiles.ServerTLS(Path(cert), Path(key), Path(client_ca) if client_ca else None)
    try:
        tlsfiles.load(tls)
    except tlsfiles.TLSError as e:
        raise ConfigError(f"{tlsfiles.CERT_VAR}/{tlsfiles.KEY_VAR}: {e}") from None
    return tls


def client_tls(env: dict[str, str] | None = None) -> ClientTLS:
    """The TLS of the process's own channels: NETNET_TLS_CA, NETNET_TLS_CLIENT_CERT/KEY."""
    try:
        return ClientTLS.from_env(dict(os.environ) if env is None else env)
    except TLSConfigError as e:
        raise ConfigError(str(e)) from None


def own_port_tls(tls: tlsfiles.ServerTLS | None, client: ClientTLS) -> ClientTLS:
    """How a process dials its own port (the dashboard, the health check): TLS as it serves,
    trusting NETNET_TLS_CA (the system's roots without it), with its client certificate."""
    return client.on() if tls is not None else PLAINTEXT


def refuse_plaintext(listening: dict[str, str], env: dict[str, str]) -> None:
    """A server without TLS listens on loopback only, unless NETNET_ALLOW_PLAINTEXT=1: calls
    carry bearer tokens, which must not cross a network in the clear."""
    if env.get(tlsfiles.ALLOW_PLAINTEXT_VAR, "") in ("1", "true", "yes"):
        return
    for name, addr in listening.items():
        if addr and not tlsfiles.is_loopback(addr):
            raise ConfigError(
                f"{name}={addr!r} listens beyond loopback without TLS, where bearer tokens "
                f"would cross the network in the clear: set {tlsfiles.CERT_VAR} and "
                f"{tlsfiles.KEY_VAR} (PEM files; `netnet certs dev DIR` writes dev ones), or "
                f"{tlsfiles.ALLOW_PLAINTEXT_VAR}=1 to serve plaintext on a network you trust"
            )


_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def database(service: str, db: str) -> tuple[str, str]:
    """(PostgreSQL URL, schema) of a NETNET_DATABASE_URL, or ("", "") for SQLite. One
    database holds every service, each in a schema of its own: the service's name, unless
    the URL's `schema` parameter names another (a second deployment in the same database)."""
    if not db or db.startswith("sqlite:///"):
        return "", ""
    if not db.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"NETNET_DATABASE_URL={redacted(db)!r}: expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DATABASE"
        )
    url, schema = split_url(db)
    schema = schema or service
    if not _SCHEMA.fullmatch(schema):
        raise ConfigError(
            f"NETNET_DATABASE_URL: schema {schema!r} must be a lower-case SQL name "
            "(letters, digits, _; at most 63)"
        )
    return url, schema


def limits(env: dict[str, str] | None = None) -> dict[str, limits_.RoleLimits]:
    """Limits per caller, per role: the defaults, with what NETNET_LIMITS (JSON) changes."""
    env = dict(os.environ) if env is None else env
    try:
        return limits_.parse(env.get(limits_.VARIABLE) or "")
    except ValueError as e:
        raise ConfigError(f"{limits_.VARIABLE}: {e}") from None


def load_settings(service: str, env: dict[str, str] | None = None) -> Settings:
    """Parse the environment; raise ConfigError naming the variable on a bad value."""
    env = dict(os.environ) if env is None else env
    directory = data_dir(env)
    if audit_key_file(env).absolute() == key_file(env).absolute():
        raise ConfigError(
            "NETNET_AUDIT_KEY_FILE must not be the token signing key (NETNET_KEY_FILE): "
            "whoever can issue tokens could then rewrite the audit chain"
        )
    db = env.get("NETNET_DATABASE_URL") or ""
    url, schema = database(service, db)
    addr = service_addr(service, env)
    dashboard = http_addr(env) if service == "gateway" else ""
    tls = server_tls(env)
    if tls is None:
        refuse_plaintext(
            {f"NETNET_{service.upper()}_ADDR": addr, "NETNET_GATEWAY_HTTP_ADDR": dashboard}, env
        )
    own_tls = client_tls(env)
    if dashboard and tls is not None and tls.client_ca is not None and not own_tls.cert:
        raise ConfigError(
            "the dashboard reads through the gateway's own port, which asks for a client "
            f"certificate ({tlsfiles.CLIENT_CA_VAR} is set): set NETNET_TLS_CLIENT_CERT and "
            "NETNET_TLS_CLIENT_KEY, or NETNET_GATEWAY_HTTP_ADDR=0"
        )
    return Settings(
        service=service,
        addr=addr,
        data_dir=directory,
        database_path=(
            Path(db.removeprefix("sqlite:///"))
            if db.startswith("sqlite:///")
            else directory / f"{service}.db"
        ),
        key_file=key_file(env),
        public_keys_file=public_keys_file(env),
        audit_key_file=audit_key_file(env),
        audit_checkpoint_dir=audit_checkpoint_dir(env),
        audit_checkpoint_seconds=_float(
            env, "NETNET_AUDIT_CHECKPOINT_SECONDS", 60.0, 0.01, 86400.0
        ),
        metrics_port=_int(
            env, f"NETNET_{service.upper()}_METRICS_PORT", DEFAULT_METRICS_PORTS[service], 0, 65535
        ),
        log_format=_choice(env, "NETNET_LOG_FORMAT", "json", ("json", "console")),
        drain_seconds=_float(env, "NETNET_DRAIN_SECONDS", 10.0, 0.0, 600.0),
        max_message_bytes=_int(env, "NETNET_MAX_MESSAGE_BYTES", 16 * 1024 * 1024, 1024, 1 << 30),
        sqlite_synchronous=_choice(env, "NETNET_SQLITE_SYNCHRONOUS", "NORMAL", ("NORMAL", "FULL")),
        overdue_sweep_seconds=_float(env, "NETNET_OVERDUE_SWEEP_SECONDS", 60.0, 0.01, 86400.0),
        source_timeout_seconds=_float(
            env, "NETNET_GATEWAY_SOURCE_TIMEOUT_SECONDS", 2.0, 0.01, 60.0
        ),
        watch_debounce_seconds=_float(env, "NETNET_GATEWAY_DEBOUNCE_SECONDS", 0.5, 0.0, 60.0),
        handover_ack_seconds=_float(
            env, "NETNET_HANDOVER_ACK_SECONDS", 3 * 86400.0, 1.0, 365 * 86400.0
        ),
        reference=reference(env),
        cases_addr=service_addr("cases", env),
        database_url=url,
        database_schema=schema,
        limits=limits(env),
        http_addr=dashboard,
        tls=tls,
        client_tls=own_tls,
        revocation_refresh_seconds=_float(
            env, "NETNET_REVOCATION_REFRESH_SECONDS", 1.0, 0.05, 60.0
        ),
        gateway_token_file=gateway_token_file(env),
    )
