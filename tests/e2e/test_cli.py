"""The netnet command against the running stack, as a shell user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, RunningStack

NETNET = [sys.executable, "-m", "netnet.cli"]


def netnet(
    stack: RunningStack, *args: str, token: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**stack.env, **(env or {}), "COLUMNS": "200"}
    if token is not None:
        full["NETNET_TOKEN"] = token
    return subprocess.run(
        [*NETNET, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


def issue(stack: RunningStack, department: str, *roles: str) -> str:
    args = ["token", "issue", "--operator", "cli-test", "--department", department]
    for role in roles or ("operator",):
        args += ["--role", role]
    result = netnet(stack, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_status_table_with_source_health(running: RunningStack) -> None:
    result = netnet(running, "status", "--plain")
    assert result.returncode == 0, result.stderr
    total = next(line for line in result.stdout.splitlines() if line.startswith("total"))
    assert total.split()[-1] == "5"  # typical cases
    assert "sources: accounts ok, sites ok, cases ok" in result.stdout
    table = netnet(running, "status", "--department", "cac")
    assert table.returncode == 0 and "cac" in table.stdout and "mps" not in table.stdout


def test_bulletin_to_a_file(running: RunningStack, tmp_path: Path) -> None:
    out = tmp_path / "bulletin.md"
    result = netnet(running, "bulletin", "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# ") and "## Typical cases" in text and "Zhu XX" in text
    for real in ("Zhu Dawei", "江伟明", "Lan Haitao", "Cha Yong", "Cheng Gang"):
        assert real not in text
    plain = netnet(running, "bulletin", "--format", "text")
    assert plain.returncode == 0 and not plain.stdout.startswith("#")
    assert netnet(running, "bulletin", "--format", "pdf").returncode == 2


def test_import_accounts_with_bad_rows_is_partial_and_resumable(
    running: RunningStack, tmp_path: Path
) -> None:
    token = issue(running, "nrta")
    before = _accounts_of(running, "nrta")
    # Dated inside the 2021 campaign (entered today, they happened then).
    header = "request_id,platform,platform_uid,kind,action,category,department,campaign_id"
    rows = [f"{header},effective_time"]
    when = "2021-07-15T08:00:00Z"
    rows += [f"cli-{i},weibo,cli{i},user,ban,vulgar,nrta,netnet-2021,{when}" for i in range(250)]
    rows += [
        f"cli-bad-1,weibo,x1,user,explode,vulgar,nrta,netnet-2021,{when}",  # unknown action
        "cli-bad-2,weibo,x2,user,ban,unknown-category,nrta,,",  # server refuses
        "cli-bad-3,weibo,x3,robot,ban,vulgar,nrta,,",  # unknown kind
        "cli-bad-4,weibo,x4,user,ban,vulgar,nrta,netnet-2021,",  # today: outside the campaign
        f"cli-bad-5,weibo,x5,user,ban,vulgar,nrta,nosuch-2021,{when}",  # no such campaign
        "cli-bad-6,weibo,x6,user,ban,vulgar,mps,,",  # another department's name
    ]
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(rows) + "\n")
    first = netnet(running, "import", "accounts", str(path), "--batch-size", "100", token=token)
    assert first.returncode == 4, first.stdout + first.stderr
    assert "accepted" in first.stdout and "250" in first.stdout
    for line, field in (
        ("252", "action"),
        ("253", "category"),
        ("254", "kind"),
        ("255", "effective_time"),
        ("256", "campaign_id"),
        ("257", "department"),
    ):
        assert any(line in r and field in r for r in first.stdout.splitlines()), first.stdout
    again = netnet(running, "import", "accounts", str(path), token=token)
    assert again.returncode == 4
    duplicates = next(r for r in again.stdout.splitlines() if "duplicate" in r)
    assert "250" in duplicates
    assert _accounts_of(running, "nrta") == before + 250


def _accounts_of(stack: RunningStack, department: str) -> int:
    """The department's "accounts" figure in the plain status table."""
    status = netnet(stack, "status", "--plain", "--department", department)
    header = next(r for r in status.stdout.splitlines() if r.startswith("department"))
    row = next(r for r in status.stdout.splitlines() if r.startswith(department))
    names = [c.strip() for c in header.split("  ") if c.strip()]
    return int(row.split()[names.index("accounts")].replace(",", ""))


def test_import_content_jsonl(running: RunningStack, tmp_path: Path) -> None:
    token = issue(running, "mct")
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
            "campaign_id": "netnet-2021",
            "special_action": "child-cult-videos",
            "effective_time": "2021-08-02T09:30:00+08:00",
        }
        for i in range(30)
    ]
    path = tmp_path / "content.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n{broken\n")
    result = netnet(running, "import", "content", str(path), token=token)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "30" in next(r for r in result.stdout.splitlines() if "accepted" in r)
    assert "not a JSON object" in result.stdout


def test_cases_list_show_and_lookup(running: RunningStack) -> None:
    listed = netnet(running, "cases", "list", "--campaign", "netnet-2021")
    assert listed.returncode == 0 and "5·11" in listed.stdout
    shown = netnet(running, "cases", "show", "5·11")
    assert shown.returncode == 0, shown.stderr
    assert "Zhu XX" in shown.stdout and "Zhu Dawei" not in shown.stdout  # office is not lead
    lead = netnet(running, "cases", "show", "5·11", token=issue(running, "mps", "analyst"))
    assert "Zhu Dawei" in lead.stdout
    hidden = netnet(running, "cases", "show", "5·11", token=issue(running, "miit", "analyst"))
    assert hidden.returncode == 1 and "held by mps" in hidden.stderr
    found = netnet(running, "lookup", "5·11", token=issue(running, "miit", "analyst"))
    assert found.returncode == 0 and "not visible to you" in found.stdout and "mps" in found.stdout


def test_token_audit_and_errors(running: RunningStack) -> None:
    bad_role = netnet(
        running, "token", "issue", "--operator", "x", "--department", "cac", "--role", "king"
    )
    assert bad_role.returncode == 2 and "roles must be among" in bad_role.stderr
    audit = netnet(running, "audit", "verify")
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.count(" ok ") == 3
    assert "data rows" in audit.stdout and "checkpoints" in audit.stdout
    # A checkpoint not signed with the service's audit key breaks the check, and says so.
    forged = running.data_dir / "forged-checkpoints.jsonl"
    forged.write_text(
        json.dumps(
            {"service": "sites", "seq": 1, "hash": "0" * 64, "keyed_from": 1, "time_us": 1}
            | {"mac": "0" * 64}
        )
        + "\n"
    )
    broken = netnet(running, "audit", "verify", "--service", "sites", "--checkpoints", str(forged))
    assert broken.returncode == 4, broken.stderr
    assert "BROKEN" in broken.stdout and "not signed with the audit key" in broken.stdout
    forged.write_text("not json\n")
    bad = netnet(running, "audit", "verify", "--checkpoints", str(forged))
    assert (
        bad.returncode == 2 and "forged-checkpoints.jsonl:1: not an audit checkpoint" in bad.stderr
    )
    missing = netnet(running, "cases", "show", "cases/999999")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("error: NOT_FOUND")
    invalid = netnet(running, "cases", "show", "cases/abc")
    assert (
        invalid.returncode == 1
        and "INVALID_ARGUMENT" in invalid.stderr
        and "name" in invalid.stderr
    )
    no_token = netnet(running, "status", env={"NETNET_TOKEN": "not-a-token"})
    assert no_token.returncode == 1 and "UNAUTHENTICATED" in no_token.stderr
    down = netnet(running, "status", env={"NETNET_GATEWAY_ADDR": "127.0.0.1:1"})
    assert down.returncode == 3 and "UNAVAILABLE" in down.stderr


@pytest.mark.slow
def test_the_wheel_works_in_a_fresh_virtual_environment(
    running: RunningStack, tmp_path: Path
) -> None:
    build = subprocess.run(
        ["make", "--no-print-directory", "sdk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((ROOT / "dist").glob("netnet_sdk-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    script = """
import asyncio
from netnet.client import CasesClient, GatewayClient, NotFound
from netnet.cases.v1 import cases_pb2
from netnet.gateway.v1 import gateway_pb2

async def main():
    async with GatewayClient() as gw:
        reply = await gw.call(gw.stub.GetCampaignStatus,
                              gateway_pb2.GetCampaignStatusRequest(campaign_id="netnet-2021"))
        assert reply.status.complete and reply.status.total.typical_cases == 5
    async with CasesClient() as cases:
        numbers = [c.number async for c in cases.pages(
            cases.stub.ListCases, cases_pb2.ListCasesRequest(page_size=2), "cases")]
        assert "5·11" in numbers and len(numbers) >= 5, numbers
        try:
            await cases.call(cases.stub.GetCase, cases_pb2.GetCaseRequest(name="cases/999999"))
        except NotFound as e:
            print("typed error:", e.code.name)
    print("sdk ok", len(numbers))

asyncio.run(main())
"""
    env = {k: v for k, v in running.env.items() if k != "PYTHONPATH"}
    used = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert used.returncode == 0, used.stderr
    assert "typed error: NOT_FOUND" in used.stdout and "sdk ok" in used.stdout
    cli = subprocess.run(
        [str(venv / "bin" / "netnet"), "status", "--plain"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0 and "total" in cli.stdout
    quick_start = _readme_block("## The SDK")
    readme = subprocess.run(
        [str(venv / "bin" / "python"), "-c", quick_start],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert readme.returncode == 0, readme.stderr
    assert "NOT_FOUND: cases/999999 not found" in readme.stdout
    assert "5·11" in readme.stdout


def _readme_block(heading: str) -> str:
    """The first python code block under a README heading (the docs must run as written)."""
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_demo_campaigns_period_shows_every_figure(running: RunningStack) -> None:
    """The demo's records are dated inside the 2021 campaign: its period's status is the
    campaign's whole status (no figure empty), and its bulletin speaks of that period."""
    import asyncio

    from google.protobuf.timestamp_pb2 import Timestamp

    from netnet.client import GatewayClient
    from netnet.gateway.v1 import gateway_pb2 as pb

    token = (running.data_dir / "admin.token").read_text().strip()
    start, end = Timestamp(), Timestamp()
    start.FromJsonString("2021-06-01T00:00:00Z")
    end.FromJsonString("2021-09-01T00:00:00Z")

    async def ask() -> tuple[pb.CampaignStatus, pb.CampaignStatus, str]:
        async with GatewayClient(running.env["NETNET_GATEWAY_ADDR"], token=token) as gateway:
            whole = await gateway.get_campaign_status(campaign_id="netnet-2021")
            period = await gateway.get_campaign_status(
                campaign_id="netnet-2021", start_time=start, end_time=end
            )
            bulletin = await gateway.generate_bulletin(
                campaign_id="netnet-2021", start_time=start, end_time=end
            )
            return whole.status, period.status, bulletin.text

    whole, period, text = asyncio.run(ask())
    assert period.complete and not period.figure_notes
    assert period.total == whole.total
    for field in pb.Figures.DESCRIPTOR.fields:
        assert period.total.HasField(field.name), field.name
        # At the tests' scale the cases are the five typical ones, all criminal.
        if field.name != "cases_administrative":
            assert getattr(period.total, field.name) > 0, field.name
    assert "From 1 June 2021 to 31 August 2021" in text
    assert "5 typical cases are announced" in text
