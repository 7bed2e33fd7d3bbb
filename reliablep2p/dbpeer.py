"""The database peer: registry of live peers, `update_peers`, the trusted catalog and the vault.

It is a `Node` like any other (it serves `get` from its vault, last in every search) with two more
requests: `connect`, which opens a peer's long-lived session, and `upload`, which brings a
published file's bytes into the vault. Each session has a pusher task that sends its peer the net
change of the peer list and the new catalog entries since the last push, after a short pause that
coalesces bursts: a join costs every peer one small message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from .addressbook import Addr
from .node import SESSION_TIMEOUT, Handler, Node, keep_alive
from .peerlist import PeerRegistry
from .protocol import Bye as ByeMessage
from .protocol import (
    CatalogAdded,
    Connect,
    Disconnect,
    ErrorCode,
    FileInfo,
    Hello,
    Need,
    PeerInfo,
    Ping,
    Pong,
    ProtocolError,
    Publish,
    Rejected,
    Stored,
    Upload,
    Welcome,
    check_file_info,
)
from .store.sqlite import SqliteStore
from .wire import Channel, first_protocol_error

log = logging.getLogger("rp2p.db")

COALESCE_SECONDS = 0.05
"""How long a pusher waits after a change, so a burst of joins becomes one update."""
MAX_UPLOADS = 4


@dataclass(eq=False)
class Session:
    peer: PeerInfo
    channel: Channel
    peers_version: int
    catalog_sent: int
    wake: trio.Event = field(default_factory=trio.Event)
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class DatabasePeer(Node):
    """The always-on database peer. Start it with ``await nursery.start(db.run)``."""

    role = "database"

    def __init__(
        self, *, data_dir: Path, host: str = "127.0.0.1", port: int = 9000, **options: Any
    ) -> None:
        super().__init__(name="database", host=host, port=port, database=None, **options)
        self.store = SqliteStore(data_dir)
        self.registry = PeerRegistry()
        self.sessions: dict[Addr, Session] = {}
        self._catalog_log: list[FileInfo] = []
        self._upload_slots = trio.CapacityLimiter(MAX_UPLOADS)

    async def _prepare(self) -> None:
        catalog = await trio.to_thread.run_sync(self.store.open)
        self.catalog = {info.name: info for info in catalog}
        self._catalog_log = list(catalog)
        log.info(
            "database peer listening on %s:%s with %d files in the catalog (data in %s)",
            self.host, self.port, len(self.catalog), self.store.data_dir,
        )  # fmt: skip

    async def _start_background(self, nursery: trio.Nursery) -> None:
        self.ready.set()

    async def run(self, *, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            self.store.close()

    def _handlers(self) -> dict[type, Handler]:
        return {**super()._handlers(), Connect: self._serve_session, Upload: self._serve_upload}

    def file_source(self, name: str) -> tuple[FileInfo, Path] | None:
        info = self.catalog.get(name)
        if info is None:
            return None
        return info, self.store.blob_path(info.hash)

    async def _answer_not_held(self, channel: Channel, name: str) -> None:
        raise ProtocolError(ErrorCode.NOT_IN_CATALOG, f"{name} is not in the catalog")

    # ------------------------------------------------------------------------ sessions

    async def _serve_session(self, channel: Channel, hello: Hello, request: Connect) -> None:
        if not 0 < hello.port < 65536:
            raise ProtocolError(ErrorCode.MALFORMED, "connect needs the port you listen on")
        peer = PeerInfo(name=hello.name, host=channel.remote_host, port=hello.port)
        old = self.sessions.pop(peer.addr, None)
        if old is not None:
            old.scope.cancel()  # the same address joined again: the old session is stale
            self.registry.leave(peer.addr)
        others = list(self.registry.peers.values())
        self.registry.join(peer)
        session = Session(peer, channel, self.registry.version, len(self._catalog_log))
        self.sessions[peer.addr] = session
        self._wake_all()
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
                self._wake_all()
                log.info("%s left (%d online)", peer.name, len(self.sessions))

    def _wake_all(self) -> None:
        for session in self.sessions.values():
            session.wake.set()

    async def _push_changes(self, session: Session) -> None:
        while True:
            await session.wake.wait()
            await trio.sleep(COALESCE_SECONDS)
            session.wake = trio.Event()
            if session.peers_version != self.registry.version:
                update = self.registry.delta(session.peers_version)
                session.peers_version = update.version
                await session.channel.send(update)
                self._trim_log()
            if session.catalog_sent < len(self._catalog_log):
                added = self._catalog_log[session.catalog_sent :]
                session.catalog_sent = len(self._catalog_log)
                await session.channel.send(CatalogAdded(added))

    def _trim_log(self) -> None:
        oldest = min((s.peers_version for s in self.sessions.values()), default=0)
        self.registry.trim(min(oldest, self.registry.version))

    async def _read_peer_session(self, session: Session) -> None:
        channel = session.channel
        while True:
            message = await channel.receive_message(
                Publish, Ping, Pong, Disconnect, timeout=SESSION_TIMEOUT
            )
            if isinstance(message, Disconnect):
                await channel.send(ByeMessage())
                return
            if isinstance(message, Ping):
                await channel.send(Pong())
            elif isinstance(message, Publish):
                await self._on_publish(session, message)

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
                await trio.to_thread.run_sync(blob.abandon)
                raise
        if info.name not in self.catalog:
            await self._add_to_vault_catalog(info, uploader)
        await channel.send(Stored(info.name))

    async def _add_to_vault_catalog(self, info: FileInfo, publisher: PeerInfo) -> None:
        await trio.to_thread.run_sync(self.store.add_file, info)
        self.catalog[info.name] = info
        self._catalog_log.append(info)
        self._wake_all()
        log.info("cataloged %s (%s bytes) from %s", info.name, f"{info.size:,}", publisher.name)
