"""A database peer's players in the game, whether it hosts the rounds or relays them.

With one database peer (or while this one holds the host's lease) a session's game messages go
to its own `HuntHost`. Among several on one PostgreSQL, only one hosts the rounds; the others
relay: their players' game messages go over the bus to the host (`send`), the host's answers,
treasure and game state come back, and what their sessions are pushed comes from a
`GameMirror` (`mirror.py`) of the host's last `GameState`. The host keeps the relayed players in
`remote`, so its rounds, lobby and scoreboard count everyone on the network.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import trio

from ..game import views
from ..game.host import HuntHost, Online
from ..peer.peerlist import Addr
from ..peer.versioned import Versioned
from ..proto import (  # fmt: skip
    Challenge,
    FileInfo,
    MapEntry,
    PeerInfo,
    PlayerStats,
    Proof,
    Scored,
    bus,
)
from ..storage.interfaces import StoreUnavailable, Vault
from .mirror import GameMirror
from .online import OnlineNow
from .pushes import Announcer
from .sessions import Session

log = logging.getLogger("rp2p.db")

ASK_SECONDS = 10.0
"""How long a relayed claim or proof waits for the host's answer."""


@dataclass
class RemotePlayer:
    """A player of another database peer, as the host keeps it."""

    via: str
    """The database peer it is connected to."""
    peer: PeerInfo
    holdings: frozenset[str] | None = None
    """None until it published (only then is it in the game)."""


class Play:
    """Where a session's game messages go, and what the host knows of everyone's players."""

    def __init__(
        self,
        hunt: HuntHost,
        pushes: Announcer,
        sessions: Mapping[Addr, Session],
        catalog: Versioned[str, FileInfo],
        vault: Vault,
    ) -> None:
        self.hunt = hunt
        self.pushes = pushes
        self.sessions = sessions
        self.catalog = catalog
        self.vault = vault
        self.hosting = True
        """This database peer runs the rounds (always, alone on its store)."""
        self.send: Callable[[bus.BusMessage], None] = lambda message: None
        """Says a message on the bus (set by the cluster)."""
        self.me = ""
        self.mirror = GameMirror()
        self.remote: dict[str, RemotePlayer] = {}
        self._asks = itertools.count(1)
        self._answers: dict[int, tuple[trio.Event, list[Challenge | Scored]]] = {}
        self._maps: dict[str, list[MapEntry]] = {}
        self._sent = (-1, -1, -1, -1)
        self._remote_version = 0
        self._round = views.RoundFeed(hunt)
        """The whole round, built once per change, as the relays are told it."""
        self._in_game: dict[str, Session] = {}
        """This database peer's players in the game (they published), by name."""

    # ------------------------------------------------------------- a session's messages

    def admitted(self, name: str) -> None:
        """A session of `name` starts: an earlier one is over (admission ended it)."""
        self._in_game.pop(name, None)

    def arrived(self, session: Session) -> None:
        if self.hosting:
            self.hunt.arrived(session.peer.name)
        else:
            self.send(bus.PlayerIn(self.me, session.peer))

    def left(self, session: Session) -> None:
        if self._in_game.get(session.peer.name) is session:
            del self._in_game[session.peer.name]
        if self.hosting:
            self.hunt.roster_changed()
        elif session.plays:
            self.send(bus.PlayerOut(self.me, session.peer.name))

    def published(self, session: Session, held: list[bytes]) -> None:
        first = session.publishes == 1
        if first:  # in the game from now on
            self._in_game[session.peer.name] = session
        if not self.hosting:
            holdings = sorted(self.holdings(session))
            self.send(bus.PlayerHolds(self.me, session.peer, holdings, held, first))
        elif first:
            self.hunt.first_publish(session.peer.name, held)
        else:
            self.hunt.published(session.peer.name, held)

    def map_report(self, session: Session, entries: list[MapEntry]) -> None:
        if self.hosting:
            self.hunt.report_map(session.peer.name, entries, self.online_players)
        else:  # the latest one of each player goes with the next batch
            self._maps[session.peer.name] = entries

    def send_maps(self) -> None:
        """Send the maps reported since the last batch to the host, in one message."""
        if self._maps and not self.hosting:
            maps, self._maps = self._maps, {}
            self.send(bus.MapReports(self.me, maps))

    def ready(self, session: Session) -> None:
        if self.hosting:
            self.hunt.player_ready(session.peer.name)
        else:
            self.send(bus.PlayerReady(self.me, session.peer.name))

    async def claim(self, session: Session, name: str) -> Challenge | Scored:
        if self.hosting:
            return self.hunt.claim(session.peer.name, name)
        return await self._ask(name, bus.Ask(self.me, next(self._asks), session.peer.name, name))

    async def proof(self, session: Session, proof: Proof) -> Scored:
        if self.hosting:
            return await self.check_proof(session.peer.name, proof)
        ask = bus.Ask(self.me, next(self._asks), session.peer.name, proof=proof)
        answer = await self._ask(proof.name, ask)
        return answer if isinstance(answer, Scored) else Scored(proof.name, 0, "no answer")

    def served(self, player: str, name: str, offset: int, sent: int) -> None:
        """The vault (this database peer's) sent a player bytes of a file."""
        if self.hosting:
            self.hunt.served_from_vault(player, name, offset, sent)
        else:
            self.send(bus.VaultServed(self.me, player, name, offset, sent))

    async def _ask(self, name: str, ask: bus.Ask) -> Challenge | Scored:
        done, answer = trio.Event(), []  # type: tuple[trio.Event, list[Challenge | Scored]]
        self._answers[ask.ask] = (done, answer)
        try:
            self.send(ask)
            with trio.move_on_after(ASK_SECONDS):
                await done.wait()
        finally:
            del self._answers[ask.ask]
        return answer[0] if answer else Scored(name, 0, "the round host did not answer; try again")

    async def check_proof(self, player: str, proof: Proof) -> Scored:
        info = self.catalog.get(proof.name)
        if info is None:
            return Scored(proof.name, 0, f"{proof.name} is not in the catalog")
        try:
            return await self.hunt.check_proof(
                player, proof, lambda nonce: self.vault.possession_proof(info, nonce), info.size
            )
        except StoreUnavailable as exc:  # the claim stands: the player proves it again later
            return Scored(proof.name, 0, f"cannot check the proof now: {exc.detail}")

    # ------------------------------------------------------------------ who plays

    def holdings(self, session: Session) -> frozenset[str]:
        """What it published that the catalog trusts: worked out again only once either
        changed (every push round's scoreboard asks it of every player)."""
        key = (session.published.version, self.catalog.version)
        if session.held is not None and session.held[0] == key:
            return session.held[1]
        catalog = self.catalog
        holdings = frozenset(
            name
            for name, digest in session.published.items()
            if (info := catalog.get(name)) is not None and info.hash == digest
        )
        session.held = (key, holdings)
        return holdings

    def cataloged(self, info: FileInfo) -> None:
        """A file is in the catalog now: at a relay, the host hears who of its players
        holds it (what they published before it was cataloged was not theirs yet)."""
        if self.hosting:
            return
        for session in list(self.sessions.values()):
            if (
                session.plays
                and session.publishes
                and session.published.get(info.name) == info.hash
            ):
                holdings = sorted(self.holdings(session))
                self.send(bus.PlayerHolds(self.me, session.peer, holdings, [], False))

    def online_players(self) -> Mapping[str, Online]:
        """Who plays right now, what each holds (of the catalog) and how big its map is: this
        database peer's players, and, at the host, the others' (see `online.py`)."""
        players: dict[str, Session | RemotePlayer] = dict(self._in_game)
        if self.hosting:
            for name, there in self.remote.items():
                if there.holdings is not None:
                    players.setdefault(name, there)
        return OnlineNow(players, self.holdings, self.map_size)

    async def round_told(self, timeout: float) -> None:
        """Wait (`timeout` at most) until every player's session was pushed the round as it
        is now (the round the host cut short, before it says the evening is over)."""
        with trio.move_on_after(timeout):
            while self._round_untold():  # noqa: ASYNC110 - the pushers own the sessions
                await trio.sleep(0.01)

    def _round_untold(self) -> bool:
        version = self.hunt.round_version
        return any(s.plays and s.round_version != version for s in self.sessions.values())

    def map_size(self, name: str) -> int:
        """The true entries of a player's map, as the host counted them."""
        return self.hunt.maps.sizes.get(name, 0)

    def scoreboard(self) -> list[PlayerStats]:
        if not self.hosting:
            return self.mirror.board
        return views.scoreboard(self.hunt, self.online_players())

    # -------------------------------------------------------------- the role changes

    def host(self) -> None:
        """This database peer took the host's lease (its hunt was loaded from the store)."""
        self.hosting = True
        self.pushes.hunt = views.HuntView(self.hunt)
        self._sent = (-1, -1, -1, -1)
        for session in self.sessions.values():
            session.round_version = session.lobby_version = -2  # pushed afresh
            if session.plays:
                self.hunt.arrived(session.peer.name)
                if session.publishes:
                    self.hunt.first_publish(session.peer.name, list(session.published.values()))
        self.pushes.hunt_changed()

    def relay(self, *, running: bool = True) -> None:
        """Another database peer hosts the rounds (or this one lost the lease); not
        `running` yet: nothing to push."""
        self.hosting = False
        self.remote.clear()
        self.mirror.forced()
        self.pushes.hunt = self.mirror
        if running:
            self.pushes.hunt_changed()

    def resend(self) -> None:
        """The host changed: tell it who plays here."""
        for session in list(self.sessions.values()):
            if session.plays:
                self.send(bus.PlayerIn(self.me, session.peer))
                if session.publishes:
                    held = list(session.published.values())
                    holdings = sorted(self.holdings(session))
                    self.send(bus.PlayerHolds(self.me, session.peer, holdings, held, True))

    # -------------------------------------------------------- the host's side of the bus

    def gone(self, member: str) -> None:
        """A database peer left the bus: its players left the game."""
        names = [name for name, there in self.remote.items() if there.via == member]
        for name in names:
            del self.remote[name]
        if names:
            self._remote_version += 1
            self.hunt.roster_changed()

    async def heard(self, message: bus.Message, nursery: trio.Nursery) -> None:
        """A game message from the bus (as host, or as relay)."""
        if isinstance(message, bus.Answer | bus.Planted | bus.GameState):
            if not self.hosting:
                self._from_host(message)
            return
        if not self.hosting:
            return
        match message:
            case bus.PlayerIn(peer=peer):
                self.remote[peer.name] = RemotePlayer(message.sender, peer)
                self._remote_version += 1
                self.hunt.arrived(peer.name)
            case bus.PlayerHolds(peer=peer):
                there = self.remote.setdefault(peer.name, RemotePlayer(message.sender, peer))
                there.via, there.holdings = message.sender, frozenset(message.holdings)
                if message.first:
                    self.hunt.first_publish(peer.name, message.held)
                    self.hunt.roster_changed()
                else:
                    self.hunt.published(peer.name, message.held)
                self.hunt.poke()
            case bus.PlayerOut(name=name):
                if self.remote.pop(name, None) is not None:
                    self._remote_version += 1
                    self.hunt.roster_changed()
            case bus.PlayerReady(name=name):
                self.hunt.player_ready(name)
            case bus.MapReports(maps=maps):
                for name, entries in maps.items():
                    if name in self.remote:
                        self.hunt.report_map(name, entries, self.online_players)
            case bus.VaultServed():
                self.hunt.served_from_vault(message.player, message.name, message.offset,
                                            message.sent)  # fmt: skip
            case bus.Ask():
                nursery.start_soon(self._answer, message)

    async def _answer(self, ask: bus.Ask) -> None:
        there = self.remote.get(ask.player)
        name = ask.proof.name if ask.proof is not None else ask.found
        answer: Challenge | Scored
        if there is None or there.holdings is None:
            answer = Scored(name, 0, "publish first")
        elif ask.proof is not None:
            answer = await self.check_proof(ask.player, ask.proof)
        else:
            answer = self.hunt.claim(ask.player, ask.found)
        challenge = answer if isinstance(answer, Challenge) else None
        scored = answer if isinstance(answer, Scored) else None
        self.send(bus.Answer(self.me, ask.sender, ask.ask, challenge, scored))

    def _from_host(self, message: bus.Answer | bus.Planted | bus.GameState) -> None:
        if isinstance(message, bus.GameState):
            if self.mirror.update(message):
                self.pushes.hunt_changed()
            else:
                self.pushes.note_news()
            return
        if message.to != self.me:
            return
        if isinstance(message, bus.Planted):
            for session in self.sessions.values():
                if session.peer.name == message.player:
                    session.plants.extend(message.names)
            self.pushes.note_news()
        elif (waiting := self._answers.get(message.ask)) is not None:
            done, answer = waiting
            answer.append(message.challenge or message.scored or Scored("", 0, "no answer"))
            done.set()

    def hand_out(self, seeder: str, names: list[str]) -> None:
        """The host planted treasure on a player of another database peer."""
        if self.hosting and (there := self.remote.get(seeder)) is not None:
            self.send(bus.Planted(self.me, there.via, seeder, names))

    def pushed(self) -> None:
        """After each push at the host: the relays hear what changed in the game."""
        if not self.hosting or not self.remote:
            return
        hunt = self.hunt
        now = (hunt.lobby_version, hunt.round_version, self.pushes.board.tick,
               self._remote_version)  # fmt: skip
        if now == self._sent:
            return
        board_changed = now[2] != self._sent[2] or now[3] != self._sent[3]
        self._sent = now
        players = [*self.pushes.players(), *self.remote]
        targets = {}
        if hunt.round is not None:
            targets = {name: hunt.round.targets_for(name) for name in players}  # a player
            # moving here from another database peer is pushed its own at once
        board = list(self.pushes.board.rows.values()) if board_changed else None
        lobby = views.lobby_state(hunt, players)
        self.send(bus.GameState(self.me, lobby, self._round.whole(), targets, board))
