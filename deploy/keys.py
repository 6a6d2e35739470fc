"""`python -m deploy.keys`: the issuer's one-shot step before the servers start (the compose
stack's `keys` service): the Ed25519 key pair on first start, the public key set the servers
read, and the gateway's service token, issued again at every start."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from netnet.client.tokens import ensure_key_pair, kid_of
from services.common.auth import issue_token
from services.common.config import gateway_token_file, key_file, public_keys_file


def write_token(path: Path, token: str) -> Path:
    """A token file (owner-only), replaced whole: a server reading it again when it changes
    never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_text(token + "\n")
    aside.chmod(0o600)
    os.replace(aside, path)
    return path


def main() -> int:
    key = ensure_key_pair(key_file(), public_keys_file())
    write_token(
        gateway_token_file(),
        issue_token(key, operator="gateway", department="office", roles=["service"]),
    )
    print(
        f"signing key {kid_of(key.public_key())}; public key set {public_keys_file()}; "
        f"gateway token {gateway_token_file()}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
