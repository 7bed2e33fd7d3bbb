"""What the database peer says on a session during a join storm: pong only to a player that
heard nothing since its last ping; an empty publish answered without a worker thread; one peer
list for every welcome of a push round; the lobby again only when what it says changed."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import cast

import msgspec
import trio
import trio.testing

from reliablep2p.database import pushes
from reliablep2p.database.pushes import Announcer, GameView
from reliablep2p.database.sessions import Session
from reliablep2p.net.channel import Channel
from reliablep2p.peer.peerlist import PeerRegistry
from reliablep2p.proto import (
    Bye,
    Connect,
    Disconnect,
    Lobby,
    Message,
    PeerInfo,
    Ping,
    PlayerStats,
    Pong,
    Publish,
    RoundState,
    Scoreboard,
    ScoreboardChanged,
    UpdatePeers,
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
    assert msgspec.msgpack.decode(listed.raw, type=list[PeerInfo]) == [ada]
    assert registry.delta(version).joined == [bob, cy]  # what the next round sends them all


class Countdown:
    """A hunt between rounds (a `GameView`): the next round at a set time, and its lobby
    version moved by every join, as the host's is."""

    def __init__(self, starts_at: float) -> None:
        self.starts_at = starts_at
        self.ready: list[str] = []
        self.lobby_version = self.round_version = 0

    def lobby_state(self, online: Collection[str]) -> Lobby:
        return Lobby(starts_in=self.starts_at - trio.current_time(), ready=self.ready)

    def round_state(self, player: str) -> RoundState | None:
        return None

    def finders(self) -> set[str]:
        return set()


def ada_alone(
    hunt: GameView, board: Callable[[], Iterable[PlayerStats]] = list
) -> tuple[PeerRegistry, Announcer, Session, trio.abc.Stream]:
    """An announcer with one session, ada's, over a memory stream: the registry, the
    announcer, the session and the stream's other end (where ada reads)."""
    registry, sessions = PeerRegistry(), {}
    announcer = Announcer(registry, hunt, sessions, board)
    ours, theirs = trio.testing.memory_stream_pair()
    me = PeerInfo("ada", "10.0.0.1", 1)
    registry.join(me)
    session = sessions[me.addr] = announcer.new_session(me, Channel(ours), announcer.listed()[0])
    return registry, announcer, session, theirs


async def test_a_lobby_that_says_the_same_is_not_pushed_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A join moves the hunt's lobby version, but the lobby says the same: the same countdown's
    end, the same players ready. In a storm every push round sent every session the lobby again
    (20,777 of a TLS storm of 2,000's 77,220 frames). One that says something new is pushed."""
    hunt = Countdown(trio.current_time() + 15)
    registry, announcer, session, theirs = ada_alone(hunt)
    heard: list[list[Message]] = []  # by push round: its update_peers, then the rest

    async def listen() -> None:
        async with Channel(theirs) as channel:
            while True:
                message = await channel.receive()
                if isinstance(message, UpdatePeers):
                    heard.append([])
                heard[-1].append(cast(Message, message))

    async def round_with_a_join(port: int) -> None:
        hunt.lobby_version += 1
        registry.join(PeerInfo(f"p{port}", "10.0.0.1", port))
        announcer.note_news()
        await trio.sleep(1)  # the round is pushed (and the seconds left move)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(announcer.run)
        nursery.start_soon(announcer.push_changes, session)
        nursery.start_soon(listen)
        await round_with_a_join(2)
        await round_with_a_join(3)  # the lobby says the same
        hunt.ready = ["ada"]
        await round_with_a_join(4)  # ...and now something new
        await round_with_a_join(5)
        nursery.cancel_scope.cancel()
    lobbies = [[m for m in pushed if isinstance(m, Lobby)] for pushed in heard]
    assert [len(sent) for sent in lobbies] == [1, 0, 1, 0]
    assert lobbies[2][0].ready == ["ada"] and 12 < lobbies[2][0].starts_in < 13


async def test_a_push_round_sends_a_session_its_messages_in_one_write(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The peer-list delta, the lobby and the board of one push round go in one write (one
    TLS record, one system call, one wake-up at the player), not one each: a storm's rounds
    sent every session two or three small messages, each at a fixed cost at both ends."""
    registry, hunt, sessions = PeerRegistry(), Countdown(trio.current_time() + 15), {}
    board = [PlayerStats("ada", "10.0.0.1", 1, score=0, files_found=0, map_size=0, online=True)]
    announcer = Announcer(registry, hunt, sessions, lambda: board)
    ours, theirs = trio.testing.memory_stream_pair()
    writes: list[bytes] = []
    original = ours.send_all

    async def counted(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        await original(data)

    ours.send_all = counted  # type: ignore[method-assign]
    me = PeerInfo("ada", "10.0.0.1", 1)
    registry.join(me)
    session = announcer.new_session(me, Channel(ours), announcer.listed()[0])
    sessions[me.addr] = session
    async with trio.open_nursery() as nursery:
        nursery.start_soon(announcer.run)
        nursery.start_soon(announcer.push_changes, session)
        registry.join(PeerInfo("bob", "10.0.0.1", 2))
        announcer.hunt_changed()
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert len(writes) == 1
    async with Channel(theirs) as channel:
        kinds = [type(await channel.receive()) for _ in range(3)]
    assert kinds == [UpdatePeers, Lobby, Scoreboard]


async def test_news_of_the_scoreboard_alone_waits_a_second_after_the_last_push_round(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A storm's welcomed players publish and report their maps right after their welcomes: a
    push round of their own to every session, as many as the joins'. The board alone now waits
    until `BOARD_SECONDS` after the last round (riding with the next joins'); a join does not."""
    row = PlayerStats("ada", "10.0.0.1", 1, score=0, files_found=0, map_size=0, online=True)
    board = [row]
    registry, hunt, sessions = PeerRegistry(), Countdown(trio.current_time() + 15), {}
    announcer = Announcer(registry, hunt, sessions, lambda: board)
    ours, theirs = trio.testing.memory_stream_pair()
    me = PeerInfo("ada", "10.0.0.1", 1)
    registry.join(me)
    session = announcer.new_session(me, Channel(ours), announcer.listed()[0])
    sessions[me.addr] = session
    heard: list[tuple[float, type]] = []

    async def listen() -> None:
        async with Channel(theirs) as channel:
            while True:
                message = await channel.receive()
                heard.append((trio.current_time(), type(message)))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(announcer.run)
        nursery.start_soon(announcer.push_changes, session)
        nursery.start_soon(listen)
        announcer.hunt_changed()  # the first round: the whole board
        await trio.sleep(0.1)
        pushed = heard[-1][0]
        board = [msgspec.structs.replace(row, map_size=5)]  # a map report
        announcer.hunt_changed()
        await trio.sleep(2)
        registry.join(PeerInfo("bob", "10.0.0.1", 2))  # a join, long after the last round
        announcer.note_news()
        started = trio.current_time()
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    changed = [at for at, kind in heard if kind is ScoreboardChanged]
    assert len(changed) == 1 and changed[0] - pushed >= pushes.BOARD_SECONDS - 0.01
    joined = [at for at, kind in heard if kind is UpdatePeers][-1]
    assert joined - started < 0.1


async def test_a_pause_that_fell_in_a_stall_of_the_database_peers_loop_starts_no_push_round(
    mock_clock: trio.testing.MockClock,
) -> None:
    """A storm's joins come without a pause, but a full pass of the garbage collector holds
    the database peer's loop up for 100-300 ms: the announcer woke after it, saw no news for
    longer than `COALESCE_SECONDS`, and pushed every session a round in the middle of the
    storm, before the joins that came meanwhile were read. Such a pause is none: the join read
    just after the stall rides in the same round as the one before it."""
    hunt = Countdown(trio.current_time() + 15)
    registry, announcer, session, theirs = ada_alone(hunt)
    heard: list[UpdatePeers] = []

    async def listen() -> None:
        async with Channel(theirs) as channel:
            while True:
                if isinstance(message := await channel.receive(), UpdatePeers):
                    heard.append(message)

    def join(port: int) -> None:
        registry.join(PeerInfo(f"p{port}", "10.0.0.1", port))
        announcer.note_news()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(announcer.run)
        nursery.start_soon(announcer.push_changes, session)
        nursery.start_soon(listen)
        await trio.testing.wait_all_tasks_blocked()
        join(2)
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(pushes.COALESCE_SECONDS * 4)  # the loop held up: nothing ran
        await trio.testing.wait_all_tasks_blocked()  # the announcer first, then...
        join(3)  # ...the join that came during the stall
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(pushes.COALESCE_SECONDS)  # a pause, heard: the round
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert [[p.name for p in update.joined] for update in heard] == [["p2", "p3"]]
