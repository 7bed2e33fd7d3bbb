"""The test servers' sweep: the folder of a run that died is cleared and its server stopped, but
a process that got the dead server's number since is left alone.

A full suite starts thousands of processes and this machine has 32768 pids: a stale
`server.pid` soon names someone else, such as an `rp2p-db` of a test running at that moment
(which then died without a word, its log ending at the store's schema).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .services import server_folder

SLEEPER = "import sys, time; time.sleep(60)"


def stale_folder(root: Path, name: str, server_pid: int) -> Path:
    """A folder as a run that died left it: its owner gone, its server's pid written down."""
    folder = root / name
    folder.mkdir()
    owner = subprocess.Popen(["true"])
    owner.wait()
    (folder / "owner").write_text(str(owner.pid))
    (folder / "server.pid").write_text(f"{server_pid} group")
    return folder


def test_a_dead_runs_server_is_stopped_but_a_process_that_took_its_pid_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # only this test's folders swept
    server_there = tmp_path / "rp2p-sweep-server"
    server = subprocess.Popen([sys.executable, "-c", SLEEPER, str(server_there)],
                              start_new_session=True)  # fmt: skip
    bystander = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)
    try:
        stale_folder(tmp_path, server_there.name, server.pid)
        stale_folder(tmp_path, "rp2p-sweep-reused", bystander.pid)
        made = server_folder("rp2p-sweep-")
        assert server.wait(timeout=20) < 0, "the dead run's server was left running"
        assert bystander.poll() is None, f"the sweep killed another process ({bystander.poll()})"
        assert sorted(p.name for p in tmp_path.iterdir()) == [made.name]
    finally:
        for process in (server, bystander):
            process.kill()
            process.wait()
