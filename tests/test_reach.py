"""Where a player is listed: the address it listens on, checked by calling it back.

(The same across separate hosts, with real processes: tests/lan/test_lan.py.)
"""

from __future__ import annotations

import random
import socket

import msgspec
import trio

from reliablep2p.app import words
from reliablep2p.database.reach import ReachBack
from reliablep2p.net.channel import Channel, secure
from reliablep2p.peer import events
from reliablep2p.peer.node import Node
from reliablep2p.proto import Connect, Error, Hello, PeerInfo, Welcome

from .conftest import Network, until


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_player_listening_on_one_address_is_listed_at_it(network: Network) -> None:
    # it calls the database peer from 127.0.0.1, but listens on 127.0.0.2 only
    node = Node(name="player9", identity=network.identity("player9"), host="127.0.0.2",
                share_dir=network.root / "nine", database=("127.0.0.1", network.db.port),
                rng=random.Random(9))  # fmt: skip
    await network.nursery.start(node.run)
    other = await network.peer()
    await until(lambda: len(other.peers) == 1)
    assert list(other.peers) == [PeerInfo("player9", "127.0.0.2", node.port)]
    assert node.me == PeerInfo("player9", "127.0.0.2", node.port)


async def test_a_player_nobody_can_call_back_is_listed_so_and_a_get_says_it_skipped_it(
    network: Network,
) -> None:
    seeder = await network.peer({"lonely.txt": b"only the vault has me soon"})
    await seeder.leave()
    fetcher = await network.peer()
    nowhere = unused_port()
    session = await network.connect(network.db.port, name="ghost", listen_port=nowhere)
    await session.send(Connect())
    welcome = await session.receive_message(Welcome)
    assert welcome.you == PeerInfo("ghost", "127.0.0.1", nowhere)  # called back after the welcome
    await until(
        lambda: list(fetcher.peers) == [msgspec.structs.replace(welcome.you, reachable=False)]
    )

    result = await fetcher.get("lonely.txt")
    assert result.from_vault and result.probes == 1
    assert result.skipped == ("ghost",)
    assert words.fetched(result).endswith("; skipped ghost (unreachable)")


async def test_a_join_does_not_wait_for_the_call_back(network: Network) -> None:
    called, answer, answered = trio.Event(), trio.Event(), trio.Event()
    identity = network.identity("slowpoke")
    assert identity is not None

    async def slow_to_answer(stream: trio.SocketStream) -> None:  # as a player's busy machine
        called.set()
        await answer.wait()
        tls = await secure(stream, identity.server_context(), server_side=True)
        await Channel(tls).receive_message(Hello)
        answered.set()
        await tls.aclose()

    listeners = await network.nursery.start(trio.serve_tcp, slow_to_answer, 0)
    port = listeners[0].socket.getsockname()[1]
    session = await network.connect(network.db.port, name="slowpoke", listen_port=port)
    await session.send(Connect())
    welcome = await session.receive_message(Welcome)  # before the call back was answered
    assert not answer.is_set() and welcome.you == PeerInfo("slowpoke", "127.0.0.1", port)
    answer.set()
    await until(lambda: called.is_set() and answered.is_set())
    assert network.db.sessions[("127.0.0.1", port)].peer.reachable


async def test_a_player_found_unreachable_after_its_welcome_is_told_and_others_skip_it(
    network: Network,
) -> None:
    db = network.db
    db.joins.reach_back = ReachBack(
        db.joins.reach_back.tls, later_timeout=0
    )  # nobody answers in no time
    other = await network.peer()
    heard: list[events.Event] = []
    node = Node(name="player9", identity=network.identity("player9"),
                share_dir=network.root / "nine", database=("127.0.0.1", db.port),
                rng=random.Random(9))  # fmt: skip
    node.subscribe(heard.append)
    await network.nursery.start(node.run)
    await until(lambda: any(isinstance(e, events.NotReachable) for e in heard))
    told = next(e for e in heard if isinstance(e, events.NotReachable))
    assert "cannot reach you back at 127.0.0.1:" in words.describe(told)
    assert node.me == PeerInfo("player9", "127.0.0.1", node.port, reachable=False)
    await until(lambda: node.me in other.peers)  # listed as it is: nobody asks it


async def test_nobody_takes_over_a_live_players_address(network: Network) -> None:
    alice = await network.peer()
    lost: list[object] = []
    alice.subscribe(lambda event: lost.append(event) if "Lost" in type(event).__name__ else None)
    # mallory says she listens where alice does: calling back finds alice's certificate there
    session = await network.connect(network.db.port, name="mallory", listen_port=alice.port)
    await session.send(Connect(host="127.0.0.1"))
    refused = await session.receive_message(Error)
    assert refused.code == "address-taken"
    assert f"127.0.0.1:{alice.port} is {alice.name}'s address" in refused.message
    assert network.db.sessions[alice.me.addr].peer.name == alice.name
    assert not lost


async def test_a_connect_with_a_host_that_is_no_address_gets_one_line(network: Network) -> None:
    session = await network.connect(network.db.port, name="typo", listen_port=unused_port())
    await session.send(Connect(host="my-laptop.local"))
    refused = await session.receive_message(Error)
    assert (refused.code, refused.message) == (
        "malformed", "connect: host must be the IP address you listen on, or empty"
    )  # fmt: skip


def test_an_entry_without_its_reachable_flag_decodes_as_reachable() -> None:
    short = msgspec.msgpack.encode(["ada", "10.77.1.10", 7000])  # [name, host, port]
    assert msgspec.msgpack.decode(short, type=PeerInfo) == PeerInfo("ada", "10.77.1.10", 7000)
    assert msgspec.msgpack.decode(short, type=PeerInfo).reachable
    hidden = msgspec.msgpack.encode(PeerInfo("ada", "10.77.1.10", 7000, reachable=False))
    assert msgspec.msgpack.decode(hidden, type=PeerInfo).reachable is False
