"""The module form of the token command is `netnet token issue` on the deployment's key."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from netnet.client.tokens import ALGORITHM, AUDIENCE, PERSON_TTL_SECONDS, ensure_key_pair
from services.common import tokens


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETNET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NETNET_KEY_FILE", raising=False)
    return tmp_path


def _claims(out: str, key_file: Path) -> dict[str, object]:
    """The token's claims, checked with the public key beside the private one."""
    token = out.strip()
    jwks = jwt.PyJWKSet.from_json(key_file.with_name("public-keys.json").read_text())
    key = jwks[jwt.get_unverified_header(token)["kid"]].key
    return jwt.decode(token, key, algorithms=[ALGORITHM], issuer="netnet", audience=AUDIENCE)  # type: ignore[no-any-return]


def test_issues_a_token_on_a_key_made_on_first_use(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--operator", "alice", "--department", "cac", "--role", "operator"]
    assert tokens.main([*argv, "--role", "analyst", "--region", "330700"]) == 0
    claims = _claims(capsys.readouterr().out, data_dir / "signing.key")
    assert (claims["sub"], claims["dept"], claims["region"]) == ("alice", "cac", "330700")
    assert claims["roles"] == ["analyst", "operator"]
    # A person's token: 8 hours unless asked otherwise; a random id of its own.
    assert int(claims["exp"]) - int(claims["iat"]) == PERSON_TTL_SECONDS  # type: ignore[call-overload]
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert (data_dir / "signing.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_takes_the_options_of_netnet_token_issue(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path_factory.mktemp("keys") / "other.key"
    ensure_key_pair(other)
    argv = ["--operator", "bob", "--department", "mps", "--role", "admin", "--ttl", "60"]
    assert tokens.main([*argv, "--key-file", str(other)]) == 0
    claims = _claims(capsys.readouterr().out, other)
    assert claims["dept"] == "mps" and int(claims["exp"]) - int(claims["iat"]) == 60  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "argv",
    [
        ["--operator", "a", "--department", "nowhere", "--role", "operator"],
        ["--operator", "a", "--department", "cac", "--role", "bogus"],
        ["--operator", "a", "--department", "cac"],
    ],
)
def test_refuses_bad_input_with_the_usage_code(
    data_dir: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert tokens.main(argv) == 2
    assert capsys.readouterr().out == ""
