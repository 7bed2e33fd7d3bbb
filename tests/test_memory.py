"""Memory stays flat: a 200 MiB transfer between two real processes costs each of them no more
than a small file does, give or take 30 MiB (the file is streamed, never held whole).

The seeder is a long-running `rp2p-peer`: its peak (VmHWM) is reset through
/proc/PID/clear_refs before each transfer. The receiver is one `rp2p-peer --get` per transfer:
its peak is the ru_maxrss that wait4 reports when it exits.

Linux folds the peak RSS of the image a process replaces at exec into its ru_maxrss, so a child
spawned straight from this (large) test process would report at least our own size and hide its
growth. The receiver is therefore spawned by a tiny launcher, which reports the wait4 figure.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .faults.cluster import BIN, Cluster, peak_rss_kib

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
BIG, SMALL = "big.bin", "small.bin"
GROWTH_LIMIT_KIB = 30 * 1024


def write_random(path: Path, size: int) -> bytes:
    """Write `size` random bytes a piece at a time; returns their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(0, size, 4 * MIB):
            piece = os.urandom(min(4 * MIB, size - out.tell()))
            digest.update(piece)
            out.write(piece)
    return digest.digest()


def file_digest(path: Path) -> bytes:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def reset_peak(pid: int) -> None:
    """Start the process's VmHWM over from its current resident size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(command: list[str], peak: Path, log: Path, timeout: float = 120) -> tuple[str, int]:
    """Run `command` to the end under the launcher: its standard output and peak RSS in KiB.

    The launcher and its child share a process group, killed whatever happens.
    """
    with log.open("a") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER, str(peak), *command],
            stdout=subprocess.PIPE, stderr=stderr, text=True, process_group=0,
        )  # fmt: skip
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    assert process.returncode == 0, f"{command[0]} exited {process.returncode}: {out}"
    return out, int(peak.read_text())


def fetch_measured(cluster: Cluster, fetcher: str, name: str) -> tuple[str, int]:
    """Run `rp2p-peer --get name` to the end: its output and its peak RSS in KiB."""
    command = [str(BIN / "rp2p-peer"), *cluster.peer_args(fetcher), "--get", name]
    return measured(command, cluster.root / f"{fetcher}.peak", cluster.root / f"{fetcher}.log")


def test_the_peak_measurement_sees_what_a_child_allocates_even_from_a_big_parent(
    tmp_path: Path,
) -> None:
    """Guard for the measurement itself: our own size must not mask the receiver's growth."""
    ballast = bytearray(100 * MIB)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # resident, not just reserved
    greedy = "x = bytearray(64 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"
    log = tmp_path / "log"
    _, idle = measured([sys.executable, "-c", "pass"], tmp_path / "idle", log)
    _, large = measured([sys.executable, "-c", greedy], tmp_path / "greedy", log)
    assert idle < 50 * 1024, f"the launcher reported {idle} KiB for an idle child"
    assert large - idle > 60 * 1024, f"64 MiB allocated, {large - idle} KiB seen"
    del ballast


def test_a_200_mib_transfer_grows_neither_process_by_more_than_30_mib(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start_db()
        share = cluster.share("seeder")
        (share / SMALL).write_bytes(os.urandom(64 * 1024))
        expected = write_random(share / BIG, 200 * MIB)
        seeder = cluster.seeder("seeder")
        cluster.wait_cataloged(SMALL, BIG, timeout=120)  # the backup upload is over

        reset_peak(seeder.pid)
        out, receiver_small = fetch_measured(cluster, "small-fetcher", SMALL)
        assert "from seeder" in out, out
        seeder_small = peak_rss_kib(seeder.pid)

        reset_peak(seeder.pid)
        out, receiver_big = fetch_measured(cluster, "big-fetcher", BIG)
        assert "from seeder" in out, out
        seeder_big = peak_rss_kib(seeder.pid)
        assert file_digest(cluster.share("big-fetcher") / BIG) == expected

        print(f"peak RSS, small file → 200 MiB: seeder {seeder_small} → {seeder_big} KiB, "
              f"receiver {receiver_small} → {receiver_big} KiB")  # fmt: skip
        seeder_growth, receiver_growth = seeder_big - seeder_small, receiver_big - receiver_small
        assert seeder_growth < GROWTH_LIMIT_KIB, f"the seeder grew by {seeder_growth} KiB"
        assert receiver_growth < GROWTH_LIMIT_KIB, f"the receiver grew by {receiver_growth} KiB"
    finally:
        cluster.close()
        shutil.rmtree(tmp_path / "cluster", ignore_errors=True)  # ~600 MiB of copies
