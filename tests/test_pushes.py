"""What the database peer pushes down a session, and when: pong only to a player that heard
nothing since its last ping; push rounds spaced by the number of sessions in a long storm."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio
import trio.testing

from reliablep2p.database import pushes
from reliablep2p.database.pushes import Announcer
from reliablep2p.peer.node import Node
from reliablep2p.peer.peerlist import PeerRegistry
from reliablep2p.proto import (
    Bye,
    Connect,
    Disconnect,
    Lobby,
    Ping,
    Pong,
    Publish,
    RoundState,
    Welcome,
)

from .conftest import Network, until


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


class _NoGame:
    lobby_version = round_version = 0

    def lobby_state(self, online: object) -> Lobby:
        return Lobby()

    def round_state(self, player: str) -> RoundState | None:
        return None

    def finders(self) -> set[str]:
        return set()


async def _push_rounds(sessions: int, seconds: float) -> int:
    """Push rounds while news comes every 10 ms for `seconds` (a storm: it never pauses)."""
    idle = SimpleNamespace(peers_version=0, catalog_sent=0, expired_sent=0, removed_sent=0)
    online = dict.fromkeys(range(sessions), idle)  # what a round reads of them: none pushes
    announcer = Announcer(PeerRegistry(), _NoGame(), online, list)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(announcer.run)
        end = trio.current_time() + seconds
        while trio.current_time() < end:
            announcer.note_news()
            await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    return announcer.pushes


@pytest.mark.parametrize(("sessions", "spacing"), [(10, 2.0), (2000, 5.0)])
def test_a_long_storm_is_pushed_less_often_the_more_sessions_there_are(
    sessions: int, spacing: float
) -> None:
    """A push round costs O(sessions): pushed every 2 s (COALESCE_LIMIT) during a storm that
    lasts O(N), a storm of N joins cost O(N^2) pushes. Beyond 800 sessions the rounds are
    2.5 ms (PUSH_SPACING) per session apart: 5 s for 2,000 (virtual time: the clock jumps)."""
    seconds = 20.0
    clock = trio.testing.MockClock(autojump_threshold=0)
    rounds = trio.run(_push_rounds, sessions, seconds, clock=clock)
    assert seconds / spacing - 1 <= rounds <= seconds / spacing + 1


async def test_players_end_with_the_whole_list_when_pushes_are_spaced_out(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spaced-out push rounds still bring every player everyone (here 0.2 s per session)."""
    monkeypatch.setattr(pushes, "COALESCE_LIMIT", 0.01)
    monkeypatch.setattr(pushes, "PUSH_SPACING", 0.2, raising=False)
    players = [await network.peer() for _ in range(2)]
    newcomers: list[Node] = []

    async def join() -> None:
        newcomers.append(await network.peer())

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(join)
    players += newcomers

    def whole() -> bool:
        return all(len(p.peers) == len(players) - 1 for p in players)

    await until(whole)


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
