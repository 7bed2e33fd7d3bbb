"""The long-lived session with the database peer, from the player's side.

The session is how a player is in the network: `connect` brings the peer list and the catalog
(`welcome`), then the database peer pushes `update_peers`, catalog additions, revocations, the
round and the scoreboard over it, asks for backups (`need`) and challenges our finds. When it
drops, we reconnect with capped exponential backoff and jitter.
"""

from __future__ import annotations

import contextlib
import random

import msgspec
import trio

from ..game.board import apply_scoreboard
from ..net.channel import SESSION_TIMEOUT, Channel, first_protocol_error, keep_alive
from ..proto import (
    Bye,
    CatalogAdded,
    Challenge,
    Connect,
    Disconnect,
    ErrorCode,
    FileInfo,
    Found,
    Message,
    Need,
    PeerInfo,
    Ping,
    PlayerStats,
    Pong,
    Proof,
    ProtocolError,
    Refusing,
    Rejected,
    RemoteProtocolError,
    Revoked,
    Round,
    RoundState,
    Scoreboard,
    ScoreboardChanged,
    Scored,
    Stats,
    UpdatePeers,
    Welcome,
    check_file_info,
)
from ..storage.share import possession_proof
from . import events
from .backup import Publisher
from .dialer import Dialer
from .revocations import RevocationFile
from .view import NetworkView

BACKOFF_START, BACKOFF_CAP = 0.5, 15.0
GOODBYE_TIMEOUT = 2.0
MAP_REPORT_PAUSE = 0.2
"""The map size is reported at most this often."""


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
    ) -> None:
        self.view = view
        self.dialer = dialer
        self.publisher = publisher
        self.rng = rng
        self.revocations = revocations or RevocationFile(None)
        """Where what we are told of kicks is kept across restarts."""
        self.ready = trio.Event()
        """Set once the database peer welcomed us (we know the peers and the catalog)."""
        self.channel: Channel | None = None
        """The open session, while there is one."""
        self.round: RoundState | None = None
        """The database peer's current round, as last pushed (`round_deadline` for the clock)."""
        self.round_deadline = 0.0
        self.scoreboard: list[PlayerStats] = []
        self.leaving = False
        self.listens_on = ""
        """The one address we listen on, told in `connect` ("" when we listen on all)."""
        self._ended = trio.Event()
        self._map_news = trio.Event()
        view.bus.subscribe(self._on_event)

    def _on_event(self, event: events.Event) -> None:
        if isinstance(event, events.MapChanged):
            self._map_news.set()

    async def run(self) -> None:
        """Stay joined until we leave (or are kicked out)."""
        backoff = BACKOFF_START
        while not self.leaving:
            self._ended = trio.Event()
            try:
                await self._run_once()
                backoff = BACKOFF_START
            except ProtocolError as exc:
                if not self.leaving:
                    self.view.bus.emit(events.DatabaseUnreachable(exc.detail))
            finally:
                if self.channel is not None and not self.leaving:
                    self.view.bus.emit(events.SessionLost())
                self.channel = None
                self._ended.set()
            if self.leaving:
                return
            await trio.sleep(backoff * self.rng.uniform(0.5, 1.0))
            backoff = min(backoff * 2, BACKOFF_CAP)

    async def leave(self) -> None:
        """Tell the database peer we go, and wait (briefly) for its `bye`."""
        self.leaving = True
        if self.channel is None:
            return
        with trio.move_on_after(GOODBYE_TIMEOUT), contextlib.suppress(ProtocolError):
            await self.channel.send(Disconnect())
            await self._ended.wait()

    async def publish_changes(self) -> None:
        if self.channel is not None:
            # a database peer gone mid-publish is the session's to notice: it joins again and
            # publishes everything then (this is the share's rescan, which must not die of it)
            with contextlib.suppress(ProtocolError):
                await self.publisher.publish_changes(self.channel)

    async def claim(self, name: str) -> None:
        """Tell the database peer we found a target of the running round."""
        state, channel = self.round, self.channel
        if state is None or channel is None or state.over or name not in state.targets:
            return
        with contextlib.suppress(ProtocolError):  # no session: we keep the file, not the points
            await channel.send(Found(name))

    async def _run_once(self) -> None:
        async with await self.dialer.open_database() as channel:
            await channel.send(Connect(host=self.listens_on))
            self._welcome(await channel.receive_message(Welcome))
            await self.revocations.keep(self.view.revoked)
            self.channel = channel
            with first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(keep_alive, channel)
                    nursery.start_soon(self._report_map_size, channel)
                    self.publisher.forget_published()
                    await self.publisher.publish_changes(channel)
                    await self._read(channel, nursery)
                    nursery.cancel_scope.cancel()

    def _welcome(self, welcome: Welcome) -> None:
        view = self.view
        view.me = welcome.you
        view.peers.me = welcome.you.addr
        view.revoked.update(welcome.revoked)  # kicked before we joined: refused all the same
        view.peers.reset(welcome.peers, welcome.peers_version)
        view.catalog.clear()
        self._add_to_catalog(welcome.catalog)
        again = self.ready.is_set()
        self.ready.set()
        view.bus.emit(events.Joined(view.me.name, len(view.peers), len(view.catalog), again))
        if not welcome.you.reachable:
            self._listed_as(welcome.you)

    def _listed_as(self, me: PeerInfo) -> None:
        """How the database peer lists us: in the welcome, or corrected later (it could not
        call us back after all)."""
        self.view.me = me
        if not me.reachable:
            self.view.bus.emit(events.NotReachable(self.listens_on or me.host, me.port))

    def _add_to_catalog(self, files: list[FileInfo]) -> list[FileInfo]:
        added = []
        for info in files:
            try:
                check_file_info(info)
            except ProtocolError as exc:
                self.view.bus.emit(events.CatalogEntryIgnored(exc.detail))
                continue
            self.view.catalog[info.name] = info
            added.append(info)
        return added

    async def _report_map_size(self, channel: Channel) -> None:
        """Keep the scoreboard's map size current, at most a few messages a second."""
        reported = -1
        while True:
            if len(self.view.address_book) != reported:
                reported = len(self.view.address_book)
                await channel.send(Stats(map_size=reported))
            await self._map_news.wait()
            await trio.sleep(MAP_REPORT_PAUSE)
            self._map_news = trio.Event()

    async def _read(self, channel: Channel, nursery: trio.Nursery) -> None:
        while True:
            message = await channel.receive_message(
                UpdatePeers, CatalogAdded, Need, Rejected, Round, Scoreboard, ScoreboardChanged,
                Challenge, Scored, Revoked, Ping, Pong, Bye,
                timeout=SESSION_TIMEOUT,
            )  # fmt: skip
            if isinstance(message, Bye):
                return
            self._on_push(channel, message, nursery)

    def _on_push(self, channel: Channel, message: Message, nursery: trio.Nursery) -> None:
        view, bus = self.view, self.view.bus
        if isinstance(message, UpdatePeers):
            try:
                joined, left = view.peers.apply(message)
            except ValueError as exc:
                raise RemoteProtocolError(
                    ErrorCode.UNEXPECTED, f"peer list out of step: {exc}"
                ) from None
            for peer in left:
                view.address_book.forget_peer(peer.addr)
            view.address_book.rename_peers(joined)
            view.address_book.rename_peers(message.updated)
            if joined or left:
                bus.emit(events.PeersChanged(tuple(joined), tuple(left)))
            for peer in message.updated:
                if peer.addr == view.me.addr and peer != view.me:
                    self._listed_as(peer)
        elif isinstance(message, CatalogAdded):
            if added := self._add_to_catalog(message.files):
                bus.emit(events.CatalogChanged(tuple(added)))
        elif isinstance(message, Need):
            for name in message.names:
                nursery.start_soon(self.publisher.upload, name)
        elif isinstance(message, Rejected):
            for name, reason in zip(message.names, message.reasons, strict=False):
                bus.emit(events.PublishRefused(name, reason))
        elif isinstance(message, Round):
            self.round_deadline = trio.current_time() + message.state.seconds_left
            if not _same_round(self.round, message.state):
                self.round = message.state
                bus.emit(events.RoundChanged(message.state))
        elif isinstance(message, Scoreboard | ScoreboardChanged):
            board = apply_scoreboard(self.scoreboard, message)
            if board != self.scoreboard:
                self.scoreboard = board
                bus.emit(events.Scoreboard(tuple(board)))
        elif isinstance(message, Revoked):
            self._revoked(message.names)
            nursery.start_soon(self._refuse, channel, message.names)
        elif isinstance(message, Challenge):
            nursery.start_soon(self._answer_challenge, channel, message)
        elif isinstance(message, Scored):
            if message.points:
                bus.emit(events.FindScored(message.name, message.points, message.message))
            else:
                bus.emit(events.FindRefused(message.name, message.message))
        elif isinstance(message, Ping):
            nursery.start_soon(channel.send, Pong())

    def _revoked(self, names: list[str]) -> None:
        view = self.view
        if view.me.name in names:
            self.leaving = True  # no point knocking again: our certificate is refused
            view.bus.emit(events.Kicked())
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "kicked out of the network")
        view.revoked.update(names)
        for peer in [p for p in view.peers if p.name in view.revoked]:
            view.forget_peer(peer.addr)
        view.bus.emit(events.OthersKicked(tuple(names)))

    async def _refuse(self, channel: Channel, names: list[str]) -> None:
        """Keep the names, then tell the database peer we refuse them (the host's `kick`
        waits for that)."""
        await self.revocations.keep(self.view.revoked)
        await channel.send(Refusing(names))

    async def _answer_challenge(self, channel: Channel, challenge: Challenge) -> None:
        """Prove we hold the bytes of a find we claimed."""
        source = self.view.file_source(challenge.name)
        if source is None:
            return  # we no longer hold it: no proof, no points
        digest = await trio.to_thread.run_sync(possession_proof, source[1], challenge.nonce)
        await channel.send(Proof(challenge.name, challenge.nonce, digest))


def _same_round(old: RoundState | None, new: RoundState) -> bool:
    """The same news (the clock alone moved on)."""
    return old is not None and msgspec.structs.replace(old, seconds_left=new.seconds_left) == new
