"""The database peer: registry of live peers, `update_peers`, the trusted catalog and the vault.

It is a `Node` like any other (it serves `get` from its vault, last in every search) with two more
requests: `connect`, which opens a peer's long-lived session, and `upload`, which brings a
published file's bytes into the vault. Each session has a pusher task that sends its peer the net
change of the peer list, the new catalog entries and the changed scoreboard rows since its last
push. One announcer decides when all of them push: once changes pause for a moment, so a burst of
joins costs every peer about one small message, and the database peer O(N) work per push rather
than per change (a storm of N joins was N^2 scoreboards).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from .addressbook import Addr
from .enroll import Grant, serve_enrollment
from .hunt import BoardLog, HuntHost, Online
from .node import SESSION_TIMEOUT, Handler, Node, keep_alive
from .peerlist import PeerRegistry
from .protocol import Bye as ByeMessage
from .protocol import (
    CatalogAdded,
    Connect,
    Disconnect,
    Enroll,
    ErrorCode,
    FileInfo,
    Found,
    Get,
    Hello,
    Kick,
    Need,
    PeerInfo,
    Ping,
    Pong,
    Proof,
    ProtocolError,
    Publish,
    Rejected,
    Revoked,
    Round,
    Scored,
    Stats,
    Stored,
    UpdatePeers,
    Upload,
    Welcome,
    check_file_info,
    check_version,
    name_problem,
)
from .security import ADMIN_NAME, DATABASE_NAME, NetworkAuthority, SecurityError
from .store.sqlite import SqliteStore
from .wire import Channel, ConnectionLost, RemoteError, first_protocol_error

log = logging.getLogger("rp2p.db")

COALESCE_SECONDS = 0.05
"""Sessions push once changes have paused this long, so a burst of joins becomes one update."""
COALESCE_LIMIT = 2.0
"""...but a steady stream of changes (a long join storm) is still pushed this often."""
MAX_UPLOADS = 4


@dataclass(eq=False)
class Session:
    peer: PeerInfo
    channel: Channel
    peers_version: int
    catalog_sent: int
    pushes_seen: int
    """The announcer's push count when this session last pushed."""
    round_version: int = -1
    board_tick: int = -1
    revoked_sent: int = 0
    published: dict[str, bytes] = field(default_factory=dict)
    map_size: int = 0
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class DatabasePeer(Node):
    """The always-on database peer. Start it with ``await nursery.start(db.run)``."""

    role = "database"

    def __init__(
        self,
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 9000,
        round_seconds: float = 120.0,
        pause_seconds: float = 15.0,
        min_players: int = 2,
        lobby_seconds: float = 3.0,
        secure: bool = False,
        enroll_port: int = 0,
        **options: Any,
    ) -> None:
        self.authority = NetworkAuthority.load_or_create(data_dir) if secure else None
        identity = (
            self.authority.identity(DATABASE_NAME, data_dir / "identity")
            if self.authority
            else None
        )
        super().__init__(
            name=DATABASE_NAME, host=host, port=port, database=None, identity=identity, **options
        )
        self.enroll_port = enroll_port
        """Where players join with a code (TLS mode only); 0 picks a free port."""
        self.store = SqliteStore(data_dir)
        self.hunt = HuntHost(
            self.store,
            round_seconds=round_seconds,
            pause_seconds=pause_seconds,
            min_players=min_players,
            lobby_seconds=lobby_seconds,
            rng=self.rng,
            on_change=self._hunt_changed,
        )
        self.registry = PeerRegistry()
        self.sessions: dict[Addr, Session] = {}
        self.board = BoardLog()
        self._board_stale = False
        self._news = trio.Event()
        self._news_at = 0.0
        self._pushes = 0
        self._pushed = trio.Event()
        self._peer_deltas: dict[int, UpdatePeers] = {}
        self._catalog_log: list[FileInfo] = []
        self._revoked_log: list[str] = []
        self._upload_slots = trio.CapacityLimiter(MAX_UPLOADS)

    async def _prepare(self) -> None:
        catalog = await trio.to_thread.run_sync(self.store.open)
        self.catalog = {info.name: info for info in catalog}
        self._catalog_log = list(catalog)
        self.revoked = await trio.to_thread.run_sync(self.store.revoked)
        await self.hunt.load()
        log.info(
            "database peer listening on %s:%s with %d files in the catalog (data in %s)",
            self.host, self.port, len(self.catalog), self.store.data_dir,
        )  # fmt: skip

    async def _start_background(self, nursery: trio.Nursery) -> None:
        nursery.start_soon(self.hunt.run, self.online_players, self.catalog.keys)
        nursery.start_soon(self._announce)
        if self.authority is not None:
            serve = functools.partial(
                trio.serve_tcp, self._handle_enrollment, self.enroll_port, host=self.host
            )
            listeners = await nursery.start(serve)
            self.enroll_port = listeners[0].socket.getsockname()[1]
            log.info("players join with a code on port %d", self.enroll_port)
        self.ready.set()

    def online_players(self) -> dict[str, Online]:
        """Who plays right now, what each holds (of the catalog) and how big its map is."""
        players = {}
        for session in self.sessions.values():
            holdings = frozenset(
                name
                for name, digest in session.published.items()
                if name in self.catalog and self.catalog[name].hash == digest
            )
            players[session.peer.name] = Online(session.peer, holdings, session.map_size)
        return players

    async def run(self, *, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            self.store.close()

    def _handlers(self) -> dict[type, Handler]:
        return {
            **super()._handlers(),
            Connect: self._serve_session,
            Upload: self._serve_upload,
            Kick: self._serve_kick,
        }

    # ------------------------------------------------------------------- membership

    async def _handle_enrollment(self, stream: trio.SocketStream) -> None:
        """A new player joins with a code (see `enroll.py`); one short conversation."""
        channel = Channel(stream, timeout=self.read_timeout)
        try:
            hello = await channel.receive_message(Hello)
            check_version(hello)
            request = await channel.receive_message(Enroll)
            name = await serve_enrollment(
                channel, request, self._invite_password, self._invite_failed,
                functools.partial(self._grant, request.number),
            )  # fmt: skip
            log.info("%s joined the network with a code", name)
        except (ConnectionLost, RemoteError) as exc:
            log.info("enrollment from %s ended: %s", channel.remote_host, exc.detail)
        except ProtocolError as exc:
            log.info("enrollment from %s refused: %s", channel.remote_host, exc.detail)
            await channel.send_error(exc.code, exc.detail)
        finally:
            await channel.aclose()

    async def _invite_password(self, number: int) -> bytes | None:
        return await trio.to_thread.run_sync(self.store.invite_password, number)

    async def _invite_failed(self, number: int) -> None:
        await trio.to_thread.run_sync(self.store.invite_failed, number)

    async def _grant(self, number: int, name: str, public_key: bytes) -> Grant:
        assert self.authority is not None
        if problem := name_problem(name):
            raise ProtocolError(ErrorCode.BAD_NAME, f"player name {name!r} {problem}")
        if name in (DATABASE_NAME, ADMIN_NAME):
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"{name} is reserved")
        if not await trio.to_thread.run_sync(self.store.enroll_member, name, number):
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"player name {name} is taken")
        try:
            certificate = self.authority.issue(name, public_key)
        except (SecurityError, ValueError) as exc:
            raise ProtocolError(ErrorCode.MALFORMED, f"bad public key: {exc}") from None
        return Grant(certificate, self.authority.ca_pem)

    async def _serve_kick(self, channel: Channel, hello: Hello, request: Kick) -> None:
        """Revoke a player at once: refuse its certificate and end its session everywhere."""
        if self.authority is None or hello.name != ADMIN_NAME:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may kick")
        await trio.to_thread.run_sync(self.store.revoke, request.name)
        self.revoked.add(request.name)
        self._revoked_log.append(request.name)
        for session in list(self.sessions.values()):
            if session.peer.name == request.name:
                with trio.move_on_after(1), contextlib.suppress(ProtocolError):
                    await session.channel.send(Revoked([request.name]))  # tell it why
                session.scope.cancel()
        self._note_news()
        log.info("%s was kicked out of the network", request.name)
        await channel.send(Revoked([request.name]))

    def file_source(self, name: str) -> tuple[FileInfo, Path] | None:
        info = self.catalog.get(name)
        if info is None:
            return None
        return info, self.store.blob_path(info.hash)

    async def _answer_not_held(self, channel: Channel, name: str) -> None:
        raise ProtocolError(ErrorCode.NOT_IN_CATALOG, f"{name} is not in the catalog")

    async def _serve_get(self, channel: Channel, hello: Hello, request: Get) -> None:
        await super()._serve_get(channel, hello, request)
        self.hunt.served_from_vault(hello.name, request.name)

    # ------------------------------------------------------------------------ sessions

    async def _serve_session(self, channel: Channel, hello: Hello, request: Connect) -> None:
        if not 0 < hello.port < 65536:
            raise ProtocolError(ErrorCode.MALFORMED, "connect needs the port you listen on")
        peer = PeerInfo(name=hello.name, host=channel.remote_host, port=hello.port)
        if any(
            s.peer.name == peer.name and s.peer.addr != peer.addr for s in self.sessions.values()
        ):
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"player name {peer.name} is already online")
        old = self.sessions.pop(peer.addr, None)
        if old is not None:
            old.scope.cancel()  # the same address joined again: the old session is stale
            self.registry.leave(peer.addr)
        others = list(self.registry.peers.values())
        self.registry.join(peer)
        session = Session(
            peer, channel, self.registry.version, len(self._catalog_log), self._pushes,
            revoked_sent=len(self._revoked_log),
        )  # fmt: skip
        self.sessions[peer.addr] = session
        self._note_news()
        self.hunt.roster_changed(peer.name)
        log.info("%s joined from %s:%d (%d online)", peer.name, *peer.addr, len(self.sessions))
        try:
            await channel.send(
                Welcome(
                    you=peer,
                    peers=others,
                    peers_version=session.peers_version,
                    catalog=list(self.catalog.values()),
                )
            )
            with session.scope, first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._push_changes, session)
                    nursery.start_soon(keep_alive, channel)
                    await self._read_peer_session(session)
                    nursery.cancel_scope.cancel()
        finally:
            if self.sessions.get(peer.addr) is session:
                del self.sessions[peer.addr]
                self.registry.leave(peer.addr)
                self._note_news()
                self.hunt.roster_changed(peer.name)
                log.info("%s left (%d online)", peer.name, len(self.sessions))

    # ------------------------------------------------------------------------- pushes

    def _note_news(self) -> None:
        """Something sessions push changed (peer list, catalog, revocations, round, board)."""
        self._news_at = trio.current_time()
        self._news.set()

    def _hunt_changed(self) -> None:
        """The round or the scoreboard changed; the board is rebuilt once, at the next push."""
        self._board_stale = True
        self._note_news()

    async def _announce(self) -> None:
        """Tell every pusher to push, once news has paused for COALESCE_SECONDS.

        One task waits out the burst, not one per session: a change costs O(1) here, and each
        push round O(N), however many joins it covers.
        """
        while True:
            await self._news.wait()
            first = trio.current_time()
            while (due := self._push_due(first)) > trio.current_time():  # noqa: ASYNC110
                await trio.sleep_until(due)  # news may keep coming: the deadline moves
            self._news = trio.Event()
            if self._board_stale:
                self._board_stale = False
                self.board.update(self.hunt.scoreboard(self.online_players()))
            self._trim_log()
            self._pushes += 1
            self._pushed.set()
            self._pushed = trio.Event()

    def _push_due(self, first: float) -> float:
        return min(self._news_at + COALESCE_SECONDS, first + COALESCE_LIMIT)

    async def _push_changes(self, session: Session) -> None:
        while True:
            if session.pushes_seen == self._pushes:
                await self._pushed.wait()
            session.pushes_seen = self._pushes
            await self._push(session)

    async def _push(self, session: Session) -> None:
        """Send one session everything that changed since its last push."""
        channel = session.channel
        if session.peers_version != self.registry.version:
            update = self._peers_delta(session.peers_version)
            session.peers_version = update.version
            await channel.send(update)
        if session.catalog_sent < len(self._catalog_log):
            added = self._catalog_log[session.catalog_sent :]
            session.catalog_sent = len(self._catalog_log)
            await channel.send(CatalogAdded(added))
        if session.revoked_sent < len(self._revoked_log):
            names = self._revoked_log[session.revoked_sent :]
            session.revoked_sent = len(self._revoked_log)
            await channel.send(Revoked(names))
        if session.round_version != self.hunt.round_version:
            session.round_version = self.hunt.round_version
            if (state := self.hunt.round_state()) is not None:
                await channel.send(Round(state))
        if (board := self.board.since(session.board_tick)) is not None:
            session.board_tick = self.board.tick
            await channel.send(board)

    def _peers_delta(self, since: int) -> UpdatePeers:
        """The peer-list delta from `since`, computed once for all sessions at that version."""
        if self._peer_deltas and next(iter(self._peer_deltas.values())).version != (
            self.registry.version
        ):
            self._peer_deltas.clear()
        update = self._peer_deltas.get(since)
        if update is None:
            update = self._peer_deltas[since] = self.registry.delta(since)
        return update

    def _trim_log(self) -> None:
        oldest = min((s.peers_version for s in self.sessions.values()), default=0)
        self.registry.trim(min(oldest, self.registry.version))

    async def _read_peer_session(self, session: Session) -> None:
        channel = session.channel
        while True:
            message = await channel.receive_message(
                Publish, Stats, Found, Proof, Ping, Pong, Disconnect, timeout=SESSION_TIMEOUT
            )
            if isinstance(message, Disconnect):
                await channel.send(ByeMessage())
                return
            if isinstance(message, Ping):
                await channel.send(Pong())
            elif isinstance(message, Publish):
                await self._on_publish(session, message)
            elif isinstance(message, Stats):
                session.map_size = max(0, message.map_size)
                self.hunt.roster_changed()
            elif isinstance(message, Found):
                await channel.send(self.hunt.claim(session.peer.name, message.name))
            elif isinstance(message, Proof):
                await channel.send(await self._check_proof(session, message))

    async def _check_proof(self, session: Session, proof: Proof) -> Scored:
        info = self.catalog.get(proof.name)
        if info is None:
            return Scored(proof.name, 0, f"{proof.name} is not in the catalog")
        blob = self.store.blob_path(info.hash)
        return await self.hunt.check_proof(session.peer.name, proof, blob)

    # ------------------------------------------------------------------------- backup

    async def _on_publish(self, session: Session, publish: Publish) -> None:
        """Catalog what we already hold, ask for the bytes we lack, refuse conflicts."""
        needed: list[str] = []
        refused: dict[str, str] = {}
        for info in publish.files:
            try:
                self._check_publishable(info)
            except ProtocolError as exc:
                refused[info.name] = exc.detail
                continue
            session.published[info.name] = info.hash
            if info.name in self.catalog:
                continue
            if await trio.to_thread.run_sync(self.store.has_blob, info.hash, info.size):
                await self._add_to_vault_catalog(info, session.peer)
            else:
                needed.append(info.name)
        if needed:
            await session.channel.send(Need(needed))
        if refused:
            await session.channel.send(Rejected(list(refused), list(refused.values())))
        self.hunt.poke()

    def _check_publishable(self, info: FileInfo) -> None:
        check_file_info(info)
        known = self.catalog.get(info.name)
        if known is not None and known.hash != info.hash:
            raise ProtocolError(
                ErrorCode.NAME_TAKEN, "another file with different content already has this name"
            )

    async def _serve_upload(self, channel: Channel, hello: Hello, request: Upload) -> None:
        info = request.file
        self._check_publishable(info)
        uploader = PeerInfo(name=hello.name, host=channel.remote_host, port=hello.port)
        async with self._upload_slots:
            blob = await trio.to_thread.run_sync(self.store.start_blob, info)
            try:
                while not blob.complete:
                    data = await channel.receive_data()
                    await trio.to_thread.run_sync(blob.write_chunk, data)
                await trio.to_thread.run_sync(blob.finish)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(blob.abandon)
                raise
        if info.name not in self.catalog:
            await self._add_to_vault_catalog(info, uploader)
        await channel.send(Stored(info.name))

    async def _add_to_vault_catalog(self, info: FileInfo, publisher: PeerInfo) -> None:
        await trio.to_thread.run_sync(self.store.add_file, info)
        self.catalog[info.name] = info
        self._catalog_log.append(info)
        self._note_news()
        self.hunt.poke()
        log.info("cataloged %s (%s bytes) from %s", info.name, f"{info.size:,}", publisher.name)
