"""The module form of the token command is `netnet token issue` on the deployment's key."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from netnet.client.tokens import ALGORITHM
from services.common import tokens


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETNET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NETNET_KEY_FILE", raising=False)
    return tmp_path


def _claims(out: str, key_file: Path) -> dict[str, object]:
    key = key_file.read_text().strip().encode()
    return jwt.decode(out.strip(), key, algorithms=[ALGORITHM], issuer="netnet")  # type: ignore[no-any-return]


def test_issues_a_token_on_a_key_made_on_first_use(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--operator", "alice", "--department", "cac", "--role", "operator"]
    assert tokens.main([*argv, "--role", "analyst", "--region", "330700"]) == 0
    claims = _claims(capsys.readouterr().out, data_dir / "signing.key")
    assert (claims["sub"], claims["dept"], claims["region"]) == ("alice", "cac", "330700")
    assert claims["roles"] == ["analyst", "operator"]


def test_takes_the_options_of_netnet_token_issue(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path_factory.mktemp("keys") / "other.key"
    other.write_text("ab" * 32)
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
