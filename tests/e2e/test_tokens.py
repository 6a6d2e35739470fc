"""Tokens on the stack as `make run` starts it: the key pair it makes, a revoked token refused
by the command line within seconds, and no token in anything the processes wrote."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import jwt

from netnet.client import AccountsClient, GatewayClient, NetNetError
from tests.e2e.conftest import RunningStack, ctrl_c, start_make_run, wait_for
from tests.e2e.test_cli import netnet

WITHIN = 5.0


def issue(stack: RunningStack, department: str, *roles: str) -> str:
    """A token of an operator of this test's own (revoked by name here: no other test's)."""
    args = ["token", "issue", "--operator", "token-test", "--department", department]
    for role in roles or ("operator",):
        args += ["--role", role]
    result = netnet(stack, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def test_make_run_makes_a_key_pair_and_the_servers_hold_only_the_public_set(
    running: RunningStack,
) -> None:
    data = running.data_dir
    assert (data / "signing.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    keys = json.loads((data / "public-keys.json").read_text())["keys"]
    assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("OKP", "Ed25519", "EdDSA")]
    assert "d" not in keys[0]  # no private part
    admin = (data / "admin.token").read_text().strip()
    header = jwt.get_unverified_header(admin)
    assert header["alg"] == "EdDSA" and header["kid"] == keys[0]["kid"]
    claims = jwt.decode(admin, options={"verify_signature": False})
    assert claims["aud"] == "netnet" and claims["exp"] - claims["iat"] == 8 * 3600
    gateway = jwt.decode(
        (data / "gateway.token").read_text().strip(), options={"verify_signature": False}
    )
    assert gateway["roles"] == ["service"] and gateway["exp"] - gateway["iat"] == 30 * 86400
    listed = netnet(running, "keys", "list")
    assert listed.returncode == 0 and f"{keys[0]['kid']}\tsigns new tokens" in listed.stdout


def _refused_within(stack: RunningStack, token: str) -> str:
    start = time.monotonic()
    while True:
        result = netnet(stack, "status", "--plain", token=token)
        if result.returncode != 0:
            return result.stderr
        assert time.monotonic() - start < WITHIN, "the revoked token is still taken"


def test_revoked_tokens_are_refused_and_no_token_is_written_anywhere(
    running: RunningStack,
) -> None:
    ann = issue(running, "cac")
    assert netnet(running, "status", "--plain", token=ann).returncode == 0
    # Failing calls: a token tampered with, and one of the old kind (HS256).
    tampered = ann[:-4] + ("AAAA" if not ann.endswith("AAAA") else "BBBB")
    hs256 = jwt.encode(
        jwt.decode(ann, options={"verify_signature": False}), b"k" * 32, algorithm="HS256"
    )
    for bad in (tampered, hs256):
        result = netnet(running, "status", "--plain", token=bad)
        assert result.returncode == 1 and "UNAUTHENTICATED" in result.stderr, result.stderr
    revoked = netnet(running, "token", "revoke", "--jti", _jti(ann))
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in _refused_within(running, ann)
    bo = issue(running, "office", "analyst")
    assert netnet(running, "status", "--plain", token=bo).returncode == 0
    by_operator = netnet(running, "token", "revoke", "--operator", "token-test")
    assert by_operator.returncode == 0, by_operator.stderr
    _refused_within(running, bo)
    assert netnet(running, "token", "revoke").returncode == 2  # neither --jti nor --operator
    # Everything the processes wrote: the launcher's output, the logs, the stores, the
    # checkpoints (the token files hold tokens by design).
    secrets = {
        "ann": ann,
        "tampered": tampered,
        "hs256": hs256,
        "bo": bo,
        "admin": (running.data_dir / "admin.token").read_text().strip(),
        "gateway": (running.data_dir / "gateway.token").read_text().strip(),
    }
    written: dict[str, bytes] = {"launcher output": running.text().encode()}
    for path in sorted(Path(running.data_dir).rglob("*")):
        if path.is_file() and path.suffix != ".token":
            written[str(path)] = path.read_bytes()
    assert any(name.endswith(".log") for name in written)
    for name, token in secrets.items():
        signature = token.rsplit(".", 1)[-1].encode()
        for where, data in written.items():
            assert token.encode() not in data and signature not in data, (name, where)


async def _answers(env: dict[str, str], token: str) -> dict[str, str]:
    """What each server says to a read with token: "ok" or the refusal's reason."""
    said = {}
    clients = {
        "gateway": GatewayClient(env["NETNET_GATEWAY_ADDR"], token=token),
        "accounts": AccountsClient(env["NETNET_ACCOUNTS_ADDR"], token=token),
    }
    for name, client in clients.items():
        async with client:
            try:
                if isinstance(client, GatewayClient):
                    await client.list_campaigns(page_size=1)
                else:
                    await client.get_stats()
                said[name] = "ok"
            except NetNetError as e:
                said[name] = e.reason
    return said


def _until(env: dict[str, str], token: str, want: str) -> None:
    start = time.monotonic()
    while (said := asyncio.run(_answers(env, token))) != {"gateway": want, "accounts": want}:
        assert time.monotonic() - start < WITHIN, said


def test_a_rotated_key_set_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    """On a stack of its own (the key it removes signed that stack's admin token)."""
    stack = start_make_run(tmp_path, scale="0")
    try:
        wait_for(stack, "Press Ctrl-C to stop.")
        old = issue(stack, "office", "analyst")
        rotated = netnet(stack, "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        new = issue(stack, "office", "analyst")
        old_kid, new_kid = (jwt.get_unverified_header(t)["kid"] for t in (old, new))
        assert old_kid != new_kid
        _until(stack.env, new, "ok")  # the new key, within seconds, with no restart
        _until(stack.env, old, "ok")  # the old one verifies until removed
        listed = netnet(stack, "keys", "list").stdout
        assert f"{new_kid}\tsigns new tokens" in listed and f"{old_kid}\tverifies only" in listed
        assert netnet(stack, "keys", "remove", new_kid).returncode == 2  # it signs
        removed = netnet(stack, "keys", "remove", old_kid)
        assert removed.returncode == 0, removed.stderr
        _until(stack.env, old, "TOKEN_INVALID")
        _until(stack.env, new, "ok")
    finally:
        if stack.process.poll() is None:
            ctrl_c(stack)
