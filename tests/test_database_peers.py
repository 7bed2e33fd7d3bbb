"""Several database peers of one network, in this process: one store, one CA. A database peer
that starts later is pushed to the players (`database_peers`); when theirs dies, they move to
it by themselves, say so in one line, and publish their files there; the order a player tries
them in goes round all it knows."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import pytest
import trio

from reliablep2p.app import words
from reliablep2p.app.options import add_player_options, remember_databases
from reliablep2p.app.profiles import Profile
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.peer import events
from reliablep2p.peer.databases import DatabaseList
from reliablep2p.proto import MAX_DATABASE_PEERS, RemoteProtocolError, check_database_addresses
from reliablep2p.storage.stores import embedded

from .conftest import Network, until


async def test_a_database_peer_started_later_is_pushed_and_players_move_there_when_theirs_dies(
    network: Network, nursery: trio.Nursery, tmp_path: Path
) -> None:
    first = network.db
    node = await network.peer({"notes.txt": b"alice's notes"})
    assert node.databases == [("127.0.0.1", first.port)]
    said: list[events.Event] = []
    node.subscribe(said.append)
    profile = Profile(network.root / "profiles" / node.name)  # (as `rp2p-peer` hooks it up)
    node.subscribe(functools.partial(remember_databases, profile))

    second = DatabasePeer(data_dir=tmp_path / "db2", host="127.0.0.1", port=0, secure=True,
                          stores=embedded(tmp_path / "db"), shared_ca=tmp_path / "db")  # fmt: skip
    await nursery.start(second.run)
    await first.directory.beat()  # (its next heartbeat, now)
    there = ("127.0.0.1", second.port)
    await until(lambda: node.databases == [("127.0.0.1", first.port), there])
    assert any(isinstance(e, events.DatabasesChanged) for e in said)
    last = profile.last_host()
    assert last is not None and last.addresses == [("127.0.0.1", first.port), there]

    first.stop()  # what a crash looks like to the players
    await until(lambda: node.database == there and node.session.connected)
    moved = [words.describe(e) for e in said if isinstance(e, events.Joined)]
    assert moved == [f"database peer 127.0.0.1:{first.port} gone; now on 127.0.0.1:{second.port}:"
                     " 0 peers online, 1 file in the catalog"], moved  # fmt: skip
    await until(lambda: "notes.txt" in second.catalog)  # published there afresh


def test_each_try_goes_to_the_next_database_peer_known_and_round_again() -> None:
    a, b, c = ("10.0.0.1", 9000), ("10.0.0.2", 9000), ("10.0.0.3", 9000)
    known = DatabaseList([a])
    assert known.move_on() == a, "one known: always that one"
    assert known.listed_now([a, b, c]) and known.all == [a, b, c]
    assert [known.move_on() for _ in range(4)] == [b, c, a, b]
    assert known.listed_now([c]), "b and a stopped: c is listed alone"
    assert known.all == [b, c, a], "the current first; the one given (--db) is kept"
    assert [known.move_on() for _ in range(3)] == [c, a, c]
    assert not known.listed_now([c]), "nothing new"


def test_db_takes_several_addresses_comma_separated_or_repeated() -> None:
    parser = argparse.ArgumentParser()
    add_player_options(parser)
    args = parser.parse_args(["--db", "10.0.0.5:9000,10.0.0.6:9001", "--db", "9002"])
    assert args.db == [("10.0.0.5", 9000), ("10.0.0.6", 9001), ("127.0.0.1", 9002)]


def test_a_list_of_database_peers_a_player_could_not_dial_is_refused() -> None:
    check_database_addresses([("10.0.0.5", 9000), ("db.lan", 9001)])
    for bad in ([("", 9000)], [("10.0.0.5", 0)], [("evil\nhost", 9000)], [("a b", 1)]):
        with pytest.raises(RemoteProtocolError, match="no database peer at"):
            check_database_addresses(bad)
    with pytest.raises(RemoteProtocolError, match="65 database peers listed"):
        check_database_addresses([("10.0.0.5", 9000 + n) for n in range(MAX_DATABASE_PEERS + 1)])
