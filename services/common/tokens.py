"""Issue a bearer token from the deployment key: python -m services.common.tokens --help."""

from __future__ import annotations

import argparse
import sys

from services.common.auth import ensure_key, issue_token
from services.common.config import key_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Issue a Net Net bearer token.")
    parser.add_argument("--operator", required=True)
    parser.add_argument("--department", required=True)
    parser.add_argument(
        "--role",
        action="append",
        dest="roles",
        required=True,
        help="operator, analyst, admin, auditor or service (repeatable)",
    )
    parser.add_argument("--region", default="")
    parser.add_argument("--ttl", type=int, default=86400, help="seconds (default a day)")
    args = parser.parse_args(argv)
    try:
        token = issue_token(
            ensure_key(key_file()),
            operator=args.operator,
            department=args.department,
            roles=args.roles,
            region=args.region,
            ttl_seconds=args.ttl,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
