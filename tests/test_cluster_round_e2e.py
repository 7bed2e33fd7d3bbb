"""Two `rp2p-db` processes on one PostgreSQL and one SeaweedFS vault, real `rp2p-peer` players
on both, TLS. A file published through one is fetched through the other, and the find scores
at the round host; the host is SIGKILLed mid-round: the other takes the lease and goes on with
the round, with the time it had left; the dead one's player moves to it by itself; nothing is
lost (the files, the score, the round)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from .conftest import random_bytes
from .faults.cluster import BIN, free_port, wait_for
from .servers import S3_ENV, Postgres, Seaweed
from .test_scale_e2e import ScaledCluster

pytestmark = pytest.mark.slow

ROUNDS = ("--round-seconds", "90", "--lobby-seconds", "1")


class TwoHosts(ScaledCluster):
    """The cluster's database peer (`db`, started first: it hosts the rounds), and `db2`."""

    def __init__(self, root: Path, store: str, vault: str, endpoint: str) -> None:
        super().__init__(root, store, vault, endpoint)
        self.db2_port = free_port()
        self.db2_data = root / "db2"
        self.on_db2: set[str] = set()
        """The players that join through `db2`."""

    def start_db2(self, *options: str) -> None:
        keys = self.root / "keys"
        keys.mkdir(mode=0o700)
        for name in ("ca.key", "ca.pem"):  # the copy of the network's keys it is given
            shutil.copy2(self.data / name, keys / name)
        log = (self.root / "db2.log").open("a")
        self._spawn(
            [BIN / "rp2p-db", "--host", "127.0.0.1", "--port", self.db2_port,
             "--enroll-port", free_port(), "--data", self.db2_data, "--ca", keys,
             "--discovery-port", free_port(), *self.stores, *options],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip

    def peer_args(self, name: str, port: int | None = None) -> list[str]:
        args = super().peer_args(name, port)
        if name in self.on_db2:
            args[args.index("--db") + 1] = f"127.0.0.1:{self.db2_port}"
        return args


def test_two_database_peers_share_files_and_the_round_and_one_takes_over_when_the_host_dies(
    tmp_path: Path, postgres: Postgres, seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    store, vault = postgres.new_database(), seaweed.new_vault()
    cluster = TwoHosts(tmp_path, store, vault, seaweed.endpoint)
    cluster.on_db2 = {"bob"}
    maps = {"alice": random_bytes(300_000, seed=1), "bob": random_bytes(200_000, seed=2)}
    try:
        host = cluster.start_db(*ROUNDS)
        cluster.wait_said("db", "this database peer hosts the rounds now", 30)
        cluster.start_db2(*ROUNDS)
        cluster.wait_said("db2", r"database peer \w+ hosts the rounds", 30)
        alice = cluster.player("alice", {"alice.map": maps["alice"]})
        cluster.wait_said("alice", "joined as alice")  # listening: bob's free port is another
        bob = cluster.player("bob", {"bob.map": maps["bob"]})
        targets = {  # one round for both, hosted by the first database peer
            name: int(cluster.wait_said(name, r"round 1: (\d+) files? to find").group(1))
            for name in ("alice", "bob")
        }
        # bob's database peer relays: alice's file, published through the other, is fetched
        # through this one, and bob's find is checked and scored at the host
        bob.type("get alice.map")
        verdict = cluster.wait_said("bob", r"\+(\d+) for alice\.map")
        points = int(verdict.group(1))
        assert (cluster.share("bob") / "alice.map").read_bytes() == maps["alice"]

        # the host lists the other as soon as it hears it on the bus: alice knows where to go
        listed = rf"database peers of the network: .*:{cluster.db2_port}"
        wait_for(lambda: re.search(listed, cluster.peer_log("alice")), 30, "alice to hear of db2")
        cluster.kill(host, signal.SIGKILL)  # mid-round
        killed = time.monotonic()
        left = int(cluster.wait_said("db2", r"round 1 resumed with (\d+) s left", 30).group(1))
        print(f"the other database peer resumed the round {time.monotonic() - killed:.1f} s"
              " after the host was killed")  # fmt: skip
        assert 0 < left <= 90  # the time it had left (the seconds it was away are not counted)
        # alice moves to the database peer that is left, and the round goes on for her
        cluster.wait_said("alice", rf"now on 127\.0\.0\.1:{cluster.db2_port}", 30)
        resumed = cluster.wait_said("alice", r"round 1 resumes: (\d+) files? to find, (\d+) s left")
        assert int(resumed.group(1)) == targets["alice"]  # her own round, as it was
        assert 0 < int(resumed.group(2)) <= left + 1
        # nothing lost: the files, the catalog, bob's points from the round before the kill
        alice.type("get bob.map")
        cluster.wait_said("alice", r"\+\d+ for bob\.map")
        assert (cluster.share("alice") / "bob.map").read_bytes() == maps["bob"]
    finally:
        cluster.close()
    with psycopg.connect(store) as db:
        names = {name for (name,) in db.execute("SELECT name FROM catalog")}
        assert {"alice.map", "bob.map"} <= names
        scores = dict(db.execute("SELECT name, score FROM players").fetchall())
        assert scores["bob"] >= points > 0 and scores["alice"] > 0, scores
