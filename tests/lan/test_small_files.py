"""A small file comes in the probe's own round trip, on the simulated LAN.

On a LAN each round trip is a player's wait, and at a round's start (every player asking for
the same new targets, the links full of bigger files) each one is long: a tiny file must
cost one dial and one answer from its holder, nothing more. Read from the fetcher's `-v` log,
where every probe says which chunks it asked for and what came back.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import random_bytes

from .hosts import Lan
from .players import PLAYER_PORT, start_database, start_player

RATE = "200mbit"
PROBE = re.compile(r"probe of (\S+) for (\S+) asking chunks \[([\d, ]*)\]: (.+) after \d+ ms$",
                   re.MULTILINE)  # fmt: skip


def test_a_tiny_file_a_map_points_to_comes_with_the_holders_first_answer(
    lan: Lan, tmp_path: Path
) -> None:
    database = start_database(lan.host("db", rate=RATE), tmp_path)
    holder = start_player(lan.host("holder", rate=RATE), database, tmp_path, "holder")
    told = start_player(lan.host("told", rate=RATE), database, tmp_path, "told")
    fetcher = start_player(lan.host("fetcher", rate=RATE), database, tmp_path, "fetcher",
                           None, "-v")  # fmt: skip
    for i in range(10):  # a new note each time, that only the holder and its map know of
        name = f"note-{i}.txt"
        (holder.share / name).write_bytes(random_bytes(10_752 + 997 * i, seed=40 + i))
        database.wait_cataloged(name)
        told.say(f"map {holder.host.address}:{PLAYER_PORT}")  # asked first, it answers its map
        told.wait_output(r"^map from holder \(\S+\): ", count=i + 1)
        fetcher.wait_output(rf"new in the catalog: .*{re.escape(name)}")
        got = fetcher.get(name)
        assert " from holder after" in got, got
    probes = PROBE.findall(fetcher.output())
    mapped = [p for p in probes if p[0] == "told" and p[3] == "map"]
    assert mapped, probes  # the search went by the map at least once (a 1 in 1024 miss)
    empty = [p for p in probes if p[0] == "holder" and not p[2].strip()]
    assert not empty, f"the holder was asked for no chunk of a 1-chunk file: {empty}"
    assert all(p[3] == "file" for p in probes if p[0] == "holder"), probes
