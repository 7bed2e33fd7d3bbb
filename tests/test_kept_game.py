"""What of the game outlasts its host, through the real programs: the settings `rp2p-db set`
changed (a lone host on SQLite that crashed and came back; another database peer taking the
rounds over) and the evening so far (the goodnight counts every round, whoever hosted it); and
a kick through one database peer reports the refusals of every database peer's players."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from .faults.cluster import Cluster
from .servers import S3_ENV, Postgres, Seaweed
from .test_cluster_round_e2e import TwoHosts

pytestmark = pytest.mark.slow

OVER = re.compile(r"round (\d+) over: ")
STARTED = re.compile(r"round (\d+) started: \d+ files \(\d+ planted\), (\S+) s;")


def set_setting(cluster: Cluster, key: str, value: str) -> subprocess.CompletedProcess[str]:
    done = cluster.run("rp2p-db", "set", key, value, "--data", cluster.data,
                       "--port", cluster.db_port)  # fmt: skip
    assert done.returncode == 0, done
    return done


def test_a_setting_outlasts_a_crash_of_the_host_and_an_option_given_at_start_overrides_it(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path)
    try:
        host = cluster.start_db()
        assert "round-seconds is now 33" in set_setting(cluster, "round-seconds", "33").stdout
        cluster.kill(host, signal.SIGKILL)
        host = cluster.start_db()  # no --round-seconds: what was set holds
        shown = set_setting(cluster, "targets", "4").stdout
        assert "(round-seconds 33, " in shown and ", targets 4," in shown, shown
        cluster.kill(host, signal.SIGTERM)
        cluster.start_db("--round-seconds", "50")  # given at start: it is set
        shown = set_setting(cluster, "treasure", "1").stdout
        assert "(round-seconds 50, " in shown and ", targets 4," in shown, shown
    finally:
        cluster.close()


@pytest.fixture
def two(tmp_path: Path, postgres: Postgres, seaweed: Seaweed,
        monkeypatch: pytest.MonkeyPatch) -> TwoHosts:  # fmt: skip
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    return TwoHosts(tmp_path, postgres.new_database(), seaweed.new_vault(), seaweed.endpoint)


def test_the_settings_and_the_evening_so_far_go_on_when_another_takes_over_the_rounds(
    two: TwoHosts,
) -> None:
    two.on_db2 = {"bob"}
    quick = ("--round-seconds", "3", "--pause-seconds", "1")
    try:
        host = two.start_db(*quick, "--lobby-seconds", "1")
        two.wait_said("db", "this database peer hosts the rounds now", 30)
        two.start_db2(*quick)
        two.wait_said("db2", r"database peer \w+ hosts the rounds", 30)
        assert "round-seconds is now 5" in set_setting(two, "round-seconds", "5").stdout
        relayed = two.run("rp2p-db", "set", "treasure-rounds", "4", "--data", two.data,
                          "--port", two.db2_port)  # fmt: skip
        assert relayed.returncode == 0, relayed  # any database peer takes it, the host too:
        two.wait_said("db", "setting treasure-rounds is now 4", 10)
        two.player("alice")
        two.wait_said("alice", "joined as alice")
        two.player("bob")
        two.wait_said("db", r"round 2 over: ", 60)  # two rounds hosted by the first
        two.kill(host, signal.SIGKILL)
        started = two.wait_said("db2", STARTED.pattern, 60)  # a round of the one taking over
        assert started.group(2) == "5", f"round-seconds 5 was set: {started.group(0)}"
        two.wait_said("db2", rf"round {started.group(1)} over: ", 30)
        assert two.db is not None
        db2 = next(p for p in two.processes if p is not host and p is not two.db
                   and "--ca" in p.args)  # fmt: skip
        two.kill(db2, signal.SIGTERM)
        log = (two.root / "db2.log").read_text()
        played = {int(n) for n in OVER.findall(two.db_log() + log)}
        assert played == set(range(1, max(played) + 1)), played
        said = re.search(r"the evening is over after (\d+) rounds:", log)
        assert said is not None, log[-2000:]
        assert int(said.group(1)) == max(played), f"{said.group(0)} of rounds {sorted(played)}"
        assert re.search(rf"bob: won \d+ of {max(played)} rounds", log), log[-2000:]
    finally:
        two.close()


def test_a_kick_counts_the_refusals_of_every_database_peers_players(two: TwoHosts) -> None:
    two.on_db2 = {"bob", "carol"}
    try:
        two.start_db()
        two.wait_said("db", "this database peer hosts the rounds now", 30)
        two.start_db2()
        two.wait_said("db", r"database peer \w+ is on the bus", 30)
        for name in ("alice", "bob", "carol"):
            two.player(name)
            two.wait_said(name, f"joined as {name}")
        kicked = two.run("rp2p-db", "kick", "carol", "--data", two.data, "--port", two.db_port)
        assert kicked.returncode == 0, kicked
        assert "told 2 of 2 online peers" in kicked.stdout, kicked.stdout  # alice and bob
        two.wait_said("carol", r"kicked|revoked", 20)
    finally:
        two.close()
