"""End to end, as a user runs it: `rp2p-db` and three `rp2p-peer` processes on loopback.

The peers join with the join code `rp2p-db` prints, seed files of 0 B, a few KiB and ~50 MiB, and
fetch each other's files with `rp2p-peer --get`. Then every seeder goes (one by SIGKILL), every
file still comes from the database peer's vault, and still does after that peer restarts.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from .faults.cluster import Cluster, wait_for

pytestmark = pytest.mark.slow

FILES = {
    "alice": {"empty.txt": b""},
    "bob": {"notes.txt": random.Random(1).randbytes(5 * 1024 + 3)},
    "carol": {"film.bin": os.urandom(50 * 1024 * 1024 + 12345)},
}
EVERY_FILE = {name: data for files in FILES.values() for name, data in files.items()}


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def port_of(process: subprocess.Popen[str]) -> int:
    args = [str(a) for a in process.args]  # type: ignore[union-attr]
    return int(args[args.index("--port") + 1])


def assert_share_holds_every_file(share: Path) -> None:
    """Every file is in the share byte for byte, and nothing else: no partial or temporary file."""
    for name, data in EVERY_FILE.items():
        assert (share / name).read_bytes() == data, f"{name} differs in {share}"
    present = {str(p.relative_to(share)) for p in share.rglob("*") if p.is_file()}
    assert present == set(EVERY_FILE), f"left behind: {present - set(EVERY_FILE)}"


def assert_got(output: str, names: list[str], *, source: str | None = None) -> None:
    """The `--get` output has one `got` line per file (from `source`, if given)."""
    for name in names:
        line = next((ln for ln in output.splitlines() if ln.startswith(f"got {name} ")), None)
        assert line is not None, f"no line for {name} in {output!r}"
        if source is not None:
            assert f" from {source} after" in line, line


def test_three_peers_share_then_the_vault_serves_everything_even_after_a_restart(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path)
    try:
        database = cluster.start_db()
        assert cluster.code, "rp2p-db printed no join code"
        seeders = {name: cluster.seeder(name, files) for name, files in FILES.items()}
        joined = [f"{name} joined from" for name in seeders]
        wait_for(lambda: all(j in cluster.db_log() for j in joined), 30, "the seeders to join")
        cluster.wait_cataloged(*EVERY_FILE, timeout=30)

        # each peer fetches the others' files into its own share, from the peers themselves
        for name in FILES:
            others = [f for other, files in FILES.items() if other != name for f in files]
            share = cluster.share(name)
            out = cluster.fetch(f"{name}-get", *others, share=share)
            assert_got(out, others)
            assert "from vault" not in out, (
                f"{name} used the vault while the seeders were up: {out}"
            )
            assert_share_holds_every_file(share)

        # every seeder goes: one is killed outright, the others leave as they should
        seeder_ports = [port_of(p) for p in seeders.values()]
        cluster.kill(seeders["carol"], signal.SIGKILL)
        for name in ("alice", "bob"):
            seeders[name].send_signal(signal.SIGTERM)
            assert seeders[name].wait(timeout=20) == 0, f"{name} did not exit 0 on SIGTERM"
        assert not any(listening(port) for port in seeder_ports)

        out = cluster.fetch("dave", *EVERY_FILE)
        assert_got(out, list(EVERY_FILE), source="vault")
        assert_share_holds_every_file(cluster.share("dave"))

        # the database peer stops cleanly and comes back with its vault and its join code
        database.send_signal(signal.SIGTERM)
        assert database.wait(timeout=20) == 0, "rp2p-db did not exit 0 on SIGTERM"
        assert not listening(cluster.db_port)
        cluster.start_db()
        out = cluster.fetch("erin", *EVERY_FILE)  # erin enrolls with the first code
        assert_got(out, list(EVERY_FILE), source="vault")
        assert_share_holds_every_file(cluster.share("erin"))
    finally:
        cluster.close()
    assert not listening(cluster.db_port) and not listening(cluster.enroll_port)
