"""`make demo` as a newcomer runs it: a live round against three bots, and nothing left after."""

from __future__ import annotations

import shlex
import shutil
import time
from pathlib import Path

import psutil
import pytest

from tests.faults.cluster import wait_for
from tests.tmux import Tmux

ROOT = Path(__file__).parent.parent
BOTS = ("ada", "brick", "cosmo")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def demo_processes(run: Path) -> list[psutil.Process]:
    """Every process whose command line points into this demo's folder."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with_run = any(str(run) in part for part in process.info["cmdline"] or ())
        if with_run and process.pid != psutil.Process().pid:
            found.append(process)
    return found


@pytest.mark.slow
def test_make_demo_shows_a_live_round_with_three_opponents_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    run = tmp_path / "demo"
    exit_file = tmp_path / "exit-status"
    tmux = Tmux("demo")
    command = f"cd {shlex.quote(str(ROOT))} && RP2P_DEMO_DIR={shlex.quote(str(run))} make -s demo"
    try:
        started = time.monotonic()
        tmux.start(f"{command}; echo $? > {exit_file}", 160, 45)

        def live_round() -> bool:
            screen = tmux.screen()
            return "round 1" in screen and "left" in screen and all(b in screen for b in BOTS)

        try:
            wait_for(
                live_round, 10, "a live round with ada, brick and cosmo on screen", interval=0.1
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{tmux.screen()}") from None
        print(f"live round on screen after {time.monotonic() - started:.1f} s")
        assert demo_processes(run), "the demo's database peer and bots should be running"
        tmux.key("C-q")
        wait_for(lambda: exit_file.exists() and exit_file.read_text().strip(), 30,
                 "the demo to end", interval=0.1)  # fmt: skip
        assert exit_file.read_text().strip() == "0"
        wait_for(lambda: not demo_processes(run), 10, "every process of the demo to be gone",
                 interval=0.1)  # fmt: skip
    finally:
        tmux.kill()
        for process in demo_processes(run):
            process.kill()
