"""make run: the four processes, the demo campaign, the status table, a clean Ctrl-C (also
during the demo load), no service left behind by a killed launcher."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, SERVICES, ctrl_c, start_make_run, wait_for


def _pids_of(data_dir: Path) -> list[str]:
    """Processes still running with this stack's data directory in their environment."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    pids = []
    for line in out.splitlines()[1:]:
        pid = line.split()[0]
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"NETNET_DATA_DIR={data_dir}".encode() in environ:
            pids.append(line)
    return pids


def test_demo_status_table_then_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    stack = start_make_run(tmp_path)
    try:
        text = wait_for(stack, "Press Ctrl-C to stop.")
    finally:
        if stack.process.poll() is None:
            code = ctrl_c(stack)
    # make itself ends by the SIGINT it was sent (as in a shell: status 130); what matters is
    # that the launcher stopped everything cleanly first.
    assert code in (0, -2), stack.text()
    assert "loading the demo campaign" in text
    assert "5 typical cases entered and published" in text
    total = next(line for line in text.splitlines() if line.startswith("total"))
    figures = [int(x.replace(",", "")) for x in total.split()[1:]]
    cases, _, _, shut, closed, banned, *_, accounts, groups, closed_groups = figures[:-3]
    direct, platform, typical = figures[-3:]
    assert typical == 5 and cases >= 5
    assert accounts >= 8000 and platform >= 20_000 and direct >= 400
    assert groups >= closed_groups >= 1  # groups apart from the accounts
    assert max(closed, banned) <= shut <= closed + banned  # each site banned or closed once
    assert "sources: accounts ok, sites ok, cases ok" in text
    for name in SERVICES:
        assert re.search(rf"{name}\s+127\.0\.0\.1:\d+\s+SERVING", text), name
    assert "all stopped" in stack.text()
    assert _pids_of(stack.data_dir) == []
    token = (stack.data_dir / "admin.token").read_text().strip()
    assert token.count(".") == 2


def test_second_start_reuses_the_data(tmp_path: Path) -> None:
    first = start_make_run(tmp_path)
    wait_for(first, "Press Ctrl-C to stop.")
    assert ctrl_c(first) in (0, -2)
    again = start_make_run(tmp_path)
    again.env = first.env
    try:
        text = wait_for(again, "Press Ctrl-C to stop.")
    finally:
        ctrl_c(again)
    assert "loading the demo campaign" not in text
    assert re.search(r"^typical\b|^total", text, re.M)


def test_port_in_use_is_said_plainly(tmp_path: Path) -> None:
    import socket

    stack = start_make_run(tmp_path)
    host, port = stack.env["NETNET_SITES_ADDR"].split(":")
    # Another run with the same addresses, while something holds the sites port.
    with socket.socket() as holder:
        holder.bind((host, int(port)))
        holder.listen()
        ctrl_c(stack)
        clash = subprocess.run(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert clash.returncode != 0
    assert f"address already in use for sites (127.0.0.1:{port})" in clash.stderr
    assert _pids_of(stack.data_dir) == []


def test_a_crashed_child_is_reported_and_the_others_stop(tmp_path: Path) -> None:
    """Kill one service under a running stack: the launcher says so and stops the rest."""
    running = start_make_run(tmp_path, scale="0")
    wait_for(running, "Press Ctrl-C to stop.")
    pids = _pids_of(running.data_dir)
    sites = next(line for line in pids if "services.sites" in line)
    os.kill(int(sites.split()[0]), signal.SIGKILL)
    code = running.process.wait(60)
    assert running.process.stdout is not None
    running.output.append(running.process.stdout.read() or "")
    assert code != 0
    assert "sites stopped unexpectedly" in running.text()
    assert _pids_of(running.data_dir) == []


def _status_table(text: str) -> str:
    """The campaign status table the launcher prints, title to total."""
    start = text.index('"Net Net" joint campaign 2021\n')
    end = text.index("\n", text.index("\ntotal", start) + 1)
    return text[start:end]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_during_the_demo_load_stops_at_once_and_the_next_start_completes_it(
    tmp_path: Path,
) -> None:
    """The load takes a while at this scale: Ctrl-C in the middle of an import stream ends
    everything within the drain time; the next start resumes the load (request ids) and
    ends with the figures of a load never interrupted."""
    scale = "0.003"
    first = start_make_run(tmp_path / "interrupted", scale)
    try:
        wait_for(first, "  importing content: ")
    finally:
        started = time.monotonic()
        code = ctrl_c(first) if first.process.poll() is None else first.process.returncode
    took = time.monotonic() - started
    text = first.text()
    # make ends by the SIGINT it was sent; the launcher, its cleanup done, by its own (make
    # says "Interrupt", not "Error 130"; make[1] under another make); NETNET_DRAIN_SECONDS is 2.
    assert code == -signal.SIGINT, text
    assert re.search(r"^make(\[\d+\])?: \*\*\* .* Interrupt$", text, re.M), text
    assert took < 8, f"{took:.1f}s after Ctrl-C:\n{text}"
    assert "demo load interrupted: the next start resumes it" in text
    assert "Press Ctrl-C to stop." not in text and "all stopped" in text
    assert _pids_of(first.data_dir) == []
    assert not (first.data_dir / "demo.loaded").exists()

    again = start_make_run(tmp_path / "interrupted", scale)
    try:
        resumed = wait_for(again, "Press Ctrl-C to stop.")
    finally:
        ctrl_c(again)
    accounts = re.search(r"accounts imported: ([\d,]+) accepted, ([\d,]+) already there", resumed)
    assert accounts and accounts[1] == "0", resumed  # all in before the interruption
    assert (again.data_dir / "demo.loaded").exists()

    whole = start_make_run(tmp_path / "uninterrupted", scale)
    try:
        reference = wait_for(whole, "Press Ctrl-C to stop.")
    finally:
        ctrl_c(whole)
    assert "0 already there" in reference
    assert _status_table(resumed) == _status_table(reference)


@pytest.mark.parametrize("how", ["launcher", "group"])
def test_no_service_outlives_a_killed_launcher(tmp_path: Path, how: str) -> None:
    """SIGKILL to the launcher (the python process make runs), or to its whole process group
    (make and the launcher): the services, in sessions of their own, drain and go too."""
    stack = start_make_run(tmp_path, scale="0")
    try:
        wait_for(stack, "Press Ctrl-C to stop.")
        running = _pids_of(stack.data_dir)
        launcher = next(int(p.split()[0]) for p in running if "-m deploy.launcher" in p)
        services = [int(p.split()[0]) for p in running if re.search(r"-m (services\.|gateway)", p)]
        assert len(services) == len(SERVICES), running
        if how == "launcher":
            os.kill(launcher, signal.SIGKILL)
        else:
            os.killpg(stack.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        while any(_alive(pid) for pid in services) and time.monotonic() - killed < 30:
            time.sleep(0.05)
        took = time.monotonic() - killed
    finally:
        for line in _pids_of(stack.data_dir):  # only when the test fails
            os.kill(int(line.split()[0]), signal.SIGKILL)
    stack.process.wait(10)
    assert not any(_alive(pid) for pid in services), f"still running after {took:.1f}s"
    assert took < 10, f"{took:.1f}s"  # NETNET_DRAIN_SECONDS is 2
    assert _pids_of(stack.data_dir) == []
    for name in SERVICES:  # each drained on its SIGTERM rather than dying mid-call
        assert '"event":"stopped"' in (stack.data_dir / "logs" / f"{name}.log").read_text()
