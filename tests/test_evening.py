"""A whole evening with real processes: `rp2p-db` with short rounds and three `rp2p-peer --bot`.

Played as a new user would: three bots with three files each hunt round after round. The hunt
never runs dry: every round that ends gave every online player a target (the host plants
treasure), rounds end early once everything is found, the host's settings change while it
runs (`rp2p-db set`), and when the host stops everyone hears how the evening went; a player
that quits is told its own.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.faults.cluster import BIN, Cluster, wait_for

pytestmark = pytest.mark.slow

ROUNDS = 8
ROUND_SECONDS = 20
BOTS = {"ada": "hard", "brick": "normal", "cosmo": "easy"}
STARTED = re.compile(r"(\d\d):(\d\d):(\d\d) round (\d+) started: (\d+) files .*; targets: (.*)")
OVER = re.compile(r"(\d\d):(\d\d):(\d\d) round (\d+) over: ")


def seconds(match: re.Match[str]) -> int:
    hours, minutes, secs = (int(match.group(i)) for i in (1, 2, 3))
    return hours * 3600 + minutes * 60 + secs


def rounds_over(log: str) -> dict[int, int]:
    return {int(m.group(4)): seconds(m) for m in OVER.finditer(log)}


def set_setting(cluster: Cluster, key: str, value: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rp2p-db"), "set", key, value, "--data", str(cluster.data),
         "--port", str(cluster.db_port)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_an_evening_of_bots_never_runs_dry(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.start_db("--round-seconds", str(ROUND_SECONDS), "--pause-seconds", "0.5",
                         "--targets", "4", "--treasure", "2")  # fmt: skip
        bots = []
        for index, (name, level) in enumerate(BOTS.items()):
            files = {f"{name}-{i}.txt": f"{name} {i} ".encode() * (index + i + 1) for i in range(3)}
            bots.append(cluster.bot(name, files, "--level", level, "--pace", "0.1"))
        wait_for(lambda: len(rounds_over(cluster.db_log())) >= 2, 60, "two rounds", interval=0.1)

        bad = set_setting(cluster, "colour", "red")
        assert bad.returncode == 2 and "unknown setting 'colour'" in bad.stderr, bad
        changed = set_setting(cluster, "targets", "2")
        assert changed.returncode == 0, changed
        assert changed.stdout.startswith("targets is now 2 (round-seconds 20"), changed.stdout
        wait_for(lambda: "setting targets is now 2" in cluster.db_log(), 10, "the new setting")
        set_at = max(rounds_over(cluster.db_log()))

        wait_for(lambda: len(rounds_over(cluster.db_log())) >= ROUNDS, 120,
                 f"{ROUNDS} rounds to end", interval=0.2)  # fmt: skip
        log = cluster.db_log()
        over = rounds_over(log)
        started = {int(m.group(4)): m for m in STARTED.finditer(log)}
        for number in over:
            start = started[number]
            targets = dict(t.rsplit(" ", 1) for t in start.group(6).split(", "))
            assert len(targets) >= 2, f"round {number} began with {targets}"
            assert all(int(count) >= 1 for count in targets.values()), (
                f"round {number}: somebody had nothing to find: {start.group(0)}"
            )
            if number > set_at + 1:
                assert int(start.group(5)) == 2, f"targets 2 was set: {start.group(0)}"
        assert any(set(dict(t.rsplit(" ", 1) for t in started[n].group(6).split(", ")))
                   == set(BOTS) for n in over)  # fmt: skip
        quick = [n for n in over if over[n] - seconds(started[n]) < ROUND_SECONDS - 2]
        assert len(quick) >= ROUNDS - 2, "rounds end early once everything is found"
        assert "treasure expired" in log, "planted files expire"

        assert cluster.db is not None
        cluster.db.send_signal(signal.SIGTERM)
        assert cluster.db.wait(timeout=20) == 0
        log = cluster.db_log()
        assert re.search(r"the evening is over after \d+ rounds:", log), log[-2000:]
        for name in BOTS:
            assert re.search(rf"{name}: won \d+ of \d+ rounds, \d+ points", log)
            wait_for(lambda n=name: "the host ended the evening" in cluster.peer_log(n), 20,
                     f"{name} to hear the evening is over")  # fmt: skip
        for process in bots:  # a player that quits is told its own evening
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        for name in BOTS:
            assert re.search(r"your evening: won \d+ of \d+ rounds", cluster.peer_log(name))
    finally:
        cluster.close()
