"""Friends on other machines join with the join code alone: no `--db`, no addresses typed.

The host announces its network on the LAN; a code names its network (its first word), so each
player finds the host its code belongs to, and no other host ever sees that player's code.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import random_bytes

from .hosts import Lan
from .players import PLAYER_PORT, player_args, start_database, start_player

ROUNDS = ("--round-seconds", "30", "--pause-seconds", "1")


def network_word(code: str) -> str:
    """The word a join code starts with: it names the code's network."""
    return code.split("-")[0]


def test_two_friends_join_with_the_code_alone_fetch_from_each_other_and_play_a_round(
    lan: Lan, tmp_path: Path
) -> None:
    db_host, ada_host, bo_host = (lan.host(n) for n in ("db", "ada", "bo"))
    database = start_database(db_host, tmp_path, *ROUNDS)
    riddle, poem = random_bytes(2_000_000, seed=3), random_bytes(30_000, seed=4)
    ada = start_player(ada_host, database, tmp_path, "ada", {"riddle.bin": riddle}, code_only=True)
    bo = start_player(bo_host, database, tmp_path, "bo", {"poem.txt": poem}, code_only=True)
    database.wait_cataloged("riddle.bin", "poem.txt")
    assert f"ada joined from {ada_host.address}:{PLAYER_PORT}" in database.log_text()
    assert f"bo joined from {bo_host.address}:{PLAYER_PORT}" in database.log_text()

    ada.wait_output(r"^.*round 1: ", timeout=30)  # two players online: the host starts a round
    got = ada.get("poem.txt")
    assert " from bo after" in got, got
    got = bo.get("riddle.bin")
    assert " from ada after" in got, got
    assert (ada.share / "poem.txt").read_bytes() == poem
    assert (bo.share / "riddle.bin").read_bytes() == riddle
    ada.wait_output(r"\+\d+ for poem\.txt", timeout=20)  # the find scored in the round
    bo.wait_output(r"\+\d+ for riddle\.bin", timeout=20)


def test_with_two_hosts_on_one_lan_each_code_reaches_only_its_own_host(
    lan: Lan, tmp_path: Path
) -> None:
    first = start_database(lan.host("db1"), tmp_path / "one")
    second = start_database(lan.host("db2"), tmp_path / "two")
    tries = 0
    while network_word(second.code) == network_word(first.code):  # one chance in 2,048
        second.process.kill()
        second.process.wait()
        tries += 1
        second = start_database(second.host, tmp_path / f"two-{tries}")  # a new network
    ann_host, cy_host = lan.host("ann"), lan.host("cy")
    start_player(ann_host, first, tmp_path / "one", "ann", {"a.txt": b"ann's"}, code_only=True)
    start_player(cy_host, second, tmp_path / "two", "cy", {"c.txt": b"cy's"}, code_only=True)
    assert f"ann joined from {ann_host.address}" in first.log_text()
    assert f"cy joined from {cy_host.address}" in second.log_text()
    # a host never heard the other's player: no enrollment, no connection from it
    assert ann_host.address not in second.log_text()
    assert cy_host.address not in first.log_text()


def test_a_player_no_announcement_reaches_is_told_about_db_and_db_works(
    lan: Lan, tmp_path: Path
) -> None:
    office, lab = lan.subnet(), lan.subnet()
    lan.router("router", office, lab)
    database = start_database(lan.host("db", subnets=[office]), tmp_path)
    far = lan.host("dee", subnets=[lab])
    alone = far.run(player_args("dee", database, tmp_path, "--get", "x", code_only=True),
                    timeout=60, check=False)  # fmt: skip
    said = [line for line in (alone.stdout + alone.stderr).splitlines() if line.strip()]
    assert alone.returncode != 0 and len(said) == 1, said
    assert "--db" in said[0], said
    assert far.address not in database.log_text()  # nothing reached the host
    start_player(far, database, tmp_path, "dee")  # with --db: joins across the router
    assert re.search(rf"dee joined from {re.escape(far.address)}:", database.log_text())
