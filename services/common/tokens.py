"""`python -m services.common.tokens ARGS` is `netnet token issue ARGS` on this deployment's key.

The issuer's private key (NETNET_KEY_FILE, or signing.key under NETNET_DATA_DIR) is made on
first use, as `make run` makes it, with its public half in the set the servers read
(NETNET_PUBLIC_KEYS_FILE); a department must be one of the deployment's reference data."""

from __future__ import annotations

import argparse
import sys

from netnet.cli.app import USAGE, app
from netnet.client.tokens import ensure_key_pair
from services.common.config import ConfigError, key_file, public_keys_file, reference


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--department", default="")
    department = parser.parse_known_args(args)[0].department
    try:
        known = reference().departments
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE
    if department and department not in known:
        print(f"error: unknown department {department!r}", file=sys.stderr)
        return USAGE
    path = key_file()
    ensure_key_pair(path, public_keys_file())
    try:
        app(["token", "issue", "--key-file", str(path), *args], prog_name="netnet")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else USAGE if done.code else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
