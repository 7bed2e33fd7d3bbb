"""What a player's restart keeps. Started as the README says (no --port, no --share), it plays
from the same folder on every start: what it fetched, and a get it left halfway, are there
again next time. And the evening it says at the end counts the rounds from before a restart."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reliablep2p.app.profiles import EVENING_GAP, KeptEvening, Profile
from reliablep2p.proto import EveningRow
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


@pytest.mark.slow
def test_the_evening_said_at_the_end_counts_the_rounds_from_before_a_restart(
    tmp_path: Path,
) -> None:
    """It said "won 0 of 1 round" after a second round: the first was before the restart."""
    cluster = Cluster(tmp_path / "game")
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    log = cluster.root / "zoe.log"

    def play_until_over(number: int, *options: str) -> str:
        """Play until round `number` is over, then leave (end of input); the evening it says."""
        process = cluster.spawn(_player(cluster, *options), cwd=laptop, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log.open("a"))  # fmt: skip
        cluster.wait_said("zoe", rf"round {number} is over")
        out, _ = process.communicate("", timeout=60)
        assert process.returncode == 0, out
        (said,) = re.findall(r"your evening: .*", out)
        return said

    try:
        cluster.start_db("--round-seconds", "2", "--pause-seconds", "4", "--lobby-seconds", "0")
        cluster.seeder("ada", {"notes.txt": NOTES})
        cluster.wait_cataloged("notes.txt")
        assert play_until_over(1, "--code", cluster.code).startswith(
            "your evening: won 0 of 1 round,"
        )

        said = play_until_over(2)

        assert said.startswith("your evening: won 0 of 2 rounds,"), said
    finally:
        cluster.close()


def test_a_kept_evening_is_over_at_the_goodnight_or_hours_after_its_last_round(
    tmp_path: Path,
) -> None:
    profile = Profile(tmp_path / "zoe")
    kept = KeptEvening([EveningRow("zoe", 3, 1, 40, "gem", 15)], last=7, ended=1000.0)
    profile.keep_evening(kept)
    assert profile.kept_evening(now=1000.0 + 60) == kept
    assert profile.kept_evening(now=1000.0 + EVENING_GAP) is None  # the next evening
    profile.keep_evening(None)  # the host said goodnight
    assert profile.kept_evening(now=1000.0 + 60) is None
    (tmp_path / "zoe" / "evening.json").write_text("{not json")
    assert profile.kept_evening(now=1000.0) is None  # unreadable: a fresh evening, no error
