"""`make bench`'s LAN scenarios leave no namespace behind: not on SIGTERM, not on Ctrl-C, and
those of a run that was killed outright are removed when the next one starts."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.cluster import wait_for

from .hosts import PREFIX, namespaces

ROOT = Path(__file__).resolve().parents[2]
HOLD_A_LAN = """
import time
from bench.lan import simulated_lan
with simulated_lan() as lan:
    lan.host("a", rate="100mbit")
    lan.host("b")
    print("ready", flush=True)
    time.sleep(120)
"""


def ours(pid: int) -> list[str]:
    return [n for n in namespaces() if n.startswith(f"{PREFIX}-{pid}-")]


def remove(pid: int) -> None:
    """What a failed test left (never another process's namespaces)."""
    for name in ours(pid):
        subprocess.run(["ip", "netns", "del", name], check=False)


def hold_a_lan() -> subprocess.Popen[str]:
    """A process that builds a small LAN with bench.lan and waits; once its LAN is up."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_A_LAN], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    assert len(ours(process.pid)) == 3  # the switch and two hosts
    return process


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_benchmark_stopped_by_a_signal_removes_its_namespaces(
    lan_ready: None, how: signal.Signals
) -> None:
    process = hold_a_lan()
    try:
        process.send_signal(how)
        process.wait(30)
        wait_for(lambda: not ours(process.pid), 10, "its namespaces to go", interval=0.05)
    finally:
        process.kill()
        process.wait()
        remove(process.pid)


def test_the_namespaces_of_a_killed_benchmark_go_when_the_next_one_starts(
    lan_ready: None,
) -> None:
    killed = hold_a_lan()
    killed.kill()  # SIGKILL: nothing of it can clean up
    killed.wait()
    following = None
    try:
        assert len(ours(killed.pid)) == 3
        following = hold_a_lan()  # its LAN is up: it cleared the stale ones first
        assert not ours(killed.pid), ours(killed.pid)
    finally:
        if following is not None:
            following.kill()
            following.wait()
            remove(following.pid)
        remove(killed.pid)
