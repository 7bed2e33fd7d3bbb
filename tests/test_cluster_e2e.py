"""Several database peers on one PostgreSQL + SeaweedFS, as real processes: a player given one
of them (`--db`) learns the other from its welcome, and when its database peer is SIGKILLed it
moves to the other by itself, keeps its files, and fetches still work (from a peer, and from
the vault through the database peer it is on now). The second database peer has a copy of the
first one's network keys (`rp2p-db --ca DIR`)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from reliablep2p.proto.tags import split_code

from .conftest import random_bytes
from .faults.cluster import BIN, free_port, wait_for
from .servers import S3_ENV, Postgres, Seaweed
from .test_scale_e2e import ScaledCluster

pytestmark = pytest.mark.slow

FILES = ("mine.bin", "theirs.bin", "other.bin")


def knows_again(log: str, count: int) -> bool:
    """Since it moved, the player's catalog holds `count` files again (the database peer it
    moved to had some when it came, and catalogs the others as their players publish)."""
    moved = log.split(" gone; now on ", 1)
    if len(moved) < 2:
        return False
    lines = moved[1].splitlines()
    had = re.search(r"(\d+) files? in the catalog", lines[0])
    added = sum(len(line.split("new in the catalog: ", 1)[1].split(", "))
                for line in lines if "new in the catalog: " in line)  # fmt: skip
    return had is not None and int(had.group(1)) + added >= count


class TwoDatabases(ScaledCluster):
    """The cluster's database peer, and a second one on the same stores with its own port,
    data folder and a copy of the network's keys."""

    def __init__(self, root: Path, store: str, vault: str, endpoint: str) -> None:
        super().__init__(root, store, vault, endpoint)
        self.second_port = free_port()
        self.keys = root / "keys"

    def start_second(self) -> subprocess.Popen[str]:
        self.keys.mkdir(mode=0o700, exist_ok=True)
        for name in ("ca.key", "ca.pem"):  # the copy the first database peer's host hands over
            shutil.copy2(self.data / name, self.keys / name)
        log = (self.root / "db2.log").open("a")
        process = self._spawn(
            [BIN / "rp2p-db", "--host", "127.0.0.1", "--port", self.second_port,
             "--data", self.root / "db2", "--discovery-port", self.discovery_port,
             "--pause-seconds", "3600", "--ca", self.keys, *self.stores],
            stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "join code: " in line, f"the second rp2p-db printed {line!r}"
        same = split_code(line.split()[2]).network == split_code(self.code).network
        assert same, f"the second database peer is of another network: {line!r}"
        return process


def test_a_player_whose_database_peer_dies_moves_to_the_other_with_its_files(
    tmp_path: Path, postgres: Postgres, seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    cluster = TwoDatabases(tmp_path, postgres.new_database(), seaweed.new_vault(),
                           seaweed.endpoint)  # fmt: skip
    mine, theirs = random_bytes(300_000, seed=1), random_bytes(200_000, seed=2)
    other = random_bytes(100_000, seed=3)
    first = f"127.0.0.1:{cluster.db_port}"
    second = f"127.0.0.1:{cluster.second_port}"
    try:
        database = cluster.start_db()
        cluster.start_second()
        wait_for(lambda: f"database peers of this network: {first}, {second}" in cluster.db_log(),
                 20, "the first database peer to list the second", interval=0.05)  # fmt: skip
        alice = cluster.player("alice", {"mine.bin": mine})
        bob = cluster.player("bob", {"theirs.bin": theirs, "other.bin": other})
        cluster.wait_cataloged("mine.bin", "theirs.bin", "other.bin", timeout=30)
        for name in ("alice", "bob"):  # told by the welcome of the first: both are listed
            wait_for(lambda n=name: f"database peers of the network: {first}, {second}"  # type: ignore[misc]
                     in cluster.peer_log(n), 20, f"{name} to learn of the second database peer",
                     interval=0.05)  # fmt: skip

        cluster.kill(database, signal.SIGKILL)
        for name in ("alice", "bob"):
            wait_for(lambda n=name: f"database peer {first} gone; now on {second}"  # type: ignore[misc]
                     in cluster.peer_log(n), 20, f"{name} to move to the second database peer",
                     interval=0.05)  # fmt: skip
        for name in ("alice", "bob"):  # each published afresh there: the second catalogs all
            wait_for(lambda n=name: knows_again(cluster.peer_log(n), len(FILES)), 20,  # type: ignore[misc]
                     f"{name} to hear the second database peer's catalog", interval=0.05)  # fmt: skip
        answer = alice.get("theirs.bin")  # the peer list of the second: bob is on it
        assert answer.startswith("got theirs.bin ") and " from bob after" in answer, answer
        answer = bob.get("mine.bin")  # alice still seeds hers
        assert answer.startswith("got mine.bin ") and " from alice after" in answer, answer
        assert (cluster.share("alice") / "theirs.bin").read_bytes() == theirs
        assert (cluster.share("bob") / "mine.bin").read_bytes() == mine

        cluster.kill(bob.process, signal.SIGKILL)  # now only the vault has bob's other file
        answer = alice.get("other.bin")
        assert answer.startswith("got other.bin ") and " from the vault after" in answer, answer
        assert (cluster.share("alice") / "other.bin").read_bytes() == other
    finally:
        cluster.close()
