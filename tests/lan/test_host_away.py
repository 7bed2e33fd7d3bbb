"""The host's machine loses its `rp2p-db` (SIGKILL) mid-round, and it comes back.

Players on their own hosts say so in one line each way, rejoin by themselves, and the round
goes on with the time it had left: the host kept it in its store.
"""

from __future__ import annotations

import re
from pathlib import Path

from .hosts import Lan
from .players import DB_PORT, start_database, start_player


def test_the_host_killed_mid_round_is_told_once_each_way_and_the_round_goes_on(
    lan: Lan, tmp_path: Path
) -> None:
    db_host = lan.host("db")
    rounds = ("--round-seconds", "120", "--pause-seconds", "3600", "--lobby-seconds", "1")
    database = start_database(db_host, tmp_path, *rounds)
    alice = start_player(lan.host("alice"), database, tmp_path, "alice", {"map.txt": b"north"})
    bob = start_player(lan.host("bob"), database, tmp_path, "bob", {"key.txt": b"brass"})
    players = (alice, bob)
    for player in players:  # the round starts once both are in (after the 1 s lobby)
        player.wait_output(r"round 1: \d+ files? to find")

    database.process.kill()
    database.process.wait(timeout=10)
    where = re.escape(f"{db_host.address}:{DB_PORT}")
    lost = rf"lost the host at {where} — retrying \(round 1 is paused with (\d+) s left\)$"
    paused = {p.name: int(p.wait_output(lost).group(1)) for p in players}
    start_database(db_host, tmp_path, *rounds)  # the same data folder: its network, its round
    for player in players:
        player.wait_output(rf"back with the host at {where}: ")
        resumes = player.wait_output(r"round 1 resumes: \d+ files? to find, (\d+) s left")
        resumed = int(resumes.group(1))
        assert abs(resumed - paused[player.name]) <= 2, (player.name, paused, resumed)
        said = player.output()
        assert said.count("lost the host") == 1 and said.count("back with the host") == 1, said
        assert "retrying" not in said.replace("— retrying (round 1", ""), said  # one line, once
        assert "SSL" not in said and "Traceback" not in said, said
    assert "round 1 resumed" in database.log_text()
    print(f"paused with {paused} s left; the host came back and the round went on")
