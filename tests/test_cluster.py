"""Two database peers on one PostgreSQL and one S3 vault (real servers, tests/servers.py), in
this process, with players on both: the bus carries the peer list, the catalog, kicks and the
join-code tries between them; one holds the host's lease and the other relays the game, and
takes over the round when the host stops."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from reliablep2p.app.admin import ask_removal
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.game.board import TOP_ROWS, apply_scoreboard
from reliablep2p.game.host import Online
from reliablep2p.net.identity import ADMIN_NAME
from reliablep2p.peer.node import Node
from reliablep2p.proto import (
    Connect,
    Kick,
    KickReport,
    PeerInfo,
    PlayerStats,
    Remove,
    Scoreboard,
    ScoreboardChanged,
    Welcome,
)
from reliablep2p.storage.pgcluster import ClusterStore
from reliablep2p.storage.postgres import PostgresMetadata

from .conftest import Network, random_bytes, until
from .faults.cluster import wait_for
from .servers import Backend, Postgres, scaled_backend
from .strangers import guess
from .test_security import wrong_code

pytestmark = pytest.mark.slow

NOBODY = Online(PeerInfo("", "", 0), frozenset(), 0)


class TwoDatabasePeers(Network):
    """`db` (started first: it takes the host's lease) and `other`, on the same stores."""

    def __init__(self, nursery: trio.Nursery, root: Path, backend: Backend) -> None:
        super().__init__(nursery, root)
        self.backend = backend
        self.other: DatabasePeer

    async def start_both(self, **options: Any) -> None:
        self.db = DatabasePeer(data_dir=self.root / "db", secure=True, port=0,
                               stores=self.backend.stores(), **options)  # fmt: skip
        await self.nursery.start(self.db.run)
        await until(lambda: self.db.play.hosting)
        other = self.root / "db2"
        other.mkdir()
        for name in ("ca.key", "ca.pem"):  # the network's CA, given to each database peer
            shutil.copy2(self.root / "db" / name, other / name)
        stores = Backend(other, self.backend.store, self.backend.vault, self.backend.endpoint)
        self.other = DatabasePeer(data_dir=other, secure=True, port=0, stores=stores.stores(),
                                  **options)  # fmt: skip
        await self.nursery.start(self.other.run)
        await until(lambda: self.other.cluster is not None and self.other.cluster.host is not None)

    async def peer_of(self, db: DatabasePeer, files: dict[str, bytes] | None = None) -> Node:
        mine, self.db = self.db, db  # `peer` joins `self.db`
        try:
            return await self.peer(files)
        finally:
            self.db = mine


@pytest.fixture
async def two(nursery: trio.Nursery, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    net = TwoDatabasePeers(nursery, tmp_path, scaled_backend(request, tmp_path))
    return net


async def test_players_of_two_database_peers_see_each_other_files_and_kicks(
    two: TwoDatabasePeers, tmp_path: Path
) -> None:
    await two.start_both()
    data = random_bytes(200_000, seed=7)
    alice = await two.peer_of(two.db, {"map.bin": data})
    bob = await two.peer_of(two.other, {"bob.bin": random_bytes(100_000, seed=8)})
    # bob.bin is cataloged after bob published it through the relay: the host hears he holds
    # it (what makes a map entry "bob holds bob.bin" true)
    await until(lambda: "bob.bin" in two.db.play.online_players().get(bob.name, NOBODY).holdings)
    # each one's update_peers lists the other database peer's player; the catalog is shared
    await until(lambda: alice.name in {p.name for p in bob.peers})
    await until(lambda: bob.name in {p.name for p in alice.peers})
    await until(lambda: "map.bin" in bob.catalog)
    got = await bob.get("map.bin")
    assert got.path.read_bytes() == data
    # bob's map (alice holds map.bin) is checked at the host: every scoreboard shows its size
    await until(lambda: any(r.name == bob.name and r.map_size > 0 for r in alice.scoreboard))
    await until(lambda: any(r.name == bob.name and r.map_size > 0 for r in bob.scoreboard))
    # a kick through one database peer holds at the other (and its players hear of it)
    admin = await two.connect(two.other.port, name=ADMIN_NAME)
    await admin.send(Kick(alice.name))
    await admin.receive_message(KickReport)
    await until(lambda: alice.name in two.db.revoked and alice.name in bob.revoked)
    await until(lambda: alice.name not in {p.name for p in bob.peers})
    # a file removed through one database peer leaves the catalog at the other, and its players'
    assert two.db.authority is not None
    admin_id = two.db.authority.identity(ADMIN_NAME, tmp_path / "admin", days=1)
    await ask_removal("127.0.0.1", two.db.port, admin_id.client_context(), Remove("bob.bin"))
    await until(lambda: "bob.bin" not in two.other.catalog and "bob.bin" not in bob.catalog)
    # join-code tries are counted once for the network: asking the other one is no way round
    code = await trio.to_thread.run_sync(lambda: two.db.store.new_invite(uses=5, seconds=60))
    first = await guess(two.db.enroll_port, wrong_code(code), source="127.0.0.3")
    assert first == "wrong-code: wrong join code"
    second = await guess(two.other.enroll_port, wrong_code(code), source="127.0.0.3")
    assert second.startswith("busy: too many join tries from 127.0.0.3"), second


async def test_the_other_database_peer_takes_over_the_round_when_the_host_stops(
    two: TwoDatabasePeers,
) -> None:
    await two.start_both(round_seconds=60.0, pause_seconds=0.5, min_players=2)
    host, relay = two.db, two.other
    assert relay.cluster is not None and not relay.play.hosting
    alice = await two.peer_of(host, {"a.bin": random_bytes(50_000, seed=1)})
    bob = await two.peer_of(relay, {"b.bin": random_bytes(50_000, seed=2)})
    # the relay's player plays the host's round: it is counted, and sees it with its targets
    await until(lambda: bob.round is not None and not bob.round.over, timeout=20)
    assert bob.round is not None and alice.round is not None
    number = alice.round.number
    assert bob.round.number == number and "a.bin" in bob.round.targets
    assert "b.bin" not in bob.round.targets  # what it brought is no target of its own
    await until(lambda: bob.name in {row.name for row in bob.scoreboard if row.online})
    host.stop()  # gone: its lease goes with it
    await until(lambda: relay.play.hosting, timeout=15)
    await until(lambda: relay.hunt.round is not None and relay.hunt.playing, timeout=15)
    assert relay.hunt.round is not None and relay.hunt.round.number == number  # resumed
    left = relay.hunt.round.time_left(trio.current_time())
    assert 0 < left < 60
    assert bob.round is not None and bob.round.number == number and not bob.round.over


async def test_postgresql_away_while_two_run_the_round_goes_on_and_one_hosts_after(
    two: TwoDatabasePeers, postgres: Postgres
) -> None:
    await two.start_both(round_seconds=60.0, pause_seconds=0.5, min_players=2)
    host, relay = two.db, two.other
    alice = await two.peer_of(host, {"a.bin": random_bytes(50_000, seed=3)})
    bob = await two.peer_of(relay, {"b.bin": random_bytes(50_000, seed=4)})
    await until(lambda: bob.round is not None and not bob.round.over, timeout=20)
    assert alice.round is not None
    number = alice.round.number
    await trio.to_thread.run_sync(postgres.stop)
    try:
        assert host.cluster is not None
        await until(lambda: host.cluster is not None and host.cluster.orphaned, timeout=20)
        assert host.play.hosting and host.hunt.playing  # the round goes on at the host
        assert not relay.play.hosting
        assert relay.cluster is not None  # long enough for each to give the other up:
        await until(lambda: not host.cluster.members and not relay.cluster.members, timeout=20)  # type: ignore[union-attr]
    finally:
        await trio.to_thread.run_sync(postgres.start)
    # back: the lease is taken again, by exactly one, and the round is still round `number`
    await until(lambda: not host.cluster.orphaned or relay.play.hosting, timeout=30)  # type: ignore[union-attr]
    await until(lambda: host.play.hosting != relay.play.hosting, timeout=30)
    hosting = host if host.play.hosting else relay
    await until(lambda: hosting.hunt.round is not None and hosting.hunt.playing, timeout=30)
    assert hosting.hunt.round is not None and hosting.hunt.round.number == number
    # and everyone is back everywhere: in each other's peer lists, and all in the game
    await until(lambda: alice.name in {p.name for p in bob.peers}, timeout=30)
    await until(lambda: bob.name in {p.name for p in alice.peers}, timeout=30)
    await until(lambda: {alice.name, bob.name} <= set(hosting.play.online_players()), timeout=30)


def test_the_bus_carries_what_notify_cannot_whole_and_in_order_and_equal_ones_each(
    postgres: Postgres, tmp_path: Path
) -> None:
    store = PostgresMetadata(postgres.new_database(), tmp_path)
    store.prepare()
    store.open()
    shared = ClusterStore(store)
    shared.prepare()
    heard: list[bytes] = []
    stop = threading.Event()
    listener = threading.Thread(target=shared.listen, args=(heard.append, stop))
    listener.start()
    try:
        said = [b"small", random_bytes(100_000, seed=9), b"after"]  # 100 KB: NOTIFY takes 8000
        deadline = time.monotonic() + 10
        while not heard and time.monotonic() < deadline:  # listening: the first is heard
            shared.publish(b"hello")
            time.sleep(0.05)
        for body in said:
            shared.publish(body)
        shared.publish(b"twice", b"twice", b"last")  # one transaction: each is heard
        wait_for(lambda: heard[-1:] == [b"last"], 10, "the bus", interval=0.01)
        assert [b for b in heard if b != b"hello"] == [*said, b"twice", b"twice", b"last"]
    finally:
        stop.set()
        listener.join(timeout=10)
        store.close()


async def test_a_relay_sends_its_crowd_the_top_rows_and_each_its_own_not_the_whole_board(
    two: TwoDatabasePeers,
) -> None:
    """The host's whole board goes over the bus; the relay's players get their views of it."""
    await two.start_both()
    crowd = []
    for i in range(TOP_ROWS + 5):  # nobody has scored: the board goes by name
        name = f"crowd{i:02}"
        channel = await two.connect(two.other.port, name=name, listen_port=42000 + i)
        await channel.send(Connect())
        await channel.receive_message(Welcome)
        crowd.append(channel)
    expected = [f"crowd{i:02}" for i in range(TOP_ROWS)] + [f"crowd{TOP_ROWS + 4:02}"]
    board: list[PlayerStats] = []
    with trio.fail_after(30):  # the host hears of all 25, then the relay is told its board
        while not set(expected) <= {row.name for row in board}:
            message = await crowd[-1].receive()
            if isinstance(message, Scoreboard | ScoreboardChanged):
                board = apply_scoreboard(board, message)
                assert len(board) <= TOP_ROWS + 1, "the top rows and its own, not everyone"
    assert [row.name for row in board] == expected
    for channel in crowd:
        await channel.aclose()


async def test_a_player_found_unreachable_after_its_welcome_is_unreachable_on_every_database_peer(
    two: TwoDatabasePeers,
) -> None:
    await two.start_both()
    alice = await two.peer_of(two.db)
    silent = await two.connect(two.other.port, name="silent", listen_port=43001)  # nobody there
    await silent.send(Connect())
    await silent.receive_message(Welcome)

    def listed() -> PeerInfo | None:
        return next((p for p in alice.peers if p.name == "silent"), None)

    await until(lambda: listed() is not None)
    await until(lambda: (peer := listed()) is not None and not peer.reachable)
    await silent.aclose()
    await until(lambda: listed() is None)
