"""The README's configuration table names every NETNET_* variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"NETNET_[A-Z][A-Z_]*[A-Z]")
SERVICES = ("GATEWAY", "ACCOUNTS", "SITES", "CASES")


def _read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("services", "gateway", "deploy", "sdk/netnet/client", "sdk/netnet/cli"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(NAME.findall(path.read_text(encoding="utf-8")))
    return names


def _in_the_table() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in table.splitlines():
        match = re.match(r"\| `(NETNET_[A-Z<>_]+)` \|", line)
        if match:
            name = match.group(1)
            names |= {name.replace("<SERVICE>", s) for s in SERVICES}
    return names


def test_every_variable_is_in_the_configuration_table() -> None:
    read = _read_by_the_code()
    assert "NETNET_DEMO_SCALE" in read and "NETNET_TOKEN" in read  # the scan sees the code
    assert read - _in_the_table() == set()
