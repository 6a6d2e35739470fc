"""The netnet command and the SDK against real servers: an import row in another department's
name is reported with its line like any other bad row, and UNAUTHENTICATED says where the
token came from, or where the client looked for one."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.client import GatewayClient, Unauthenticated
from netnet.gateway.v1 import gateway_pb2 as gpb
from tests.service.gateway.conftest import Stack
from tests.support.servers import Tokens

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """The command's environment: the stack's addresses, a data dir with no token file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETNET_")}
    env.update({"COLUMNS": "200", "NETNET_DATA_DIR": str(tmp_path / "cli-data")})
    for name, server in stack.servers.items():
        env[f"NETNET_{name.upper()}_ADDR"] = f"127.0.0.1:{server.port}"
    return env


async def netnet(env: dict[str, str], *args: str, token: str | None = None) -> Run:
    full = dict(env)
    if token is not None:
        full["NETNET_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netnet.cli",
        *args,
        cwd=ROOT,
        env=full,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def bearer(tokens: Tokens, department: str, *roles: str) -> str:
    return tokens(department, *roles)[0][1].removeprefix("Bearer ")


def rejected_rows(stdout: str) -> list[list[str]]:
    """The (line, field, reason) rows of the 'first rejected rows' table."""
    rows = []
    for line in stdout.split("first rejected rows", 1)[-1].splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 3 and cells[0].isdigit():
            rows.append(cells)
    return rows


async def test_import_accounts_reports_a_foreign_row_with_its_line(
    stack: Stack, cli_env: dict[str, str], tokens: Tokens, tmp_path: Path
) -> None:
    rows = ["request_id,platform,platform_uid,kind,action,category,department"]
    rows += [f"cli-{i},weibo,cli{i},user,ban,vulgar,nrta" for i in range(20)]
    rows[6] = "cli-5,weibo,cli5,user,ban,vulgar,mps"  # line 7: another department's name
    rows[15] = "cli-14,weibo,cli14,user,ban,vulgar,cac"  # line 16, in the second batch
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(rows) + "\n")
    run = await netnet(
        cli_env,
        "import",
        "accounts",
        str(path),
        "--batch-size",
        "10",
        token=bearer(tokens, "nrta"),
    )
    assert run.code == 4, run.stdout + run.stderr
    accepted = next(r for r in run.stdout.splitlines() if "accepted" in r)
    assert "18" in accepted
    found = rejected_rows(run.stdout)
    assert [(line, field) for line, field, _ in found] == [
        ("7", "department"),
        ("16", "department"),
    ]
    assert "'mps'" in found[0][2]
    stats = await stack.accounts.get_stats(apb.GetStatsRequest(), metadata=tokens("office"))
    assert stats.total.count == 18

    # Without a writer role the whole stream is refused, as before.
    reader = await netnet(
        cli_env, "import", "accounts", str(path), token=bearer(tokens, "nrta", "analyst")
    )
    assert reader.code == 1 and "PERMISSION_DENIED" in reader.stderr, reader.stderr


async def test_import_content_reports_a_foreign_row_with_its_line(
    stack: Stack, cli_env: dict[str, str], tokens: Tokens, tmp_path: Path
) -> None:
    items = [
        {
            "request_id": f"cli-c-{i}",
            "site": "video.example.cn",
            "locator": f"https://video.example.cn/{i}",
            "content_sha256": f"{i:064x}",
            "category": "harmful_to_minors",
            "measure": "delete",
            "handler": "direct",
            "department": "mct",
        }
        for i in range(12)
    ]
    items[4]["department"] = "cac"  # line 5
    path = tmp_path / "content.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    run = await netnet(cli_env, "import", "content", str(path), token=bearer(tokens, "mct"))
    assert run.code == 4, run.stdout + run.stderr
    assert "11" in next(r for r in run.stdout.splitlines() if "accepted" in r)
    assert [(line, field) for line, field, _ in rejected_rows(run.stdout)] == [("5", "department")]


async def test_unauthenticated_says_where_the_token_came_from(
    cli_env: dict[str, str], tokens: Tokens
) -> None:
    token_file = Path(cli_env["NETNET_DATA_DIR"]) / "admin.token"
    # No token anywhere: the message names both places looked in.
    none = await netnet(cli_env, "status")
    assert none.code == 1 and "UNAUTHENTICATED" in none.stderr, none.stderr
    text = " ".join(none.stderr.split())
    assert "NETNET_TOKEN is not set" in text and str(token_file) in text.replace(" ", "")
    # A token the server refuses: the message says which one.
    refused = await netnet(cli_env, "status", token="not-a-token")
    assert refused.code == 1 and "UNAUTHENTICATED" in refused.stderr
    assert "token from NETNET_TOKEN was refused" in " ".join(refused.stderr.split())
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(bearer(tokens, "office", "admin") + "x\n")  # a broken signature
    from_file = await netnet(cli_env, "status")
    assert from_file.code == 1 and "UNAUTHENTICATED" in from_file.stderr
    text = " ".join(from_file.stderr.split())
    assert "token from the file" in text and "was refused" in text
    assert str(token_file) in text.replace(" ", "")


async def test_sdk_unauthenticated_says_where_it_looked(
    stack: Stack, tokens: Tokens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NETNET_TOKEN", raising=False)
    monkeypatch.setenv("NETNET_DATA_DIR", str(tmp_path / "nowhere"))
    target = f"127.0.0.1:{stack.servers['gateway'].port}"
    request = gpb.LookupRequest(query="example.com")
    async with GatewayClient(target) as gw:
        with pytest.raises(Unauthenticated) as e:
            await gw.call(gw.stub.Lookup, request)
    assert "NETNET_TOKEN is not set" in str(e.value)
    assert str(tmp_path / "nowhere" / "admin.token") in str(e.value)
    monkeypatch.setenv("NETNET_TOKEN", bearer(tokens, "office") + "x")
    async with GatewayClient(target) as gw:
        with pytest.raises(Unauthenticated) as e:
            await gw.call(gw.stub.Lookup, request)
    assert "the token from NETNET_TOKEN was refused" in str(e.value)
    async with GatewayClient(target, token="garbage") as gw:
        with pytest.raises(Unauthenticated) as e:
            await gw.call(gw.stub.Lookup, request)
    assert "the token given to the client was refused" in str(e.value)
