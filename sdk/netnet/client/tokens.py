"""Bearer tokens as the servers expect them: EdDSA (Ed25519) JWTs signed with the issuer's
private key and checked against a public key set (JWKS) that names each key by its kid.

Ed25519 rather than ES256: 32-byte keys, deterministic signatures (no per-signature random
number to get wrong) and fast verification, which every call pays. The private key stays
with the issuer (`netnet token issue`, `make run`); the servers hold only the public set."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
ISSUER = "netnet"
AUDIENCE = "netnet"
ROLES = ("operator", "analyst", "admin", "auditor", "service")
DEPARTMENT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# A token for a person lives a working day; a token for a process (only the service role)
# a month, and is issued again before it runs out (make run issues the gateway's at start).
PERSON_TTL_SECONDS = 8 * 3600
SERVICE_TTL_SECONDS = 30 * 86400
PUBLIC_KEYS_NAME = "public-keys.json"  # beside the private key, unless named otherwise
LEGACY_SECRET = re.compile(rb"[0-9a-f]{64}")  # what signing.key held when tokens were HS256


def default_ttl(roles: Iterable[str]) -> int:
    """A token's life when none is asked for: a service's only when it is a service's alone."""
    return SERVICE_TTL_SECONDS if set(roles) == {"service"} else PERSON_TTL_SECONDS


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(public: Ed25519PublicKey) -> str:
    """The key's id: its RFC 7638 thumbprint (the same key has the same kid everywhere)."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw(public))}, separators=(",", ":")
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())[:22]


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64(_raw(public)),
        "kid": kid_of(public),
        "alg": ALGORITHM,
        "use": "sig",
    }


def private_key_pem() -> bytes:
    """A new Ed25519 private key, PEM (PKCS#8)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """The issuer's key from its PEM; ValueError when it is not an Ed25519 private key (an
    old deployment's HS256 secret is not)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("not a PEM Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def read_private_key(path: Path) -> Ed25519PrivateKey:
    return load_private_key(path.read_bytes())


def public_keys_file(key_file: Path) -> Path:
    """The public key set's default place: beside the private key."""
    return key_file.with_name(PUBLIC_KEYS_NAME)


# --- the public key set (JWKS) -------------------------------------------------------------


def read_key_set(path: Path) -> list[dict[str, Any]]:
    """The set's keys; {"keys": []} when the file does not exist yet."""
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise ValueError(f"{path}: not a JWKS document (no 'keys' list)")
    return keys


def write_key_set(path: Path, keys: list[dict[str, Any]]) -> None:
    """Replace the set whole (written aside, then renamed): a reader sees the old set or the
    new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_text(json.dumps({"keys": keys}, indent=2) + "\n", encoding="utf-8")
    os.replace(aside, path)


def add_public_key(path: Path, private: Ed25519PrivateKey) -> str:
    """Put the key's public half in the set (once); its kid."""
    jwk = public_jwk(private.public_key())
    keys = read_key_set(path)
    if not any(k.get("kid") == jwk["kid"] for k in keys):
        write_key_set(path, [*keys, jwk])
    return jwk["kid"]


def _write_new(path: Path, data: bytes) -> bool:
    """Write a file (mode 0600) that must not exist yet; False when another process won.
    Processes that start together may race: written aside and linked in, one wins whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(aside, path)
        return True
    except FileExistsError:
        return False
    finally:
        aside.unlink()


def ensure_key_pair(key_file: Path, keys_file: Path | None = None) -> Ed25519PrivateKey:
    """The issuer's private key, made on first use, with its public half in the set
    (keys_file: default public-keys.json beside the key)."""
    if not key_file.exists():
        _write_new(key_file, private_key_pem())
    elif LEGACY_SECRET.fullmatch(key_file.read_bytes().strip()):
        # An HS256 secret from before: its tokens are refused now; a key pair takes its place.
        aside = key_file.with_name(f".{key_file.name}.{os.getpid()}")
        aside.write_bytes(private_key_pem())
        aside.chmod(0o600)
        os.replace(aside, key_file)
    private = read_private_key(key_file)
    add_public_key(keys_file or public_keys_file(key_file), private)
    return private


def rotate(key_file: Path, keys_file: Path | None = None) -> tuple[str, str]:
    """A new signing key: its public half joins the set first (so every server knows it
    before the first token it signs), then it replaces the private key. The old public key
    stays in the set, and its tokens verify, until it is removed. (old kid, new kid)."""
    keys_file = keys_file or public_keys_file(key_file)
    old = kid_of(read_private_key(key_file).public_key())
    pem = private_key_pem()
    new = add_public_key(keys_file, load_private_key(pem))
    aside = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(aside, key_file)
    return old, new


def remove_public_key(keys_file: Path, kid: str, signing_kid: str = "") -> bool:
    """Take a key out of the set: its tokens are refused from then on. Not the key that signs
    now (ValueError). False when the set has no such key."""
    if kid == signing_kid:
        raise ValueError(f"{kid} is the key that signs new tokens: rotate first")
    keys = read_key_set(keys_file)
    kept = [k for k in keys if k.get("kid") != kid]
    if len(kept) == len(keys):
        return False
    write_key_set(keys_file, kept)
    return True


# --- tokens --------------------------------------------------------------------------------


def issue_token(
    key: Ed25519PrivateKey | bytes,
    *,
    operator: str,
    department: str,
    roles: list[str],
    region: str = "",
    ttl_seconds: int | None = None,
) -> str:
    """A token naming an operator, a department, an optional region and roles, with a random
    id (jti) and the deployment's audience; key: the issuer's private key (or its PEM).
    ttl_seconds: default_ttl(roles) when not given."""
    if not operator:
        raise ValueError("an operator name is required")
    if not DEPARTMENT.match(department):
        raise ValueError(f"department {department!r} is not a department code")
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"roles must be among {', '.join(ROLES)}")
    private = load_private_key(key) if isinstance(key, bytes) else key
    ttl = default_ttl(roles) if ttl_seconds is None else ttl_seconds
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": operator,
        "dept": department,
        "region": region,
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(
        claims, private, algorithm=ALGORITHM, headers={"kid": kid_of(private.public_key())}
    )
