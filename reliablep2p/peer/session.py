"""The long-lived session with the database peer, from the player's side.

The session is how a player is in the network: `connect` brings the peer list and the catalog
(`welcome`), then the database peer pushes `update_peers`, catalog additions, revocations, the
round, the scoreboard and the files it removed over it, asks for backups (`need`) and challenges
our finds (each push applied in `pushes.py`). When it drops, we reconnect with capped
exponential backoff and jitter, and say so once per outage (`SessionLost` or
`DatabaseUnreachable`, then `Joined` when back), never once per try. A network with several
database peers lists them (`welcome`, `database_peers`): each try goes to the next one known
(`DatabaseList`), so a player whose database peer died moves to another by itself, and the
backoff grows once per round of them all. Being kicked out, or a host of another protocol
version, ends the trying (`gave_up`).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Awaitable, Callable

import msgspec
import trio

from ..game.evening import Evening
from ..net.channel import (
    DATABASE_HANDSHAKE_TIMEOUT,
    Channel,
    ConnectionLost,
    RemoteError,
    keep_alive,
)
from ..net.groups import first_protocol_error
from ..proto import (
    PROTOCOL_VERSION,
    Connect,
    Disconnect,
    ErrorCode,
    Found,
    Lobby,
    PlayerStats,
    ProtocolError,
    Ready,
    RemoteProtocolError,
    RoundState,
    Welcome,
)
from . import events, hunting, pushes
from .backup import Publisher
from .databases import DatabaseList
from .dialer import Dialer
from .drops import forget_uncataloged
from .naming import JoinNames
from .revocations import RevocationFile
from .view import NetworkView

BACKOFF_START, BACKOFF_CAP = 0.5, 15.0
GOODBYE_TIMEOUT = 2.0


class DatabaseSession:
    """Stays joined to the database peer and keeps the view, the round and the board current."""

    def __init__(
        self,
        view: NetworkView,
        dialer: Dialer,
        publisher: Publisher,
        *,
        rng: random.Random,
        revocations: RevocationFile | None = None,
        plays: bool = True,
        plant: Callable[[list[str]], Awaitable[None]] | None = None,
        databases: DatabaseList | None = None,
        names: JoinNames | None = None,
    ) -> None:
        self.view = view
        self.dialer = dialer
        self.publisher = publisher
        self.rng = rng
        self.revocations = revocations or RevocationFile(None)
        """Where what we are told of kicks is kept across restarts."""
        self.plays = plays
        """In the game (False: a one-off fetcher, in the network only)."""
        self.plant = plant
        """Fetches treasure the host hid with us, and seeds it."""
        self.ready = trio.Event()
        """Set once the database peer welcomed us (we know the peers and the catalog)."""
        self.channel: Channel | None = None
        """The open session, while there is one."""
        self.round: RoundState | None = None
        """The database peer's current round, as last pushed (`round_deadline` for the clock)."""
        self.round_deadline = 0.0
        self.scoreboard: list[PlayerStats] = []
        self.lobby: Lobby | None = None
        """Between rounds: the countdown, who is ready (`lobby_deadline` for the clock)."""
        self.lobby_deadline = 0.0
        self.evening = Evening()
        """The rounds we played this evening (from those we saw run and end)."""
        self.playing: int | None = None
        """The round we saw run (its end, when it comes, goes into `evening`)."""
        self.leaving = False
        self.gave_up = trio.Event()
        """Set when we stop trying for good: kicked out, or the host speaks another version."""
        self.gave_up_because: events.Event | None = None
        """`Kicked` or `VersionRefused`, once `gave_up` is set."""
        self.failed_tries = 0
        """Tries to join that failed, in all (each outage is told once, not per try)."""
        self.paused_left: float | None = None
        """While the session is down during a round: the time that round had left."""
        self.listens_on = ""
        """The one address we listen on, told in `connect` ("" when we listen on all)."""
        self.databases = databases or DatabaseList([dialer.database] if dialer.database else [])
        """The database peers we know of; each try goes to the next."""
        self.names = names or JoinNames()
        """Where no certificate fixes our name: the next to try if it is taken (`naming`)."""
        self.unreachable: events.DatabaseUnreachable | None = None
        """Why we could not join, as told last (once an outage)."""
        self._joined_at: tuple[str, int] | None = None
        """The database peer of our last session."""
        self._ended = trio.Event()
        self._outage_told = False
        self._dialing = False
        self.first_round_push = False
        """The next `round` is the first of a session: the same round again resumes."""
        self._maps = hunting.MapReports(view)

    @property
    def connected(self) -> bool:
        return self.channel is not None

    async def run(self) -> None:
        """Stay joined until we leave, are kicked out, or the host speaks another version."""
        backoff, tries = BACKOFF_START, 0
        while not self.leaving:
            self._ended = trio.Event()
            renamed = False
            try:
                await self._run_once()
            except ProtocolError as exc:
                if not self.leaving:
                    renamed = self._failed(exc)
            finally:
                if self.channel is not None:
                    backoff, tries = BACKOFF_START, 0  # we were in: a new outage starts afresh
                    if not self.leaving:
                        self._lost()
                self.channel = None
                self._ended.set()
            if self.leaving:
                return
            if renamed:  # our defaulted name was taken: the next one, at once, at the same host
                continue
            self._use(self.databases.move_on())
            await trio.sleep(backoff * self.rng.uniform(0.5, 1.0))
            tries += 1
            if tries >= len(self.databases.all):  # each known one was tried: wait longer
                backoff, tries = min(backoff * 2, BACKOFF_CAP), 0

    def _use(self, database: tuple[str, int] | None) -> None:
        """Call `database` from now on (and fetch from its vault, last in every search)."""
        if database is not None:
            self.dialer.database = self.view.database = database

    def _where(self) -> tuple[str, int]:
        return self.dialer.database or ("", 0)

    def _lost(self) -> None:
        """The session dropped: say so once, and pause the round's clock."""
        now = trio.current_time()
        state = self.round
        running = state is not None and not state.over and now < self.round_deadline
        self.paused_left = max(0.0, self.round_deadline - now) if running else None
        self._outage_told = True
        number = state.number if running and state else 0
        self.view.bus.emit(events.SessionLost(*self._where(), number, self.paused_left or 0.0))

    def _failed(self, exc: ProtocolError) -> bool:
        """A try to join failed: give up if it never can work, else say so once. True: try
        again at once, as the next defaulted name."""
        self.failed_tries += 1
        taken = isinstance(exc, RemoteError) and exc.code == ErrorCode.NAME_TAKEN
        if isinstance(exc, RemoteError) and exc.code == ErrorCode.VERSION:
            self.give_up(events.VersionRefused(*self._where(), exc.speaks, PROTOCOL_VERSION))
        elif isinstance(exc, RemoteError) and exc.code == ErrorCode.FORBIDDEN:
            self.give_up(events.Kicked())
        elif isinstance(exc, RemoteError) and exc.code == ErrorCode.NOT_A_MEMBER:
            self.give_up(events.JoinRefused(*self._where(), exc.detail))
        elif taken and (name := self.names.next_after(self.view.me.name)) is not None:
            self.dialer.name = name
            self.view.me = msgspec.structs.replace(self.view.me, name=name)
            return True
        elif taken and self.names.defaulted and not self.names.settled:
            self.give_up(events.NamesTaken((*self.names.taken, self.view.me.name)))
        elif not self._outage_told and self.channel is None:  # (a dropped session: `_lost`)
            self._outage_told = True
            if isinstance(exc, RemoteProtocolError):
                cause, detail = (events.NAME_TAKEN if taken else events.REFUSED), exc.detail
            elif self._dialing and isinstance(exc, ConnectionLost):
                forbidden = exc.code == ErrorCode.FORBIDDEN
                cause, detail = (events.HANDSHAKE if forbidden else events.NO_ANSWER), ""
            else:
                cause, detail = events.BROKEN, ""
            self.unreachable = events.DatabaseUnreachable(*self._where(), cause, detail)
            self.view.bus.emit(self.unreachable)
        return False

    def give_up(self, why: events.Event) -> None:
        """Stop trying for good (kicked out, or it never can work), and say why."""
        self.leaving = True  # knocking again cannot help
        self.gave_up_because = why
        self.view.bus.emit(why)
        self.gave_up.set()

    async def leave(self) -> None:
        """Tell the database peer we go, and wait (briefly) for its `bye`."""
        self.leaving = True
        if self.channel is None:
            return
        with trio.move_on_after(GOODBYE_TIMEOUT), contextlib.suppress(ProtocolError):
            await self.channel.send(Disconnect())
            await self._ended.wait()

    async def publish_changes(self) -> None:
        """Publish what is new in the share; a session that just broke loses nothing (the
        next one publishes everything afresh)."""
        if self.channel is not None:
            with contextlib.suppress(ProtocolError):
                await self.publisher.publish_changes(self.channel)

    async def claim(self, name: str) -> None:
        """Tell the database peer we found a target of the running round."""
        state, channel = self.round, self.channel
        if state is None or channel is None or state.over or name not in state.targets:
            return
        with contextlib.suppress(ProtocolError):  # no session: we keep the file, not the points
            await channel.send(Found(name))

    async def ready_up(self) -> None:
        """Tell the host we are ready for the next round (it shortens the countdown)."""
        if self.channel is not None:
            with contextlib.suppress(ProtocolError):
                await self.channel.send(Ready())

    async def _run_once(self) -> None:
        self._dialing = True
        channel = await self.dialer.open_database()
        self._dialing = False
        async with channel:
            await channel.send(Connect(host=self.listens_on, play=self.plays))
            # a crowd's joins are welcomed in turn: one that gave up would only queue again
            welcome = await channel.receive_message(Welcome, timeout=DATABASE_HANDSHAKE_TIMEOUT)
            self._welcome(welcome)
            self.channel = channel  # before a checkpoint: whoever `ready` woke may send at once
            await self.revocations.keep(self.view.revoked)
            with first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(keep_alive, channel)
                    if self.plays:
                        nursery.start_soon(self._maps.run, channel)
                    self.publisher.forget_published()
                    await self.publisher.publish_changes(channel, first=True)
                    await pushes.read_pushes(self, channel, nursery)
                    nursery.cancel_scope.cancel()

    def _welcome(self, welcome: Welcome) -> None:
        view = self.view
        view.me = welcome.you
        view.peers.me = welcome.you.addr
        view.revoked.update(welcome.revoked)  # kicked before we joined: refused all the same
        view.peers.reset(welcome.peers, welcome.peers_version)
        view.catalog.clear()
        pushes.add_to_catalog(view, welcome.catalog)
        if welcome.databases:  # (an older database peer lists none)
            pushes.listed(self, welcome.databases)
        forget_uncataloged(view)
        for digest in welcome.removed:
            self.publisher.refuse(digest)
        again = self.ready.is_set()
        self.ready.set()
        self._outage_told = False
        self.first_round_push = True
        self.paused_left = None
        before, self._joined_at = self._joined_at, self._where()
        if taken := self.names.settle():
            view.bus.emit(events.Renamed(taken, view.me.name))
        moved_from = before if before is not None and before != self._joined_at else ("", 0)
        view.bus.emit(events.Joined(view.me.name, len(view.peers), len(view.catalog), again,
                                    *self._where(), *moved_from))  # fmt: skip
        if not welcome.you.reachable:
            pushes.listed_as(self, welcome.you)
