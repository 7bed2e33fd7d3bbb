"""`make bench`'s PostgreSQL and SeaweedFS (scenario 5's scaled rows) are stopped when the
benchmark is: on SIGTERM and on Ctrl-C, not only when it ends well."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .faults.cluster import wait_for
from .servers import postgres_bin, unavailable
from .services import weed_binary

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HOLD_THE_SERVERS = """
import time
from bench.vaultscale import servers
with servers() as (postgres, seaweed):
    postmaster = (postgres.data / "postmaster.pid").read_text().split()[0]
    print(postmaster, seaweed.process.pid, postgres.root, flush=True)
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_benchmark_stopped_by_a_signal_stops_its_database_servers(how: signal.Signals) -> None:
    if postgres_bin() is None or weed_binary() is None:
        unavailable("PostgreSQL or SeaweedFS is not installed: test skipped")
    process = subprocess.Popen([sys.executable, "-c", HOLD_THE_SERVERS], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    postmaster = weed = 0
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        assert len(line) == 3, f"the benchmark's servers did not start: {line!r}"
        postmaster, weed, folder = int(line[0]), int(line[1]), Path(line[2])
        assert alive(postmaster) and alive(weed)
        process.send_signal(how)
        process.wait(60)
        wait_for(lambda: not alive(postmaster) and not alive(weed), 20,
                 "PostgreSQL and SeaweedFS to stop", interval=0.05)  # fmt: skip
        assert not folder.exists(), f"{folder} was left behind"
    finally:
        process.kill()
        process.wait()
        for pid in (postmaster, weed):  # what a failed run left (only the ones it started)
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
