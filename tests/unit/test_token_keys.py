"""Tokens checked against the public key set: EdDSA only, by kid, a changed set picked up
without a restart, a removed key's tokens refused, revocations refused from memory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netnet.client import tokens
from services.common import audit
from services.common.auth import KeySet, KeySetError, Revocations, Verifier
from services.common.errors import Unauthenticated

DEPARTMENTS = ("cac", "office")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "signing.key"
    tokens.ensure_key_pair(path)
    return path


def verifier(key_file: Path) -> Verifier:
    # Looked at on every call here (servers: at most once a second).
    return Verifier(KeySet(tokens.public_keys_file(key_file), check_seconds=0), DEPARTMENTS)


def issue(key_file: Path, **kw: object) -> str:
    args: dict[str, object] = {"operator": "ann", "department": "cac", "roles": ["operator"]}
    return tokens.issue_token(tokens.read_private_key(key_file), **{**args, **kw})  # type: ignore[arg-type]


def refused(v: Verifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as e:
        v.verify(token)
    assert token not in e.value.message  # an error never holds the token
    return e.value


def changed(path: Path) -> None:
    """Some file systems keep the mtime within a tick: make the change visible."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_a_token_names_its_key_its_audience_and_its_own_id(key_file: Path) -> None:
    token = issue(key_file)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == tokens.kid_of(tokens.read_private_key(key_file).public_key())
    p = verifier(key_file).verify(token)
    assert (p.operator, p.department, p.roles) == ("ann", "cac", frozenset({"operator"}))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "netnet" and p.token_id == claims["jti"]
    assert (
        issue(key_file) != token
        and jwt.decode(issue(key_file), options={"verify_signature": False})["jti"] != p.token_id
    )


def test_default_lives_a_person_eight_hours_a_service_thirty_days(key_file: Path) -> None:
    def life(token: str) -> int:
        c = jwt.decode(token, options={"verify_signature": False})
        return int(c["exp"]) - int(c["iat"])

    assert life(issue(key_file)) == 8 * 3600
    assert life(issue(key_file, roles=["service", "admin"])) == 8 * 3600
    assert life(issue(key_file, roles=["service"])) == 30 * 86400
    assert life(issue(key_file, ttl_seconds=60)) == 60


def test_hs256_none_and_unknown_kid_are_refused(key_file: Path) -> None:
    v = verifier(key_file)
    claims = jwt.decode(issue(key_file), options={"verify_signature": False})
    hs256 = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    assert refused(v, hs256).reason == "TOKEN_INVALID"
    # HS256 under the public key's own bytes (the classic confusion): refused all the same.
    x = tokens.public_jwk(tokens.read_private_key(key_file).public_key())["x"].encode()
    kid = tokens.kid_of(tokens.read_private_key(key_file).public_key())
    confused = jwt.encode(claims, x * 2, algorithm="HS256", headers={"kid": kid})
    assert refused(v, confused).reason == "TOKEN_INVALID"
    stranger = tokens.issue_token(
        Ed25519PrivateKey.generate(), operator="x", department="cac", roles=["admin"]
    )
    assert "not in the public key set" in refused(v, stranger).message
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert refused(v, unsigned).reason == "TOKEN_INVALID"


def test_rotation_is_picked_up_and_the_old_key_verifies_until_removed(key_file: Path) -> None:
    keys = tokens.public_keys_file(key_file)
    v = verifier(key_file)
    before = issue(key_file)
    v.verify(before)
    old, new = tokens.rotate(key_file, keys)
    after = issue(key_file)
    assert jwt.get_unverified_header(after)["kid"] == new != old
    changed(keys)
    assert v.verify(after).operator == "ann"  # the new key, without a restart
    assert v.verify(before).operator == "ann"  # the old one still verifies
    with pytest.raises(ValueError):
        tokens.remove_public_key(keys, new, signing_kid=new)
    assert tokens.remove_public_key(keys, old, signing_kid=new)
    changed(keys)
    # Removed: refused, though verified (and remembered) before.
    assert "not in the public key set" in refused(v, before).message
    assert v.verify(after).operator == "ann"


def test_the_set_is_looked_at_at_most_once_per_interval(key_file: Path) -> None:
    keys = tokens.public_keys_file(key_file)
    v = Verifier(KeySet(keys, check_seconds=3600), DEPARTMENTS)
    tokens.rotate(key_file, keys)
    changed(keys)
    refused(v, issue(key_file))  # not looked at yet: the new key is unknown for now
    v.keys.refresh(force=True)
    assert v.verify(issue(key_file)).operator == "ann"


def test_a_set_gone_bad_keeps_the_last_and_none_at_start_is_an_error(
    key_file: Path, tmp_path: Path
) -> None:
    keys = tokens.public_keys_file(key_file)
    v = verifier(key_file)
    keys.write_text("{not json")
    changed(keys)
    assert v.verify(issue(key_file)).operator == "ann"
    with pytest.raises(KeySetError):
        KeySet(tmp_path / "missing.json")


def test_revoked_tokens_are_refused_even_when_remembered(key_file: Path) -> None:
    v = verifier(key_file)
    first, second = issue(key_file), issue(key_file, operator="bo")
    p = v.verify(first)
    v.verify(second)
    v.revocations.add(token_id=p.token_id)
    assert refused(v, first).reason == "TOKEN_REVOKED"
    assert v.verify(second).operator == "bo"
    v.revocations.add(operator="bo", issued_before_us=time.time_ns() // 1000)
    assert refused(v, second).reason == "TOKEN_REVOKED"
    # A later token of the same operator (issued after the cut-off's second) is taken.
    later = Revocations()
    later.replace((), {"bo": (int(time.time()) - 5) * 1_000_000})
    v.revocations = later
    assert v.verify(issue(key_file, operator="bo")).operator == "bo"


def test_a_legacy_hs256_secret_gives_way_to_a_key_pair(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("ab" * 32)
    key = tokens.ensure_key_pair(path)
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert tokens.read_key_set(tokens.public_keys_file(path))[0]["kid"] == tokens.kid_of(
        key.public_key()
    )


def test_an_entry_names_its_token_without_changing_older_links() -> None:
    key = b"a" * 32
    old = audit.Entry(1, 10, "ann", "cac", "M", "r", "rid", "ok", "", "")
    # An entry with no token id links as entries did before the column existed.
    assert audit._link_message(old) == audit._message(
        1, 10, "ann", "cac", "M", "r", "rid", "ok", "", "", ""
    )
    named = audit.Entry(1, 10, "ann", "cac", "M", "r", "rid", "ok", "", "", token_id="j1")
    assert audit.mac(key, audit._link_message(named)) != audit.mac(key, audit._link_message(old))
