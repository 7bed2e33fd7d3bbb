"""The database peer: registry of live peers, `update_peers`, the trusted catalog and the vault.

It serves `get` from its vault (last in every search) like any node serves its share, plus
`connect` (a player's long-lived session), `upload` (a published file's bytes for the vault)
and `kick`. It is built from parts, not from a player's node: the listener (`Server`), the
file service over the vault, the pushes (`Announcer`), the backup, membership and the hunt.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from pathlib import Path

import trio

from ..game.host import HuntHost, Online
from ..game.settings import GameSettings
from ..net.channel import READ_TIMEOUT, SESSION_TIMEOUT, Channel, first_protocol_error, keep_alive
from ..net.identity import ADMIN_NAME, DATABASE_NAME
from ..net.server import Server
from ..peer.peerlist import Addr, PeerRegistry
from ..peer.serving import MAX_SERVING, FileService
from ..peer.view import NetworkView
from ..proto import (
    MAX_MAP_REPORT,
    Bye,
    ChangeSetting,
    Connect,
    Disconnect,
    ErrorCode,
    EveningOver,
    EveningRow,
    FileInfo,
    Found,
    Hello,
    Kick,
    PeerInfo,
    Ping,
    Pong,
    Proof,
    ProtocolError,
    Publish,
    Ready,
    RemoteProtocolError,
    Scored,
    Settings,
    Stats,
    Upload,
    Welcome,
)
from ..storage.sqlite import SqliteStore
from .authority import NetworkAuthority
from .backup import Backup
from .membership import Membership
from .pushes import Announcer, Session
from .treasury import Treasury

log = logging.getLogger("rp2p.db")

GOODNIGHT_TIMEOUT = 1.0
"""How long the host waits for a player to take its evening summary before it stops."""


class DatabasePeer:
    """The always-on database peer. Start it with ``await nursery.start(db.run)``."""

    def __init__(
        self,
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 9000,
        round_seconds: float = 120.0,
        pause_seconds: float = 15.0,
        min_players: int = 2,
        lobby_seconds: float | None = None,
        settings: GameSettings | None = None,
        secure: bool = False,
        enroll_port: int = 0,
        read_timeout: float = READ_TIMEOUT,
        max_serving: int = MAX_SERVING,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.enroll_port = enroll_port
        """Where players join with a code (TLS mode only); 0 picks a free port."""
        self.read_timeout = read_timeout
        self.rng = rng or random.Random()
        self.authority = NetworkAuthority.load_or_create(data_dir) if secure else None
        identity = (
            self.authority.identity(DATABASE_NAME, data_dir / "identity")
            if self.authority
            else None
        )
        self.view = NetworkView(PeerInfo(DATABASE_NAME, host, port), database=None)
        self.store = SqliteStore(data_dir)
        self.sessions: dict[Addr, Session] = {}
        self.treasury = Treasury(
            self.store, self.view.catalog, self.sessions.values,
            cataloged=lambda info: self.pushes.cataloged(info),
            expired=lambda files: self.pushes.expired(files),
            note_news=lambda: self.pushes.note_news(),
        )  # fmt: skip
        self.hunt = HuntHost(
            self.store,
            self.treasury,
            settings=settings or GameSettings(round_seconds, pause_seconds),
            min_players=min_players,
            lobby_seconds=lobby_seconds,
            rng=self.rng,
            on_change=self._hunt_changed,
        )
        self.registry = PeerRegistry()
        self.pushes = Announcer(
            self.registry, self.hunt, self.sessions,
            lambda: self.hunt.scoreboard(self.online_players()),
        )  # fmt: skip
        self.backup = Backup(self.store, self.view.catalog, self.hunt, self.pushes.cataloged)
        self.membership = Membership(
            self.store, self.authority, self.view.revoked, self.sessions.values,
            self.pushes.revoked, read_timeout=read_timeout,
        )  # fmt: skip
        self.files = FileService(
            self.view,
            lookup=self._vault_source,
            missing=self._not_in_catalog,
            served=self.hunt.served_from_vault,
            max_serving=max_serving,
        )
        self.server = Server(
            {
                **self.files.handlers(),
                Connect: self._serve_session,
                Upload: self.backup.serve_upload,
                Kick: self.membership.serve_kick,
                ChangeSetting: self._serve_setting,
            },
            tls=identity.server_context() if identity else None,
            revoked=self.view.revoked,
            long_lived=(Connect,),
            read_timeout=read_timeout,
        )
        self.server.name = DATABASE_NAME
        self.ready = trio.Event()
        self._nursery: trio.Nursery | None = None

    @property
    def name(self) -> str:
        return DATABASE_NAME

    @property
    def catalog(self) -> dict[str, FileInfo]:
        return self.view.catalog

    @property
    def revoked(self) -> set[str]:
        return self.view.revoked

    async def run(
        self, *, task_status: trio.TaskStatus[DatabasePeer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and serve until cancelled (or `stop()`)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.port = await self.server.listen(nursery, self.host, self.port)
                self.view.me = PeerInfo(DATABASE_NAME, self.host, self.port)
                catalog = await trio.to_thread.run_sync(self.store.open)
                self.view.catalog.update((info.name, info) for info in catalog)
                self.pushes.catalog_log.extend(catalog)
                self.view.revoked.update(await trio.to_thread.run_sync(self.store.revoked))
                await self.hunt.load()
                await self.treasury.load()
                log.info(
                    "database peer listening on %s:%s with %d files in the catalog (data in %s)",
                    self.host, self.port, len(self.catalog), self.store.data_dir,
                )  # fmt: skip
                nursery.start_soon(self.hunt.run, self.online_players)
                nursery.start_soon(self.pushes.run)
                if self.authority is not None:
                    serve = functools.partial(
                        trio.serve_tcp,
                        self.membership.serve_enrollment,
                        self.enroll_port,
                        host=self.host,
                    )
                    listeners = await nursery.start(serve)
                    self.enroll_port = listeners[0].socket.getsockname()[1]
                    log.info("players join with a code on port %d", self.enroll_port)
                self.ready.set()
                task_status.started(self)
        finally:
            self.store.close()

    def stop(self) -> None:
        """Stop at once (what a crash looks like to the players)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def say_goodnight(self) -> list[EveningRow]:
        """Tell everyone how the evening went, before the host stops; the rows, best first."""
        rows = self.hunt.evening.rows()
        message = EveningOver(rows)

        async def tell(session: Session) -> None:
            with trio.move_on_after(GOODNIGHT_TIMEOUT), contextlib.suppress(ProtocolError):
                await session.channel.send(message)

        async with trio.open_nursery() as nursery:
            for session in list(self.sessions.values()):
                if session.plays:
                    nursery.start_soon(tell, session)
        return rows

    def online_players(self) -> dict[str, Online]:
        """Who plays right now, what each holds (of the catalog) and how big its map is."""
        players = {}
        for session in self.sessions.values():
            if not session.plays or not session.publishes:
                continue  # not in the game, or not yet said what it holds
            holdings = frozenset(
                name
                for name, digest in session.published.items()
                if name in self.catalog and self.catalog[name].hash == digest
            )
            players[session.peer.name] = Online(session.peer, holdings, session.map_size)
        return players

    def _hunt_changed(self) -> None:
        self.pushes.hunt_changed()

    # --------------------------------------------------------------------- the vault

    def _vault_source(self, name: str) -> tuple[FileInfo, Path] | None:
        info = self.catalog.get(name)
        if info is None:
            return None
        return info, self.store.blob_path(info.hash)

    async def _not_in_catalog(self, channel: Channel, name: str) -> None:
        raise RemoteProtocolError(ErrorCode.NOT_IN_CATALOG, f"{name} is not in the catalog")

    # ------------------------------------------------------------------------ sessions

    async def _serve_session(self, channel: Channel, hello: Hello, request: Connect) -> None:
        if not 0 < hello.port < 65536:
            raise RemoteProtocolError(ErrorCode.MALFORMED, "connect needs the port you listen on")
        peer = PeerInfo(name=hello.name, host=channel.remote_host, port=hello.port)
        if any(
            s.peer.name == peer.name and s.peer.addr != peer.addr for s in self.sessions.values()
        ):
            raise RemoteProtocolError(
                ErrorCode.NAME_TAKEN, f"player name {peer.name} is already online"
            )
        old = self.sessions.pop(peer.addr, None)
        if old is not None:
            old.scope.cancel()  # the same address joined again: the old session is stale
            self.registry.leave(peer.addr)
        others = list(self.registry.peers.values())
        self.registry.join(peer)
        session = self.pushes.new_session(peer, channel)
        session.plays = request.play
        self.sessions[peer.addr] = session
        self.pushes.note_news()
        if session.plays:
            self.hunt.arrived(peer.name)
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
                    nursery.start_soon(self.pushes.push_changes, session)
                    nursery.start_soon(keep_alive, channel)
                    await self._read_session(session)
                    nursery.cancel_scope.cancel()
        finally:
            if self.sessions.get(peer.addr) is session:
                del self.sessions[peer.addr]
                self.registry.leave(peer.addr)
                self.pushes.note_news()
                self.hunt.roster_changed()
                log.info("%s left (%d online)", peer.name, len(self.sessions))

    async def _read_session(self, session: Session) -> None:
        channel = session.channel
        while True:
            message = await channel.receive_message(
                Publish, Stats, Found, Proof, Ready, Ping, Pong, Disconnect,
                timeout=SESSION_TIMEOUT,
            )  # fmt: skip
            if isinstance(message, Disconnect):
                await channel.send(Bye())
                return
            if isinstance(message, Ping):
                await channel.send(Pong())
            elif isinstance(message, Publish):
                await self._on_publish(session, message)
            elif isinstance(message, Stats):
                entries = message.entries[:MAX_MAP_REPORT] if session.plays else []
                session.map_size = self.hunt.report_map(
                    session.peer.name, entries, self.online_players()
                )
            elif isinstance(message, Ready):
                if session.plays:
                    self.hunt.player_ready(session.peer.name)
            elif isinstance(message, Found):
                if not session.plays or not session.publishes:
                    why = "publish first" if session.plays else "you joined to fetch, not to play"
                    await channel.send(Scored(message.name, 0, why))
                    continue
                await channel.send(self.hunt.claim(session.peer.name, message.name))
            elif isinstance(message, Proof):
                await channel.send(await self._check_proof(session, message))

    async def _on_publish(self, session: Session, publish: Publish) -> None:
        publish = await self.treasury.screen_publish(session, publish)
        await self.backup.on_publish(session, publish)
        held = [i.hash for i in publish.files if session.published.get(i.name) == i.hash]
        session.publishes += 1
        if not session.plays:
            return
        if session.publishes == 1:
            self.hunt.first_publish(session.peer.name, held)
        else:
            self.hunt.published(session.peer.name, held)

    async def _check_proof(self, session: Session, proof: Proof) -> Scored:
        info = self.catalog.get(proof.name)
        if info is None:
            return Scored(proof.name, 0, f"{proof.name} is not in the catalog")
        blob = self.store.blob_path(info.hash)
        return await self.hunt.check_proof(session.peer.name, proof, blob, info.size)

    async def _serve_setting(self, channel: Channel, hello: Hello, request: ChangeSetting) -> None:
        """`rp2p-db set KEY VALUE`: change the running game (the host's admin tool only)."""
        if self.authority is None or hello.name != ADMIN_NAME:
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may set")
        try:
            values = self.hunt.change_setting(request.key, request.value)
        except ValueError as exc:
            raise RemoteProtocolError(ErrorCode.MALFORMED, str(exc)) from None
        await channel.send(Settings(values))
