"""What the database peer says on a session during a join storm: pong only to a player that
heard nothing since its last ping; an empty publish answered without a worker thread; one peer
list for every welcome of a push round."""

from __future__ import annotations

from typing import cast

import msgspec
import trio
import trio.testing

from reliablep2p.database.pushes import Announcer, GameView
from reliablep2p.peer.peerlist import PeerRegistry
from reliablep2p.proto import (
    Bye,
    Connect,
    Disconnect,
    PeerInfo,
    Ping,
    Pong,
    Publish,
    Welcome,
)

from .conftest import Network


async def test_a_ping_is_answered_only_by_a_database_peer_that_said_nothing_since(
    network: Network,
) -> None:
    """A join storm's players ping (they have nothing to say) while the database peer pushes
    to them all along: those pushes tell them the session is alive; a `pong` would be one more
    message per player per ping. Three pings in a row: the first was preceded by the welcome,
    the later ones by nothing but our own pong (an `update_peers` calling us unreachable may
    come between two: then one pong fewer)."""
    channel = await network.connect(network.db.port, name="pinger", listen_port=40011)
    await channel.send(Connect(play=False))
    await channel.receive_message(Welcome)
    for _ in range(3):
        await channel.send(Ping())
    await channel.send(Disconnect())
    answers = []
    while not isinstance(message := await channel.receive(), Bye):
        answers.append(message)
    pongs = sum(isinstance(m, Pong) for m in answers)
    assert 1 <= pongs <= 2, answers
    await channel.aclose()


async def test_a_publish_of_nothing_cataloged_waits_for_no_worker_thread(
    network: Network,
) -> None:
    """A storm's first publishes share nothing already cataloged: each went to a worker thread
    to record nothing, queued behind the others, and its session read nothing more meanwhile.
    Here every worker thread is taken: the session still reads on."""
    limiter = trio.to_thread.current_default_thread_limiter()
    tokens, me = limiter.total_tokens, object()
    limiter.total_tokens = 1
    await limiter.acquire_on_behalf_of(me)  # the only worker thread now, ours
    try:
        channel = await network.connect(network.db.port, name="sharer", listen_port=40012)
        await channel.send(Connect(play=False))
        await channel.receive_message(Welcome)
        await channel.send(Publish(files=[]))
        await channel.send(Disconnect())
        with trio.fail_after(10):
            while not isinstance(await channel.receive(), Bye):
                pass
        await channel.aclose()
    finally:
        limiter.release_on_behalf_of(me)
        limiter.total_tokens = tokens


def test_welcomes_between_two_push_rounds_carry_one_list_at_one_version() -> None:
    """Every player welcomed within a push round is at the same version of the peer list, so
    the next round works out and compresses one delta for all of them (welcomed each with the
    list as of its own join, a storm's players were each at a version of its own, and each was
    sent a delta of its own: O(N^2) a round)."""
    registry = PeerRegistry()
    announcer = Announcer(registry, cast(GameView, None), {}, list)  # no game: only the list
    ada, bob, cy = (PeerInfo(n, "10.0.0.1", p) for n, p in (("ada", 1), ("bob", 2), ("cy", 3)))
    registry.join(ada)
    version, listed = announcer.listed()
    registry.join(bob)  # welcomed with the list from before it joined
    registry.join(cy)  # in the same round: the same list, the very same bytes
    assert announcer.listed() == (version, listed) and announcer.listed()[1] is listed
    assert msgspec.msgpack.decode(listed, type=list[PeerInfo]) == [ada]
    assert registry.delta(version).joined == [bob, cy]  # what the next round sends them all
