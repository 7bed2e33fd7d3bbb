"""A flash crowd on the simulated LAN: every player asks for one new file at the same moment.

Each player is a real `rp2p-peer` on its own host with a `tc tbf` rate on its link, so one
seeder's uplink cannot serve them all: they must fetch chunks from each other while they are
still fetching. The seeder dies midway, or a peer serves a corrupt chunk; every player still
ends with the file, byte-identical.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from reliablep2p.proto import describe_bytes
from tests.conftest import random_bytes
from tests.faults.cluster import wait_for

from .hosts import Lan
from .players import Database, Player, start_database, start_player

MIB = 1024 * 1024
RATE = "50mbit"
NAME = "hoard.bin"
GOT = rf"^(got {re.escape(NAME)} |error: ).*$"


def crowd(lan: Lan, database: Database, root: Path, count: int) -> list[Player]:
    """`count` players on hosts of their own, each knowing all the others."""
    players = [start_player(lan.host(f"p{i}", rate=RATE), database, root, f"p{i}")
               for i in range(count)]  # fmt: skip
    for player in players:
        knows_everyone(player, len(players))
    return players


def knows_everyone(player: Player, count: int) -> None:
    """Until `peers` lists the other `count - 1` players of the crowd (and whoever else)."""

    def listed() -> bool:
        start = len(player.output())
        player.say("peers")
        wait_for(lambda: "\n" in player.output()[start:], 10, "an answer", interval=0.02)
        return len(re.findall(r"^p\d+  ", player.output()[start:], re.MULTILINE)) >= count - 1

    wait_for(listed, 20, f"{player.name} to know the crowd", interval=0.2)


def on_disk(player: Player, data: bytes) -> int:
    """Bytes of the file `player` has written so far (its partial file's blocks)."""
    part = player.share / ".rp2p" / f"{describe_bytes(data, NAME).hash.hex()}.part"
    try:
        return part.stat().st_blocks * 512
    except FileNotFoundError:
        return len(data) if (player.share / NAME).exists() else 0


def all_get(players: list[Player]) -> dict[str, str]:
    """Every player types `get` at once; the line each answers."""
    for player in players:
        player.say(f"get {NAME}")
    lines = {p.name: p.wait_output(GOT, timeout=90).group(0) for p in players}
    failed = {name: line for name, line in lines.items() if not line.startswith("got ")}
    assert not failed, failed
    return lines


def sources(line: str) -> set[str]:
    """Who a `got` line says sent bytes."""
    named = set(re.findall(r"[\d,]+ B from (the vault|\S+?)[,)]", line))
    return named or {re.search(r" from (the vault|\S+) after", line).group(1)}  # type: ignore[union-attr]


def test_a_flash_crowd_of_8_finishes_from_each_other_and_the_vault_when_the_seeder_dies(
    lan: Lan, tmp_path: Path
) -> None:
    database = start_database(lan.host("db", rate=RATE), tmp_path)
    data = random_bytes(16 * MIB, seed=21)
    seeder = start_player(lan.host("seeder", rate=RATE), database, tmp_path, "seeder",
                          {NAME: data})  # fmt: skip
    database.wait_cataloged(NAME)
    players = crowd(lan, database, tmp_path, 8)
    for player in players:
        player.say(f"get {NAME}")
    # midway through the seeder's first copy: the crowd holds half a file between them
    wait_for(lambda: sum(on_disk(p, data) for p in players) >= len(data) // 2, 60,
             "half a copy in the crowd", interval=0.01)  # fmt: skip
    seeder.process.send_signal(signal.SIGKILL)
    lines = {p.name: p.wait_output(GOT, timeout=90).group(0) for p in players}
    assert all(line.startswith("got ") for line in lines.values()), lines
    for player in players:
        assert (player.share / NAME).read_bytes() == data, f"{player.name}: corrupted"
    heard = {name: sources(line) for name, line in lines.items()}
    assert any("the vault" in who for who in heard.values()), lines  # what died with the seeder
    for name, who in heard.items():  # and each took chunks from the others in the crowd
        assert who & (set(lines) - {name}), lines[name]


def test_a_peer_serving_a_corrupt_chunk_is_dropped_and_the_crowd_finishes(
    lan: Lan, tmp_path: Path
) -> None:
    database = start_database(lan.host("db", rate=RATE), tmp_path)
    data = random_bytes(8 * MIB, seed=22)
    origin = start_player(lan.host("origin", rate=RATE), database, tmp_path, "origin",
                          {NAME: data})  # fmt: skip
    database.wait_cataloged(NAME)
    origin.process.send_signal(signal.SIGTERM)  # the vault keeps the good copy
    liar = start_player(lan.host("liar", rate=RATE), database, tmp_path, "liar", {NAME: data})
    copy = liar.share / NAME
    stat = copy.stat()
    with copy.open("r+b") as f:  # same size, same time: the liar does not notice
        for index in range(8):  # every chunk: whichever a fetcher asks it for is bad (the vault
            f.seek(index * MIB + 5)  # joins a rare file's crowd at once, and the crowd trades,
            f.write(b"\xff\x00")  # so no one chunk is sure to be asked of the liar)
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    players = crowd(lan, database, tmp_path, 4)
    lines = all_get(players)
    for player in players:
        assert (player.share / NAME).read_bytes() == data, f"{player.name}: corrupted"
    assert any("the vault" in sources(line) for line in lines.values()), lines  # the good copy
    dropped = [p.name for p in players if "liar" not in holders(p)]
    assert dropped, "nobody dropped the peer that sent a bad chunk"


def holders(player: Player) -> str:
    """The `address-book` line of the file, as `player` answers it."""
    start = len(player.output())
    player.say("address-book")
    wait_for(lambda: "map size" in player.output()[start:], 10, "the address book", interval=0.02)
    book = player.output()[start:]
    return next((line for line in book.splitlines() if line.startswith(f"{NAME}:")), "")
