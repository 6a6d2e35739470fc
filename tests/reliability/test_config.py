"""The real process refuses bad configuration plainly: exit code 2 and the variable's name for a
bad NETNET_* value, a one-line error and a non-zero exit for a port already in use."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from tests.reliability.support import run_service, service_env
from tests.support.servers import free_port


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NETNET_DRAIN_SECONDS", "abc"),
        ("NETNET_DRAIN_SECONDS", "-1"),
        ("NETNET_ACCOUNTS_ADDR", "nonsense"),
        ("NETNET_ACCOUNTS_ADDR", "127.0.0.1:99999"),
        ("NETNET_ACCOUNTS_METRICS_PORT", "http"),
        ("NETNET_MAX_MESSAGE_BYTES", "12"),
        ("NETNET_SQLITE_SYNCHRONOUS", "OFF"),
        ("NETNET_LOG_FORMAT", "xml"),
        ("NETNET_DATABASE_URL", "mysql://localhost/netnet"),
        ("NETNET_DATABASE_URL", "postgresql://localhost/netnet?schema=Not-A-Name"),
        ("NETNET_AUDIT_CHECKPOINT_SECONDS", "0"),
    ],
)
def test_bad_setting_exits_2_naming_the_variable(data_dir: Path, variable: str, value: str) -> None:
    env = service_env(data_dir, free_port(), **{variable: value})
    result = run_service(env)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert variable in result.stderr, result.stderr
    assert "configuration error" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not data_dir.exists(), "a refused configuration still touched the data directory"


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1:99999", "8080"])
def test_a_bad_dashboard_address_stops_the_gateway_naming_it(data_dir: Path, value: str) -> None:
    env = service_env(data_dir, free_port(), "gateway", NETNET_GATEWAY_HTTP_ADDR=value)
    result = run_service(env, service="gateway")
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "gateway: configuration error: NETNET_GATEWAY_HTTP_ADDR" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_dashboard_port_in_use_is_a_plain_error(data_dir: Path) -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        env = service_env(
            data_dir, free_port(), "gateway", NETNET_GATEWAY_HTTP_ADDR=f"127.0.0.1:{port}"
        )
        result = run_service(env, service="gateway")
    assert result.returncode == 1, (result.returncode, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"gateway: cannot start: cannot serve the dashboard on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr, result.stderr


def test_the_audit_key_cannot_be_the_token_key(data_dir: Path) -> None:
    key = str(data_dir / "one.key")
    env = service_env(data_dir, free_port(), NETNET_KEY_FILE=key, NETNET_AUDIT_KEY_FILE=key)
    result = run_service(env)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "NETNET_AUDIT_KEY_FILE must not be the token signing key" in result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize("service", ["accounts", "gateway"])
def test_no_public_key_set_is_a_plain_error(data_dir: Path, service: str) -> None:
    """A server starts only with the public key set (it never makes keys: the issuer does)."""
    missing = data_dir / "nowhere" / "public-keys.json"
    env = service_env(data_dir, free_port(), service, NETNET_PUBLIC_KEYS_FILE=str(missing))
    result = run_service(env, service=service)
    assert result.returncode == 1, (result.returncode, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{service}: cannot start: no usable public key set at {missing}")
    assert "NETNET_PUBLIC_KEYS_FILE" in last and "Traceback" not in result.stderr
    assert not (data_dir / "signing.key").exists()


def _listening() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_grpc_port_in_use_is_a_plain_error(data_dir: Path) -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        result = run_service(service_env(data_dir, port))
    assert result.returncode not in (0, 2), (result.returncode, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"accounts: cannot start: cannot listen on 127.0.0.1:{port}", result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not (data_dir / "accounts.db").exists()


def test_a_database_server_that_does_not_answer_is_a_plain_error(data_dir: Path) -> None:
    with _listening() as taken:  # a port nothing speaks PostgreSQL on
        port = taken.getsockname()[1]
    url = f"postgresql://netnet:secret@127.0.0.1:{port}/netnet"
    result = run_service(service_env(data_dir, free_port(), NETNET_DATABASE_URL=url))
    assert result.returncode == 1, (result.returncode, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("accounts: cannot start: the database at postgresql://netnet:***@"), last
    assert "secret" not in result.stderr  # the password is never written out
    assert "Traceback" not in result.stderr, result.stderr


def test_metrics_port_in_use_is_a_plain_error_and_no_hang(data_dir: Path) -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        env = service_env(data_dir, free_port(), NETNET_ACCOUNTS_METRICS_PORT=str(port))
        result = run_service(env, timeout=30)  # raises TimeoutExpired if the process hangs
    assert result.returncode not in (0, 2), (result.returncode, result.stderr)
    assert f"127.0.0.1:{port}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_database_locked_at_start_is_a_plain_error_and_no_hang(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    locker = sqlite3.connect(data_dir / "accounts.db", isolation_level=None)
    try:
        locker.execute("PRAGMA journal_mode=WAL")
        locker.execute("BEGIN IMMEDIATE")  # held past the server's busy timeout (10 s)
        result = run_service(service_env(data_dir, free_port()), timeout=40)
    finally:
        locker.close()
    assert result.returncode not in (0, 2), (result.returncode, result.stderr)
    assert result.stderr.strip().endswith("cannot start: database is locked"), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
