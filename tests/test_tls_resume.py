"""TLS 1.3 session resumption between players (`peer/dialer.py`): a node called before is called
again without certificates signed or checked (a flash crowd's fetchers call each other for every
file), it is still known by the name its certificate gave, and a kicked player is refused on a
resumed call as on a full one, whichever end was kicked."""

from __future__ import annotations

import pytest

from reliablep2p.net.channel import Channel, ConnectionLost, RemoteError, certificate_name
from reliablep2p.net.identity import ADMIN_NAME
from reliablep2p.net.tls import TLSStream
from reliablep2p.peer.node import Node
from reliablep2p.proto import Kick, KickReport, Map, MapRequest

from .conftest import Network, until


async def ask_map(caller: Node, callee: Node) -> Channel:
    """`caller` calls `callee` and asks for its map (the answer brings the session's ticket)."""
    channel = await caller.dialer.open_address("127.0.0.1", callee.port)
    await channel.send(MapRequest())
    await channel.receive_message(Map)
    return channel


def resumed(channel: Channel) -> bool:
    assert isinstance(channel.stream, TLSStream)
    return channel.stream.resumed


async def kick(network: Network, name: str) -> None:
    async with await network.connect(network.db.port, name=ADMIN_NAME) as admin:
        await admin.send(Kick(name))
        await admin.receive_message(KickReport)


async def test_a_second_call_resumes_the_session_and_still_knows_who_answers(
    network: Network,
) -> None:
    seeder, fetcher = await network.peer({"a.txt": b"a"}), await network.peer()
    await until(lambda: len(fetcher.peers) == 1)
    async with await ask_map(fetcher, seeder) as first:
        assert not resumed(first)
    async with await ask_map(fetcher, seeder) as second:
        assert resumed(second)
        assert certificate_name(second.stream) == seeder.name
    async with await ask_map(fetcher, seeder) as third:  # one ticket a call: each brings the next
        assert resumed(third)
    result = await fetcher.get("a.txt")  # and a get over a resumed call works as ever
    assert result.path.read_bytes() == b"a"


async def test_a_player_kicked_after_its_session_began_is_refused_on_a_resumed_call(
    network: Network,
) -> None:
    seeder, rogue = await network.peer({"a.txt": b"a"}), await network.peer()
    await until(lambda: len(rogue.peers) == 1)
    async with await ask_map(rogue, seeder):
        pass
    await kick(network, rogue.name)
    await until(lambda: rogue.name in seeder.revoked)
    channel = await rogue.dialer.open_address("127.0.0.1", seeder.port)
    async with channel:
        assert resumed(channel)  # the handshake took the old ticket: the name check still holds
        with pytest.raises((RemoteError, ConnectionLost), match="kicked out"):
            await channel.send(MapRequest())
            await channel.receive_message(Map)


async def test_a_caller_refuses_a_kicked_player_it_had_a_session_with(network: Network) -> None:
    rogue, caller = await network.peer({"a.txt": b"a"}), await network.peer()
    await until(lambda: len(caller.peers) == 1)
    async with await ask_map(caller, rogue):
        pass
    await kick(network, rogue.name)
    await until(lambda: rogue.name in caller.revoked)
    with pytest.raises(ConnectionLost, match="kicked out"):
        await caller.dialer.connect("127.0.0.1", rogue.port, None)
