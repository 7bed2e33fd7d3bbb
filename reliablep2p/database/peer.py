"""The database peer: registry of live peers, `update_peers`, the trusted catalog and the vault.

It serves `get` from its vault (last in every search) like any node serves its share, plus
`connect` (a player's long-lived session: `joins.py`), `upload` (a published file's bytes for the vault)
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

from ..game import views
from ..game.host import HuntHost, Online
from ..game.settings import GameSettings
from ..net.channel import (
    READ_TIMEOUT,
    SESSION_TIMEOUT,
    Channel,
)
from ..net.discovery import Beacon, default_network_name, lan_interfaces
from ..net.identity import ADMIN_NAME, DATABASE_NAME
from ..net.server import Server
from ..peer.peerlist import Addr, PeerRegistry
from ..peer.serving import MAX_SERVING, FileService, Source
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
    Refusing,
    RemoteProtocolError,
    Scored,
    Settings,
    Stats,
    Upload,
)
from ..proto.lookalike import load_table
from ..storage.interfaces import StoreError, StoreUnavailable
from ..storage.stores import Stores, embedded
from .authority import NetworkAuthority
from .backup import Backup
from .joins import Joins
from .membership import Membership
from .pushes import Announcer, Session
from .reach import ReachBack
from .treasury import Treasury

log = logging.getLogger("rp2p.db")

QUIET_ENOUGH = 8
"""Callers still in their handshake above which the host is letting a crowd in (a storm)."""
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
        enroll_port: int | None = None,
        discovery_port: int | None = None,
        network_name: str | None = None,
        read_timeout: float = READ_TIMEOUT,
        max_serving: int = MAX_SERVING,
        rng: random.Random | None = None,
        stores: Stores | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.enroll_port = port if enroll_port is None else enroll_port
        """Where players join with a code (TLS mode only): the main port, unless a port of its
        own was asked for (0 picks one), as before enrollment moved to the main port."""
        self._own_enroll_port = enroll_port is not None
        self.discovery_port = discovery_port
        """The UDP port to announce on (None: no announcements)."""
        self.network_name = network_name or default_network_name()
        self.beacon: Beacon | None = None
        """Set while announcing on the LAN."""
        self.read_timeout = read_timeout
        self.rng = rng or random.Random()
        self.stores = stores or embedded(data_dir)
        self.store = self.stores.metadata
        self.vault = self.stores.vault
        self.stores.prepare()  # before the keys are made: a lost database is refused, not renewed
        self.authority = NetworkAuthority.load_or_create(data_dir) if secure else None
        identity = (
            self.authority.identity(DATABASE_NAME, data_dir / "identity")
            if self.authority
            else None
        )
        self.view = NetworkView(PeerInfo(DATABASE_NAME, host, port), database=None)
        self.sessions: dict[Addr, Session] = {}
        self.treasury = Treasury(
            self.store, self.vault, self.view.catalog, self.sessions.values,
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
            lambda: views.scoreboard(self.hunt, self.online_players()),
        )  # fmt: skip
        self.backup = Backup(
            self.store, self.vault, self.view.catalog, self.hunt, self.pushes.cataloged
        )
        self.membership = Membership(
            self.store, self.authority, self.view.revoked, self.sessions.values,
            self.pushes.revoked, read_timeout=read_timeout, network_name=self.network_name,
        )  # fmt: skip
        self.files = FileService(
            self.view,
            lookup=self._vault_source,
            missing=self._not_in_catalog,
            served=self.hunt.served_from_vault,
            max_serving=max_serving,
        )
        reach_back = ReachBack(
            identity.client_context() if identity else None,
            busy=lambda: self.server.caps.pending_count > QUIET_ENOUGH,
        )
        self.joins = Joins(
            sessions=self.sessions, registry=self.registry, pushes=self.pushes, hunt=self.hunt,
            view=self.view, reach_back=reach_back, read=self._read_session,
        )  # fmt: skip
        self.server = Server(
            {
                **self.files.handlers(),
                Connect: self.joins.serve,
                Upload: self.backup.serve_upload,
                Kick: self.membership.serve_kick,
                ChangeSetting: self._serve_setting,
            },
            tls=identity.server_context() if identity else None,
            revoked=self.view.revoked,
            long_lived=(Connect,),
            plaintext=self.membership.plaintext_handlers(),
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
            # what we know before we listen: a kicked player must not slip in meanwhile
            catalog = await trio.to_thread.run_sync(self.stores.open)  # StoreError: damaged
            await trio.to_thread.run_sync(load_table)  # for the look-alike checks
            self.view.catalog.update((info.name, info) for info in catalog)
            self.pushes.catalog_log.extend(catalog)
            try:
                self.view.revoked.update(await trio.to_thread.run_sync(self.store.revoked))
                await self.hunt.load()
                await self.treasury.load()
            except StoreUnavailable as exc:  # gone since it opened: not started
                raise StoreError(exc.detail) from None
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.port = await self.server.listen(nursery, self.host, self.port)
                self.view.me = PeerInfo(DATABASE_NAME, self.host, self.port)
                log.info(
                    "database peer listening on %s:%s with %d files in the catalog (%s)",
                    self.host, self.port, len(self.catalog), self.stores.where,
                )  # fmt: skip
                nursery.start_soon(self.hunt.run, self.online_players)
                nursery.start_soon(self.pushes.run)
                if self.authority is not None:
                    await self._start_enrollment(nursery)
                    await self._start_announcing(nursery, self.authority.tag)
                self.ready.set()
                task_status.started(self)
        finally:
            self.stores.close()

    async def _start_enrollment(self, nursery: trio.Nursery) -> None:
        """Players join with a code on the main port; on a port of their own if asked."""
        if not self._own_enroll_port:
            self.enroll_port = self.port
            return
        enrollment = Server(
            {}, plaintext=self.membership.plaintext_handlers(), tls=None, revoked=(),
            read_timeout=self.read_timeout,
        )  # fmt: skip
        enrollment.name = DATABASE_NAME
        self.enroll_port = await enrollment.listen(nursery, self.host, self.enroll_port)
        log.info("players may also join with a code on port %d", self.enroll_port)

    async def _start_announcing(self, nursery: trio.Nursery, tag: bytes) -> None:
        """Announce the network on the LAN; without the UDP port, players need --db."""
        if self.discovery_port is None:
            return
        find = functools.partial(lan_interfaces, self.host)
        beacon = Beacon(tag, self.network_name, self.port, find, port=self.discovery_port)
        try:
            await nursery.start(beacon.run)
        except OSError as exc:
            log.warning("cannot announce on UDP port %d (%s): players need --db",
                        self.discovery_port, exc.strerror or exc)  # fmt: skip
            return
        self.beacon = beacon
        log.info("announcing network %s on UDP port %d (%s)", self.network_name,
                 self.discovery_port, ", ".join(i.address for i in beacon.interfaces) or "nowhere")  # fmt: skip

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

    def _vault_source(self, name: str) -> tuple[FileInfo, Source] | None:
        info = self.catalog.get(name)
        if info is None:
            return None
        return info, self.vault.source(info)

    async def _not_in_catalog(self, channel: Channel, name: str) -> None:
        raise RemoteProtocolError(ErrorCode.NOT_IN_CATALOG, f"{name} is not in the catalog")

    # ------------------------------------------------------------------------ sessions

    async def _read_session(self, session: Session) -> None:
        channel = session.channel
        while True:
            message = await channel.receive_message(
                Publish, Stats, Found, Proof, Refusing, Ready, Ping, Pong, Disconnect,
                timeout=SESSION_TIMEOUT,
            )  # fmt: skip
            if isinstance(message, Disconnect):
                await channel.send(Bye())
                return
            if isinstance(message, Ping):
                await channel.send(Pong())
            elif isinstance(message, Refusing):
                session.heard(message.names)
            elif isinstance(message, Publish):
                await self._on_publish(session, message)
            elif isinstance(message, Stats):
                entries = message.entries[:MAX_MAP_REPORT] if session.plays else []
                session.map_size = self.hunt.report_map(
                    session.peer.name, entries, self.online_players
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
        try:
            return await self.hunt.check_proof(
                session.peer.name, proof, functools.partial(self.vault.possession_proof, info),
                info.size,
            )  # fmt: skip
        except StoreUnavailable as exc:  # the claim stands: the player proves it again later
            return Scored(proof.name, 0, f"cannot check the proof now: {exc.detail}")

    async def _serve_setting(self, channel: Channel, hello: Hello, request: ChangeSetting) -> None:
        """`rp2p-db set KEY VALUE`: change the running game (the host's admin tool only)."""
        if self.authority is None or hello.name != ADMIN_NAME:
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may set")
        try:
            values = self.hunt.change_setting(request.key, request.value)
        except ValueError as exc:
            raise RemoteProtocolError(ErrorCode.MALFORMED, str(exc)) from None
        await channel.send(Settings(values))
