"""The game across machines: `rp2p-db` on one host, players on others, found with `--db`.

Each player is a real `rp2p-peer` in its own network namespace, enrolled with the join code the
host printed (on the database peer's own port), and fetches from the other players' hosts.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import random_bytes
from tests.faults.cluster import wait_for

from .hosts import Lan
from .players import BIN, PLAYER_PORT, fetch, player_args, start_database, start_player


def peer_line(name: str) -> str:
    """A line of the `peers` command: NAME  HOST:PORT, and what else it says."""
    return rf"^{name}  (\S+):(\d+)(.*)$"


def test_two_players_on_two_hosts_fetch_each_others_files_from_each_other(
    lan: Lan, tmp_path: Path
) -> None:
    db_host, alice_host, bob_host = (lan.host(n, rate="200mbit") for n in ("db", "alice", "bob"))
    database = start_database(db_host, tmp_path)
    maze, notes = random_bytes(3_000_000, seed=1), random_bytes(20_000, seed=2)
    alice = start_player(alice_host, database, tmp_path, "alice", {"maze.bin": maze})
    bob = start_player(bob_host, database, tmp_path, "bob", {"notes.txt": notes})
    database.wait_cataloged("maze.bin", "notes.txt")
    alice.wait_output(r"joined: bob|new in the catalog: notes\.txt", count=2)

    alice.say("peers")
    listed = alice.wait_output(peer_line("bob"))
    assert listed.groups()[:2] == (bob_host.address, str(PLAYER_PORT))

    got = alice.get("notes.txt")
    assert " from bob after" in got, got
    got = bob.get("maze.bin")
    assert " from alice after" in got, got
    assert (bob.share / "maze.bin").read_bytes() == maze
    assert (alice.share / "notes.txt").read_bytes() == notes
    assert f"alice joined from {alice_host.address}:{PLAYER_PORT}" in database.log_text()


def test_a_player_behind_a_router_reaches_the_host_with_db(lan: Lan, tmp_path: Path) -> None:
    office, lab = lan.subnet(), lan.subnet()
    lan.router("router", office, lab)
    database = start_database(lan.host("db", subnets=[office]), tmp_path)
    start_player(lan.host("alice", subnets=[office]), database, tmp_path, "alice",
                 {"maze.txt": b"the way out is left"})  # fmt: skip
    database.wait_cataloged("maze.txt")
    far = lan.host("dave", subnets=[lab])
    assert far.address.startswith("10.77.2.")  # no broadcast of the office reaches it
    out = fetch(far, database, tmp_path, "dave", "maze.txt")
    assert re.search(r"^got maze\.txt .* from alice after", out, re.MULTILINE), out
    assert f"dave joined from {far.address}:{PLAYER_PORT}" in database.log_text()


def test_a_player_listening_on_one_of_two_interfaces_is_listed_at_that_address(
    lan: Lan, tmp_path: Path
) -> None:
    office, lab = lan.subnet(), lan.subnet()
    lan.router("router", office, lab)
    database = start_database(lan.host("db", subnets=[office]), tmp_path)
    alice = start_player(lan.host("alice", subnets=[office]), database, tmp_path, "alice")
    both = lan.host("carol", subnets=[office, lab])  # calls the host from its office address
    listens = both.addresses[1]
    start_player(both, database, tmp_path, "carol", {"map.txt": b"X marks the spot"},
                 "--host", listens)  # fmt: skip
    database.wait_cataloged("map.txt")
    alice.wait_output(r"new in the catalog: map\.txt")

    alice.say("peers")
    listed = alice.wait_output(peer_line("carol"))
    assert listed.groups() == (listens, str(PLAYER_PORT), ""), listed.group(0)
    got = alice.get("map.txt")
    assert " from carol after 1 probe" in got, got


def test_a_player_nobody_can_reach_back_is_listed_so_and_a_fetch_says_why(
    lan: Lan, tmp_path: Path
) -> None:
    database = start_database(lan.host("db"), tmp_path)
    alice = start_player(lan.host("alice"), database, tmp_path, "alice")
    # listens on its own loopback only: it reaches the host, nobody reaches it
    hermit_host = lan.host("hermit")
    hermit = start_player(hermit_host, database, tmp_path, "hermit",
                          {"diary.txt": b"nobody visits"}, "--host", "127.0.0.1")  # fmt: skip
    database.wait_cataloged("diary.txt")
    hermit.wait_output(r"cannot reach you back at 127\.0\.0\.1:7000")
    # listed where the host sees it (the address is its machine's), marked unreachable
    joined = f"hermit joined from {hermit_host.address}:7000 .*; cannot reach it back: "
    assert re.search(joined, database.log_text()), database.log_text()
    alice.wait_output(r"new in the catalog: diary\.txt")

    alice.say("peers")
    listed = alice.wait_output(peer_line("hermit"))
    assert listed.group(0).endswith("(unreachable)"), listed.group(0)
    got = alice.get("diary.txt")
    assert " from the vault after 1 probe" in got, got
    assert "skipped hermit (unreachable)" in got, got


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_rp2p_tui_on_its_own_host_shows_where_the_others_see_it_and_gets_a_file(
    lan: Lan, tmp_path: Path
) -> None:
    database = start_database(lan.host("db"), tmp_path)
    start_player(lan.host("ada"), database, tmp_path, "ada", {"treasure.txt": b"gold\n" * 99})
    database.wait_cataloged("treasure.txt")
    mine = lan.host("me")
    tmux = mine.tmux("tui")
    exit_file = tmp_path / "exit-status"
    tui = [
        BIN / "rp2p-tui",
        *player_args("me", database, tmp_path)[1:],
        "--log",
        tmp_path / "tui.log",
    ]
    tmux.start(f"{shlex.join(str(a) for a in tui)}; echo $? > {exit_file}", 160, 45)

    def shows(*texts: str) -> bool:
        screen = tmux.screen()
        return all(text in screen for text in texts)

    def wait_shows(*texts: str, what: str, timeout: float = 20) -> None:
        try:
            wait_for(lambda: shows(*texts), timeout, what, interval=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{tmux.screen()}") from None

    here = f"me · {mine.address}:{PLAYER_PORT}"
    wait_shows(here, "ada", "treasure.txt", what="the TUI joined")
    tmux.type(":")
    wait_shows("command: get NAME", what="the command line")
    tmux.type("get treasure.txt")
    tmux.key("Enter")
    wait_shows("✓ treasure.txt  ← ada", what="the transfer from ada")
    assert (tmp_path / "share-me" / "treasure.txt").read_bytes() == b"gold\n" * 99
    tmux.key("C-q")
    wait_for(lambda: exit_file.exists() and exit_file.read_text().strip(), 20,
             "rp2p-tui to exit", interval=0.1)  # fmt: skip
    assert exit_file.read_text().strip() == "0"


def test_a_bare_port_that_several_players_listen_on_asks_which_one(
    lan: Lan, tmp_path: Path
) -> None:
    """On a LAN every friend runs on the same port: `secure-get NAME PORT` must not take one of
    them at random, and HOST:PORT still names one."""
    db_host, alice_host, bob_host, carol_host = (
        lan.host(n) for n in ("db", "alice", "bob", "carol")
    )
    database = start_database(db_host, tmp_path)
    riddle = b"what has keys but opens no locks?"
    alice = start_player(alice_host, database, tmp_path, "alice", {"riddle.txt": riddle})
    start_player(bob_host, database, tmp_path, "bob", {"riddle.txt": riddle})
    carol = start_player(carol_host, database, tmp_path, "carol")
    database.wait_cataloged("riddle.txt")
    carol.wait_output(r"joined as carol: 2 peers online")
    carol.say(f"secure-get riddle.txt {PLAYER_PORT}")
    refused = carol.wait_output(r"^error: .*$").group(0)
    assert refused == (f"error: 2 players listen on port {PLAYER_PORT} (alice at "
                       f"{alice_host.address}:{PLAYER_PORT}, bob at {bob_host.address}:"
                       f"{PLAYER_PORT}): say which, as HOST:PORT")  # fmt: skip
    assert not (carol.share / "riddle.txt").exists()
    carol.say(f"secure-get riddle.txt {alice_host.address}:{PLAYER_PORT}")
    got = carol.wait_output(r"^got riddle\.txt .*$").group(0)
    assert " from alice" in got, got
    assert alice.process.poll() is None
