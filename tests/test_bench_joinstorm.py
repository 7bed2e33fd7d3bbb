"""`make bench`'s join storm runs the database peer as the real `rp2p-db`, a process of its
own, and still counts every frame any node sent: the database peer's too."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import trio

from bench.counting import counting
from bench.joindb import StormLog
from bench.joinstorm import Storm

N = 6


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "TLS"])
def test_the_join_storm_runs_rp2p_db_as_a_process_and_counts_its_frames(
    tmp_path: Path, tls: bool
) -> None:
    logging.getLogger("rp2p").setLevel(logging.ERROR)
    storm = Storm(tmp_path, N, tls)
    with counting() as traffic:
        converged, sent = trio.run(storm.run, traffic)
    assert converged > 0 and storm.db_cpu > 0, "no CPU time of a database peer process"
    # Only the database peer sends `Welcome` (one per player) and its first `Hello` answers.
    assert sent.messages["Welcome"] == N
    assert sent.connections >= N
    assert sent.wire_bytes > sent.frame_bytes if tls else sent.wire_bytes == sent.frame_bytes
    assert storm.db_pid not in (0, os.getpid())
    with pytest.raises(ProcessLookupError):  # stopped with the storm, not left running
        os.kill(storm.db_pid, 0)


def test_the_storm_log_names_the_push_rounds_that_began_with_joins_still_to_come() -> None:
    """The log line of each storm says which push rounds began mid-storm (and how long after
    the last join and after a full collection): the one before any join, or after the last,
    is not one of them."""
    log = StormLog(3)
    log.pushed()  # (the database peer's first round, before the storm)
    log.joined()
    log.pushed()
    log.joined()
    log.joined()
    log.pushed()  # the storm's last round: everyone is in
    assert [r["joined"] for r in log.mid_storm] == [1]
    assert StormLog.described(log.mid_storm).startswith("1 push rounds mid-storm (at 1 joined, ")
