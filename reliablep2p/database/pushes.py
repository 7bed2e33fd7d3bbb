"""What the database peer pushes down every session, and when.

Each session has a pusher task that sends its peer the net change of the peer list, the new
catalog entries, revocations, removals, the round and the changed rows of its scoreboard view
(the top rows, the round's finders and itself: `BoardFeed`) since its last push. One announcer
decides when all of them push: once changes pause for a moment, so a burst of joins costs every
peer about one small message, and the database peer O(N) work per push rather than per change
(a storm of N joins was N^2 scoreboards). A message many sessions are sent alike (a peer-list
delta, the lobby, the board's shared part) is encoded, and compressed, once per push round. So
is the peer list: a round pushes every session the change up to the version the round found,
and the welcomes until the next round carry the list at that version, so that every session is
at one version and the next round sends all of them the same delta (welcomed with the list as
of its own join, each of a storm's players was at a version of its own, and a round worked out
and compressed a delta for each: O(N^2) a round). A round's messages to one session go in one
write; the lobby goes again only when what it says changed, and news of the board alone waits
`BOARD_SECONDS` after the last round: each round costs every session a fixed part at both ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Protocol

import msgspec
import trio

from ..game.board import BoardFeed
from ..net.channel import Channel
from ..peer.peerlist import Addr, PeerRegistry
from ..proto import (
    CatalogAdded,
    DatabasePeers,
    EveningOver,
    EveningRow,
    Expired,
    FileInfo,
    Lobby,
    Message,
    PeerInfo,
    Plant,
    PlayerStats,
    ProtocolError,
    Removed,
    Revoked,
    Round,
    RoundState,
    UpdatePeers,
    encode_message,
    encode_raw,
)
from ..proto.prezipped import Piece
from .sessions import Log, Session

GOODNIGHT_TIMEOUT = 1.0
"""How long the host waits for a player to take its evening summary before it stops."""
COALESCE_SECONDS = 0.05
"""Sessions push once changes have paused this long, so a burst of joins becomes one update."""
COALESCE_LIMIT = 2.0
"""...but a steady stream of changes (a long join storm) is still pushed this often."""
STALL_SECONDS = COALESCE_SECONDS / 2
"""Woken this much later than asked, the announcer takes it that its event loop was held up (a
full pass of the garbage collector: 100-300 ms at 1,500 sessions), not that news paused: what
came meanwhile is still unread in the sockets. It listens for another `COALESCE_SECONDS`. (A
pause seen across a stall started a push round in the middle of almost every storm of 2,000.)"""
BOARD_SECONDS = 1.0
"""News of the scoreboard alone (a map's size, a publish's holdings: not the peer list, the
lobby, the round or anything else pushed) waits until this long after the last push round. In a
TLS join storm the players of each burst of handshakes publish and report their maps just after
their welcomes: a push round to every session of its own, as many as the joins' (36 rounds in a
storm of 2,000, each O(N) at both ends); now those rows ride with the next burst's round."""


class GameView(Protocol):
    """What sessions are pushed of the game: the host's hunt, or a relay's mirror of it."""

    @property
    def lobby_version(self) -> int: ...

    @property
    def round_version(self) -> int: ...

    def lobby_state(self, online: Collection[str]) -> Lobby: ...

    def round_state(self, player: str) -> RoundState | None: ...

    def finders(self) -> set[str]: ...


class Announcer:
    """Logs what changed and has every session's pusher send it, in coalesced bursts."""

    def __init__(
        self,
        registry: PeerRegistry,
        hunt: GameView,
        sessions: Mapping[Addr, Session],
        scoreboard: Callable[[], Iterable[PlayerStats]],
    ) -> None:
        self.registry = registry
        self.hunt = hunt
        self.sessions = sessions
        self._players: list[str] | None = None
        self._lobby: tuple[int, Lobby] | None = None
        self._lobby_said: Lobby | None = None
        """The lobby as last told, its countdown's end as a time (see `lobby`)."""
        self._lobby_edition = 0
        self.scoreboard = scoreboard
        """Builds the current board (rebuilt once per push, when the hunt said it changed)."""
        self.board = BoardFeed()
        self.catalog_log: Log[FileInfo] = Log()
        self.revoked_log: list[str] = []
        self.expired_log: Log[FileInfo] = Log()
        self.removed_log: Log[FileInfo] = Log()
        self._board_stale = False
        self._news = trio.Event()
        self._news_at = 0.0
        self._urgent = False
        """News since the last push round other than the hunt's (which may be the board alone)."""
        self._pushed_at = -BOARD_SECONDS
        self._hunt_pushed = (-1, -1)
        """The hunt's lobby and round versions at the last push round."""
        self.pushes = 0
        self._pushed = trio.Event()
        self._peer_deltas: dict[int, UpdatePeers] = {}
        self._frames: dict[int, tuple[Message, bytes]] = {}
        """This push round's shared messages, encoded once (by the message's identity)."""
        self._round_peers: tuple[int, list[PeerInfo]] | None = None
        """The peer list as this push round found it, and its version: what the round pushes
        every session up to, and what the welcomes until the next round carry."""
        self._listed: Piece | None = None
        """That list, encoded (once, at the first welcome that needs it)."""
        self.on_push: Callable[[], None] = lambda: None
        """Hears every push round (the round host tells the other database peers)."""
        self.databases: list[Addr] = []
        """Where players reach every live database peer (see `directory.py`)."""
        self.databases_version = 0

    def listed(self) -> tuple[int, Piece]:
        """The peer list to welcome a player with, and its version: the list as the last
        push round found it, encoded and compressed once for every welcome until the next
        round (which brings them what changed since, with everyone else)."""
        version, peers = self._peers_now()
        if self._listed is None:
            self._listed = Piece(encode_raw(peers))
        return version, self._listed

    def _peers_now(self) -> tuple[int, list[PeerInfo]]:
        if self._round_peers is None:  # (before the first round)
            self._round_peers = (self.registry.version, list(self.registry.peers.values()))
        return self._round_peers

    def new_session(self, peer: PeerInfo, channel: Channel, peers_version: int) -> Session:
        """A session that starts from now: it was welcomed with everything up to here (the
        peer list up to `peers_version`: see `listed`)."""
        return Session(
            peer, channel, peers_version, self.catalog_log.end, self.pushes,
            revoked_sent=len(self.revoked_log), expired_sent=self.expired_log.end,
            databases_sent=self.databases_version,
            removed_sent=self.removed_log.end,
        )  # fmt: skip

    def note_news(self, *, board_only: bool = False) -> None:
        """Something sessions push changed (peer list, catalog, revocations, round, board);
        `board_only`: perhaps only the scoreboard (see BOARD_SECONDS)."""
        self._news_at = trio.current_time()
        self._urgent = self._urgent or not board_only
        self._news.set()

    def cataloged(self, info: FileInfo) -> None:
        self.catalog_log.extend([info])
        self.note_news()

    def revoked(self, name: str) -> None:
        self.revoked_log.append(name)
        self.note_news()

    def expired(self, files: list[FileInfo]) -> None:
        self.expired_log.extend(files)
        self.note_news()

    def databases_changed(self, addresses: list[Addr]) -> None:
        self.databases = list(addresses)
        self.databases_version += 1
        self.note_news()

    def removed(self, info: FileInfo) -> None:
        self.removed_log.extend([info])
        self.note_news()

    def hunt_changed(self) -> None:
        """The round or the scoreboard changed; the board is rebuilt once, at the next push."""
        self._board_stale = True
        self.note_news(board_only=True)  # (the lobby's and round's versions say if more)

    async def run(self) -> None:
        """Tell every pusher to push, once news has paused for COALESCE_SECONDS.

        One task waits out the burst, not one per session: a change costs O(1) here, and each
        push round O(N), however many joins it covers.
        """
        while True:
            await self._news.wait()
            await self._news_paused()
            self._news = trio.Event()
            if self._board_stale:
                self._board_stale = False
                self.board.update(self.scoreboard(), self.hunt.finders())
            self._trim_log()
            self._players = self._lobby = None
            self._frames.clear()
            self._peer_deltas.clear()
            self._round_peers, self._listed = None, None
            self._peers_now()  # what this round pushes everyone up to
            self.on_push()
            self._urgent, self._pushed_at = False, trio.current_time()
            self._hunt_pushed = (self.hunt.lobby_version, self.hunt.round_version)
            self.pushes += 1
            self._pushed.set()
            self._pushed = trio.Event()

    async def _news_paused(self) -> None:
        """Until no news came for COALESCE_SECONDS while we listened (or COALESCE_LIMIT
        passed since the first): a pause that fell in a stall of our own loop is none."""
        first = listening = trio.current_time()
        while (due := self._push_due(first, listening)) > trio.current_time():
            await trio.sleep_until(due)  # news may keep coming: the deadline moves
            if (woke := trio.current_time()) - due > STALL_SECONDS:
                listening = woke  # held up: we heard nothing of what came meanwhile

    def _push_due(self, first: float, listening: float) -> float:
        due = max(self._news_at, listening) + COALESCE_SECONDS
        if (
            not self._urgent
            and (self.hunt.lobby_version, self.hunt.round_version) == self._hunt_pushed
        ):
            due = max(due, self._pushed_at + BOARD_SECONDS)  # the scoreboard alone: not yet
        return min(due, first + COALESCE_LIMIT)

    async def push_changes(self, session: Session) -> None:
        """A session's pusher: runs as long as the session."""
        while True:
            if session.pushes_seen == self.pushes:
                await self._pushed.wait()
            session.pushes_seen = self.pushes
            await self._push(session)

    async def _push(self, session: Session) -> None:
        """Send one session everything that changed since its last push, in one write (one
        TLS record, one system call, one wake-up at the player): a storm's push rounds sent
        every session two or three small messages each, every one at a fixed cost at both
        ends."""
        if news := self._news_for(session):
            await session.channel.send_many(news)

    def _news_for(self, session: Session) -> list[tuple[Message, bytes | None]]:
        """What `_push` sends `session` (each with its frame, if shared), and noted as sent."""
        news: list[tuple[Message, bytes | None]] = []
        if session.peers_version != self._peers_now()[0]:
            update = self._peers_delta(session.peers_version)
            session.peers_version = update.version
            news.append((update, self._frame(update)))
        if not session.peer.reachable and not session.told_unreachable:
            session.told_unreachable = True  # (see the field)
            version = session.peers_version
            news.append((UpdatePeers(version, version, updated=[session.peer]), None))
        if session.catalog_sent < self.catalog_log.end:
            added = self.catalog_log.since(session.catalog_sent)
            session.catalog_sent = self.catalog_log.end
            news.append((CatalogAdded(added), None))
        if session.databases_sent != self.databases_version:
            session.databases_sent = self.databases_version
            news.append((DatabasePeers(list(self.databases)), None))
        if session.plants:
            names, session.plants = session.plants, []
            news.append((Plant(names), None))
        if session.revoked_sent < len(self.revoked_log):
            names = self.revoked_log[session.revoked_sent :]
            session.revoked_sent = len(self.revoked_log)
            news.append((Revoked(names), None))
        if session.expired_sent < self.expired_log.end:
            gone = self.expired_log.since(session.expired_sent)
            session.expired_sent = self.expired_log.end
            news.append((Expired([i.name for i in gone], [i.hash for i in gone]), None))
        if session.removed_sent < self.removed_log.end:
            gone = self.removed_log.since(session.removed_sent)
            session.removed_sent = self.removed_log.end
            news.append((Removed([i.name for i in gone], [i.hash for i in gone]), None))
        if not session.plays:
            return news  # a one-off fetcher: the game is none of its business
        edition, lobby = self.lobby()
        if session.lobby_version != edition:
            session.lobby_version = edition
            news.append((lobby, self._frame(lobby)))
        if session.round_version != self.hunt.round_version:
            session.round_version = self.hunt.round_version
            if (state := self.hunt.round_state(session.peer.name)) is not None:
                news.append((Round(state), None))
        name = session.peer.name
        board = self.board.since(session.board_tick, name, session.board_row)
        session.board_tick, session.board_row = self.board.tick, self.board.rows.get(name)
        if board is not None:
            news.append((board, self._frame(board)))
        return news

    def _frame(self, message: Message) -> bytes:
        """`message` encoded, once for every session sent this very message this round (one
        encoded for a single session is dropped at the round's end like the rest)."""
        known = self._frames.get(id(message))
        if known is None or known[0] is not message:
            known = self._frames[id(message)] = (message, encode_message(message))
        return known[1]

    def lobby(self) -> tuple[int, Lobby]:
        """The lobby every session is sent, built once per change (`ready` is checked against
        who plays: per session, a crowd's lobby cost the whole crowd), and its edition, which
        moves only when what the lobby says does: the countdown's end (not the seconds left,
        which move with the clock), who is ready, how many are needed, the settings. Every join
        moves the hunt's lobby version, and a join storm's every push round sent every session
        the same lobby again (a third of the frames of a TLS storm of 2,000)."""
        if self._lobby is None or self._lobby[0] != self.hunt.lobby_version:
            lobby = self.hunt.lobby_state(self.players())
            ends = lobby.starts_in
            if ends > 0:  # (0: it ends now; -1: no countdown)
                ends = round(trio.current_time() + ends, 1)
            said = msgspec.structs.replace(lobby, starts_in=ends)
            if said != self._lobby_said:
                self._lobby_said, self._lobby_edition = said, self._lobby_edition + 1
            self._lobby = (self.hunt.lobby_version, lobby)
        return self._lobby_edition, self._lobby[1]

    async def say_goodnight(self, rows: list[EveningRow], timeout: float) -> list[EveningRow]:
        """Tell every player how the evening went (`timeout` each at most); the rows."""
        message = EveningOver(rows)

        async def tell(session: Session) -> None:
            with trio.move_on_after(timeout), contextlib.suppress(ProtocolError):
                await session.channel.send(message)

        async with trio.open_nursery() as nursery:
            for session in list(self.sessions.values()):
                if session.plays:
                    nursery.start_soon(tell, session)
        return rows

    def players(self) -> list[str]:
        """Who plays now, worked out once per push for every session's lobby."""
        if self._players is None:
            self._players = [s.peer.name for s in self.sessions.values() if s.plays]
        return self._players

    def _peers_delta(self, since: int) -> UpdatePeers:
        """The peer-list delta from `since` to this round's version, worked out once for all
        sessions at `since` (in a round, every session is at the last round's version: one)."""
        update = self._peer_deltas.get(since)
        if update is None:
            until = self._peers_now()[0]
            update = self._peer_deltas[since] = self.registry.delta(since, until)
        return update

    def _trim_log(self) -> None:
        oldest = min((s.peers_version for s in self.sessions.values()), default=0)
        self.registry.trim(min(oldest, self._peers_now()[0]))
        sessions = self.sessions.values()
        self.catalog_log.trim(min((s.catalog_sent for s in sessions), default=self.catalog_log.end))
        self.expired_log.trim(min((s.expired_sent for s in sessions), default=self.expired_log.end))
        self.removed_log.trim(min((s.removed_sent for s in sessions), default=self.removed_log.end))
