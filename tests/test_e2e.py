"""End to end, as a user runs it: `rp2p-db` and three `rp2p-peer` processes on loopback.

The peers join with the join code `rp2p-db` prints, seed files of 0 B, a few KiB and ~50 MiB, and
fetch each other's files by typing `get` (a share belongs to one peer at a time). Then every seeder
goes (one by SIGKILL), every file still comes from the vault, and still does after the database
peer restarts; `rp2p-peer --get` fetches them.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest

from .conftest import random_bytes
from .faults.cluster import Cluster, wait_for

pytestmark = pytest.mark.slow

SIZES = {"alice": {"empty.txt": 0}, "bob": {"notes.txt": 5 * 1024 + 3},
         "carol": {"film.bin": 50 * 1024 * 1024 + 12345}}  # fmt: skip
EVERY_NAME = [name for files in SIZES.values() for name in files]


@pytest.fixture
def files() -> dict[str, dict[str, bytes]]:
    """Each seeder's files, made when the test runs (not when pytest collects it)."""
    return {peer: {n: random_bytes(size, seed=size) for n, size in named.items()}
            for peer, named in SIZES.items()}  # fmt: skip


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def port_of(process: subprocess.Popen[str]) -> int:
    args = [str(a) for a in process.args]  # type: ignore[union-attr]
    return int(args[args.index("--port") + 1])


def assert_share_holds(share: Path, expected: dict[str, bytes]) -> None:
    """Each file is in the share byte for byte, and nothing else: no partial or temporary file."""
    for name, data in expected.items():
        assert (share / name).read_bytes() == data, f"{name} differs in {share}"
    present = {str(p.relative_to(share)) for p in share.rglob("*") if p.is_file()}
    assert present == set(expected), f"left behind: {present - set(expected)}"


def assert_got(output: str, names: list[str], *, source: str | None = None) -> None:
    """The `--get` output has one `got` line per file (from `source`, if given)."""
    for name in names:
        line = next((ln for ln in output.splitlines() if ln.startswith(f"got {name} ")), None)
        assert line is not None, f"no line for {name} in {output!r}"
        if source is not None:
            assert f" from {source} after" in line, line


def test_three_peers_share_then_the_vault_serves_everything_even_after_a_restart(
    tmp_path: Path, files: dict[str, dict[str, bytes]]
) -> None:
    every_file = {name: data for named in files.values() for name, data in named.items()}
    cluster = Cluster(tmp_path)
    try:
        database = cluster.start_db()
        assert cluster.code, "rp2p-db printed no join code"
        players = {name: cluster.player(name, named) for name, named in files.items()}
        seeders = {name: player.process for name, player in players.items()}
        joined = [f"{name} joined from" for name in seeders]
        wait_for(lambda: all(j in cluster.db_log() for j in joined), 30, "the seeders to join")
        cluster.wait_cataloged(*EVERY_NAME, timeout=30)

        # each peer fetches the others' files into its own share, from the peers themselves
        for name, player in players.items():
            others = [f for other, named in files.items() if other != name for f in named]
            out = "\n".join(player.get(other) for other in others)
            assert_got(out, others)
            assert "from the vault" not in out, (
                f"{name} used the vault while the seeders were up: {out}"
            )
            assert_share_holds(cluster.share(name), every_file)

        # every seeder goes: one is killed outright, the others leave as they should
        seeder_ports = [port_of(p) for p in seeders.values()]
        cluster.kill(seeders["carol"], signal.SIGKILL)
        for name in ("alice", "bob"):
            seeders[name].send_signal(signal.SIGTERM)
            assert seeders[name].wait(timeout=20) == 0, f"{name} did not exit 0 on SIGTERM"
        assert not any(listening(port) for port in seeder_ports)

        out = cluster.fetch("dave", *EVERY_NAME)
        assert_got(out, EVERY_NAME, source="the vault")
        assert_share_holds(cluster.share("dave"), every_file)

        # the database peer stops cleanly and comes back with its vault and its join code
        database.send_signal(signal.SIGTERM)
        assert database.wait(timeout=20) == 0, "rp2p-db did not exit 0 on SIGTERM"
        assert not listening(cluster.db_port)
        cluster.start_db()
        out = cluster.fetch("erin", *EVERY_NAME)  # erin enrolls with the first code
        assert_got(out, EVERY_NAME, source="the vault")
        assert_share_holds(cluster.share("erin"), every_file)

        # what cannot be fetched gets one line of reason each, and the exit status says so
        process = cluster.fetcher("frank", "nowhere.txt", "../escape", "notes.txt")
        out, _ = process.communicate(timeout=60)
        reasons = [
            ln
            for ln in (tmp_path / "frank.log").read_text().splitlines()
            if ln.startswith("rp2p-peer:")
        ]
        assert process.returncode == 1, out
        assert len(reasons) == 2, reasons
        assert "nowhere.txt" in reasons[0] and "refused file name" in reasons[1], reasons
        assert_got(out, ["notes.txt"])
    finally:
        cluster.close()
    assert not listening(cluster.db_port) and not listening(cluster.enroll_port)
