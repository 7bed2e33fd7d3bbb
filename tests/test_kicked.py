"""A kicked player is told so in one line, and a headless `rp2p-peer` exits 1 at once.

Real `rp2p-db` and `rp2p-peer` processes on loopback: kicked while it plays, and started again
afterwards (the host tells it inside TLS, so it never mistakes the refusal for a glitch).
"""

from __future__ import annotations

import subprocess
import time

from .faults.cluster import BIN, Cluster, wait_for

REMOVED = "the host removed you from the network (kicked out)"


def exits_within(process: subprocess.Popen[str], seconds: float) -> int:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {seconds:g} s after it was kicked") from None


def test_a_kicked_player_is_told_once_and_exits_1_at_once_also_when_started_again(
    cluster: Cluster,
) -> None:
    rogue = cluster.seeder("rogue")  # reads commands: it would run for as long as stdin is open
    wait_for(lambda: "rogue joined from" in cluster.db_log(), 15, "rogue to join")
    kicked = subprocess.run(
        [BIN / "rp2p-db", "kick", "rogue", "--data", cluster.data, "--port",
         str(cluster.db_port)], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert kicked.returncode == 0, kicked.stderr
    assert exits_within(rogue, 5) == 1
    log = (cluster.root / "rogue.log").read_text()
    lines = log.splitlines()
    assert lines[-1].endswith(f"rogue: {REMOVED}: it refuses you from now on"), log
    assert sum(REMOVED in line for line in lines) == 1, log
    assert not any(word in log for word in ("lost the host", "left the network", "retrying")), log

    started = time.monotonic()
    again = cluster.seeder("rogue")
    assert exits_within(again, 5) == 1  # not after the 15 s join timeout
    took = time.monotonic() - started
    later = (cluster.root / "rogue.log").read_text()[len(log) :].splitlines()
    assert len(later) == 1 and later[0].endswith(f"rogue: {REMOVED}: it refuses you from now on"), (
        later
    )
    assert "Traceback" not in later[0] and "SSL" not in later[0]
    print(f"started again, it knew it was kicked and exited after {took:.2f} s")
