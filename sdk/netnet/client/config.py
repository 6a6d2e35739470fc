"""Where the services are and which token to use, from the same NETNET_* names as the servers."""

from __future__ import annotations

import os
from pathlib import Path

# The fixed default addresses (DESIGN §7): the one table, used by the servers' settings and
# the launcher as well as by the SDK and the CLI.
DEFAULT_ADDRS = {
    "gateway": "127.0.0.1:50050",
    "accounts": "127.0.0.1:50051",
    "sites": "127.0.0.1:50052",
    "cases": "127.0.0.1:50053",
}


def address(service: str) -> str:
    return os.environ.get(f"NETNET_{service.upper()}_ADDR") or DEFAULT_ADDRS[service]


def token_file() -> Path:
    return Path(os.environ.get("NETNET_DATA_DIR") or ".netnet") / "admin.token"


def token() -> str:
    """NETNET_TOKEN, else the token file that `make run` writes; empty when there is none."""
    return find_token()[0]


def find_token() -> tuple[str, str]:
    """The token and where it was found: NETNET_TOKEN, else the token file that `make run`
    writes (NETNET_DATA_DIR/admin.token); the second part says where, or, when no token was
    found, where it was looked for."""
    value = os.environ.get("NETNET_TOKEN", "").strip()
    if value:
        return value, "the token from NETNET_TOKEN"
    path = token_file().absolute()
    try:
        value = path.read_text().strip()
    except OSError:
        value = ""
    if value:
        return value, f"the token from the file {path}"
    return "", f"no token found: NETNET_TOKEN is not set and there is no token in {path}"
