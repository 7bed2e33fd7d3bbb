"""A player started as the README says (no --port, no --share) plays from the same folder on
every start: what it fetched, and a get it left halfway, are there again next time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.faults.cluster import BIN, Cluster

NOTES = b"the key is under the third flower pot\n"


def _player(cluster: Cluster, *options: str) -> list[str]:
    """`rp2p-peer` as a friend starts it: the host, a code and a profile; no port, no folder."""
    return [
        str(BIN / "rp2p-peer"), "--host", "127.0.0.1", "--name", "zoe",
        "--db", f"127.0.0.1:{cluster.db_port}", "--enroll-port", str(cluster.enroll_port),
        "--profile", str(cluster.root / "profiles" / "zoe"), *options,
    ]  # fmt: skip


def _run(cluster: Cluster, laptop: Path, argv: list[str], typed: str = "") -> str:
    process = cluster.spawn(argv, cwd=laptop, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    out, _ = process.communicate(typed, timeout=60)
    assert process.returncode == 0, out
    return out


@pytest.mark.slow
def test_a_second_start_with_no_port_seeds_the_folder_of_the_first(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "game")
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    try:
        cluster.start_db()
        cluster.seeder("ada", {"notes.txt": NOTES})
        cluster.wait_cataloged("notes.txt")
        _run(cluster, laptop, _player(cluster, "--code", cluster.code, "--get", "notes.txt"))
        (fetched,) = laptop.glob("port_*/notes.txt")
        assert fetched.read_bytes() == NOTES

        said = _run(cluster, laptop, _player(cluster), typed="seeding\n")

        assert "notes.txt" in said, said
        assert list(laptop.glob("port_*")) == [fetched.parent]  # no second folder beside it
    finally:
        cluster.close()
