"""A round the host stops in the middle of (Ctrl-C) counts in the evening, marked cut short.

The players found things in it: the goodnight summary counts the round with what was found so
far (nobody wins it) and says it was cut short; the next start does not go on with it (that
evening is over).
"""

from __future__ import annotations

import re
import signal

from .faults.cluster import Cluster, wait_for

ROUND = ("--lobby-seconds", "0", "--round-seconds", "600", "--targets", "2", "--treasure", "1")


def test_the_round_the_host_stops_counts_in_the_evening_as_cut_short(idle_cluster: Cluster) -> None:
    cluster = idle_cluster
    db = cluster.start_db(*ROUND)
    cluster.player("alice", {"gem.txt": b"a gem" * 100})
    cluster.bot("bob", {"orb.txt": b"an orb" * 100}, "--level", "hard")
    cluster.wait_said("db", r"round 1 started")
    found = cluster.wait_said("bob", r"\+(\d+) for (\S+) \(")
    points, target = int(found.group(1)), found.group(2)

    db.send_signal(signal.SIGINT)  # the host's Ctrl-C
    assert db.wait(timeout=20) == 0
    log = cluster.db_log()
    assert "the evening is over after 1 round:" in log, log[-1500:]
    said = re.search(rf"bob: won 0 of 1 round, (\d+) points, best find {target} \+{points}", log)
    assert said and int(said.group(1)) >= points, log[-1500:]
    assert "round 1 was cut short when the host stopped: its points count, nobody won it" in log
    wait_for(lambda: "the host ended the evening: bob: won 0 of 1 round" in cluster.peer_log(
        "alice"), 20, "alice to hear the evening")  # fmt: skip
    told = cluster.peer_log("alice")  # the round's end first, then the evening's
    cut = told.index("alice: round 1 was cut short when the host stopped: its points count")
    assert cut < told.index("the host ended the evening"), told[-1500:]

    cluster.start_db(*ROUND)  # the next evening starts afresh, not in the middle of round 1
    cluster.wait_said("db", r"round 2 started", timeout=60)
    assert "round 1 resumed" not in cluster.db_log()
