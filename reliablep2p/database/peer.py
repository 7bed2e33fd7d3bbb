"""The database peer: registry of live peers, `update_peers`, the trusted catalog and the vault.

It serves `get` from its vault (last in every search) like any node serves its share, plus
`connect` (a player's long-lived session: `joins.py`), `upload` (a published file's bytes for the vault)
and `kick`. It is built from parts, not from a player's node: the listener (`Server`), the
file service over the vault, the pushes (`Announcer`), the backup, membership and the hunt.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ..game import views
from ..game.host import HuntHost, Online
from ..game.records import stored
from ..game.settings import GameSettings
from ..net.channel import READ_TIMEOUT, SESSION_TIMEOUT, Channel
from ..net.discovery import Beacon, default_network_name
from ..net.identity import DATABASE_NAME
from ..net.server import Server
from ..peer.peerlist import Addr, PeerRegistry
from ..peer.serving import MAX_SERVING, FileService, Source
from ..peer.view import NetworkView
from ..proto import (
    MAX_MAP_REPORT,
    AskShared,
    Bye,
    ChangeSetting,
    Connect,
    Disconnect,
    ErrorCode,
    EveningRow,
    FileInfo,
    Found,
    Kick,
    PeerInfo,
    Ping,
    Pong,
    Proof,
    Publish,
    Ready,
    Refusing,
    RemoteProtocolError,
    Remove,
    Scored,
    Stats,
    Upload,
)
from ..proto.lookalike import load_table
from ..storage.interfaces import StoreError, StoreUnavailable
from ..storage.stores import Stores, embedded
from . import lan
from .authority import NetworkAuthority
from .backup import Backup
from .directory import DatabaseDirectory, reachable_addresses
from .joins import Joins
from .membership import Membership
from .play import Play
from .pushes import GOODNIGHT_TIMEOUT, Announcer
from .reach import ReachBack
from .removal import Removals
from .sessions import Session
from .treasury import Treasury
from .tuning import Tuning

if TYPE_CHECKING:
    from .cluster import Cluster

log = logging.getLogger("rp2p.db")

QUIET_ENOUGH = 8
"""Callers still in their handshake above which the host is letting a crowd in (a storm)."""


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
        settings_given: Mapping[str, str] | None = None,
        secure: bool = False,
        enroll_port: int | None = None,
        discovery_port: int | None = None,
        network_name: str | None = None,
        read_timeout: float = READ_TIMEOUT,
        max_serving: int = MAX_SERVING,
        rng: random.Random | None = None,
        stores: Stores | None = None,
        shared_ca: Path | None = None,
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
        self.authority = (
            NetworkAuthority.load_or_create(data_dir, shared=shared_ca) if secure else None
        )  # SecurityError: keys others may read, half a pair, another network's
        identity = (
            self.authority.identity(DATABASE_NAME, data_dir / "identity")
            if self.authority
            else None
        )
        self.view = NetworkView(PeerInfo(DATABASE_NAME, host, port), database=None)
        self.sessions: dict[Addr, Session] = {}
        self.treasury = Treasury(
            self.store, self.vault, self.view.catalog, self.sessions.values,
            cataloged=lambda info: self._cataloged(info),
            expired=lambda files: self._expired(files),
            note_news=lambda: self.pushes.note_news(),
            elsewhere=lambda seeder, names: self.play.hand_out(seeder, names),
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
            self.registry, views.HuntView(self.hunt), self.sessions, lambda: self.play.scoreboard()
        )
        self.directory = DatabaseDirectory(
            self.store, lambda: reachable_addresses(self.host, self.port),
            lambda: self.pushes.databases_changed(self.directory.live),
        )  # fmt: skip
        self.play = Play(self.hunt, self.pushes, self.sessions, self.view.catalog, self.vault)
        self.pushes.on_push = self.play.pushed
        self.removals = Removals(
            self.store, self.vault, self.view.catalog, self.sessions.values,
            secure=self.authority is not None, removed=self._removed,
        )  # fmt: skip
        self.backup = Backup(
            self.store, self.vault, self.view.catalog, self.hunt, self._cataloged,
            removed=self.removals.hashes,
        )  # fmt: skip
        self.cluster = self._cluster() if self.stores.shared else None
        self.tuning = Tuning(
            self.store, self.hunt, secure=self.authority is not None, given=settings_given or {},
            tell_others=self.cluster.settings_changed if self.cluster else lambda values: None,
        )  # fmt: skip
        self.membership = Membership(
            self.store, self.authority, self.view.revoked, self.sessions.values, self.pushes.revoked,
            read_timeout=read_timeout, network_name=self.network_name,
            shared=self.cluster.shared if self.cluster else None,
            elsewhere=self.cluster.kick_elsewhere if self.cluster else None,
        )  # fmt: skip
        self.files = FileService(
            self.view,
            lookup=self._vault_source,
            missing=self._not_in_catalog,
            served=self.play.served,
            max_serving=max_serving,
            known=lambda addr: self.registry.peers.get(addr),
        )
        reach_back = ReachBack(
            identity.client_context() if identity else None,
            busy=lambda: self.server.caps.pending_count > QUIET_ENOUGH,
        )
        self.joins = Joins(
            sessions=self.sessions, registry=self.registry, pushes=self.pushes, play=self.play,
            view=self.view, reach_back=reach_back, read=self._read_session,
            removed=self.removals.hashes, cluster=self.cluster,
        )  # fmt: skip
        self.server = Server(
            {
                **self.files.handlers(),
                Connect: self.joins.serve,
                Upload: self.backup.serve_upload,
                Kick: self.membership.serve_kick,
                Remove: self.removals.serve_remove,
                AskShared: self.removals.serve_shared,
                ChangeSetting: self.tuning.serve_setting,
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
                await self.tuning.keep_given()  # then read back with what was set before
                await self.load_game()
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
                await nursery.start(self.directory.run)  # the welcome lists every database peer
                if self.cluster is not None:
                    nursery.start_soon(self.cluster.run)
                else:
                    nursery.start_soon(self.hunt.run, self.play.online_players)
                nursery.start_soon(self.pushes.run)
                if self.authority is not None:
                    if not self._own_enroll_port:  # players join with a code on the main port
                        self.enroll_port = self.port
                    else:
                        try:
                            self.enroll_port = await lan.start_enrollment(
                                nursery, self.membership, self.host, self.enroll_port,
                                self.read_timeout,
                            )  # fmt: skip
                        except OSError as exc:  # which of our ports: the program says it
                            where = f"{self.host}:{self.enroll_port} (enrollment)"
                            raise OSError(exc.errno, exc.strerror, where) from None
                    if self.discovery_port is not None:
                        self.beacon = await lan.start_announcing(
                            nursery, self.authority.tag, self.network_name, self.host,
                            self.port, self.discovery_port,
                        )  # fmt: skip
                self.ready.set()
                task_status.started(self)
        finally:
            self.stores.close()

    def stop(self) -> None:
        """Stop at once (what a crash looks like to the players)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def say_goodnight(self) -> list[EveningRow]:
        """Tell everyone how the evening went (every round since the last goodnight, whoever
        hosted it), before the host stops; the rows, best first.
        While other database peers run, the evening goes on there: nobody is told it is over
        (the players move to one of them)."""
        if self.cluster is not None and self.cluster.members:
            return self.hunt.evening.rows()
        if await self.hunt.cut_short() is not None:  # it counts, with what was found so far
            await self.play.round_told(GOODNIGHT_TIMEOUT)  # its end, then the evening's
        rows = await self.pushes.say_goodnight(self.hunt.evening.rows(), GOODNIGHT_TIMEOUT)
        await stored(self.store.end_evening, what="the end of the evening")  # the next starts anew
        return rows

    def online_players(self) -> Mapping[str, Online]:
        """Who plays right now (of every database peer's players, at the round host)."""
        return self.play.online_players()

    def _cluster(self) -> Cluster:
        from .cluster import cluster_of  # psycopg is imported only for PostgreSQL

        return cluster_of(self)

    async def load_game(self) -> None:
        """The game's records from the store: at start, and when this one starts hosting."""
        await self.hunt.load()
        await self.treasury.load()
        await self.removals.load()

    def _hunt_changed(self) -> None:
        self.pushes.hunt_changed()

    def _cataloged(self, info: FileInfo) -> None:
        self.pushes.cataloged(info)
        if self.cluster is not None:
            self.cluster.cataloged(info)
            self.play.cataloged(info)

    def _expired(self, files: list[FileInfo]) -> None:
        self.pushes.expired(files)
        if self.cluster is not None:
            self.cluster.dug(files)

    def _removed(self, info: FileInfo) -> None:
        """The host removed a file here: out of the game, and the others hear of it."""
        self._drop_removed(info)
        if self.cluster is not None:
            self.cluster.erased(info)

    def removed_elsewhere(self, info: FileInfo) -> None:
        """A file removed through another database peer (over the bus)."""
        self.removals.hashes.add(info.hash)
        self.view.catalog.pop(info.name, None)
        for session in self.sessions.values():
            session.published.pop(info.name, None)
        self._drop_removed(info)

    def _drop_removed(self, info: FileInfo) -> None:
        """The host removed a file: its name is free, every session is told, and the round
        goes on without it (out of its pool: nobody hunts it, and it cannot be claimed)."""
        self.backup.forget(info.name)
        current = self.hunt.round
        dropped = current is not None and current.pool.pop(info.name, None) is not None
        self.hunt.poke(round_changed=dropped)  # (the players' hunt lists lose it)
        self.pushes.removed(info)

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
                if channel.bytes_sent == session.sent_at_ping:  # else it heard us since
                    await channel.send(Pong())
                session.sent_at_ping = channel.bytes_sent
            elif isinstance(message, Refusing):
                session.heard(message.names)
            elif isinstance(message, Publish):
                await self._on_publish(session, message)
            elif isinstance(message, Stats):
                self.play.map_report(
                    session, message.entries[:MAX_MAP_REPORT] if session.plays else []
                )
            elif isinstance(message, Ready):
                if session.plays:
                    self.play.ready(session)
            elif isinstance(message, Found):
                if not session.plays or not session.publishes:
                    why = "publish first" if session.plays else "you joined to fetch, not to play"
                    await channel.send(Scored(message.name, 0, why))
                    continue
                await channel.send(await self.play.claim(session, message.name))
            elif isinstance(message, Proof):
                await channel.send(await self.play.proof(session, message))

    async def _on_publish(self, session: Session, publish: Publish) -> None:
        publish = await self.treasury.screen_publish(session, publish)
        await self.backup.on_publish(session, publish)
        held = [i.hash for i in publish.files if session.published.get(i.name) == i.hash]
        session.publishes += 1
        if session.plays:
            self.play.published(session, held)
