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
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.net.channel import open_channel
from reliablep2p.net.identity import DATABASE_NAME, Identity
from reliablep2p.proto import Connect, Welcome

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


SESSIONS = 200
SESSION_GROWTH_LIMIT_KIB = 60 * 1024


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def unused_ports(count: int) -> list[int]:
    """Ports nobody listens on, all different (each player has its own address)."""
    with contextlib.ExitStack() as held:
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


async def hold_sessions(port: int, identities: list[Identity], resident: Callable[[], int]) -> int:
    """Join with every identity (a few at a time, as a crowd arrives) and, with all sessions
    still open, return what the database peer holds in memory."""
    async with contextlib.AsyncExitStack() as sessions:
        joining = trio.CapacityLimiter(20)
        ports = unused_ports(len(identities))

        async def join(identity: Identity, listen_port: int) -> None:
            async with joining:
                channel = await open_channel(
                    "127.0.0.1", port, name=identity.name, listen_port=listen_port,
                    tls=identity.client_context(), expect=DATABASE_NAME,
                )  # fmt: skip
                await sessions.enter_async_context(channel)
                await channel.send(Connect())
                await channel.receive_message(Welcome)

        async with trio.open_nursery() as nursery:
            for identity, listen_port in zip(identities, ports, strict=True):
                nursery.start_soon(join, identity, listen_port)
        return resident()


def test_hundreds_of_tls_sessions_cost_the_database_peer_little_memory(tmp_path: Path) -> None:
    """A LAN party's sessions idle between small messages: none may hold a megabyte."""
    cluster = Cluster(tmp_path / "cluster")
    try:
        db = cluster.start_db()
        authority = NetworkAuthority.load_or_create(cluster.data)  # the network's own CA
        identities = [
            authority.identity(f"crowd{i}", tmp_path / "profiles" / f"crowd{i}")
            for i in range(SESSIONS)
        ]
        before = resident_kib(db.pid)
        during = trio.run(hold_sessions, cluster.db_port, identities, lambda: resident_kib(db.pid))
        print(f"rp2p-db resident memory: {before} KiB, with {SESSIONS} TLS sessions {during} KiB")
        assert during - before < SESSION_GROWTH_LIMIT_KIB, (
            f"{SESSIONS} sessions: +{during - before} KiB"
        )
    finally:
        cluster.close()
