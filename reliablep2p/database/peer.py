"""The database peer: registry of live peers, `update_peers`, the trusted catalog and the vault.

It serves `get` from its vault (last in every search) like any node serves its share, plus
`connect` (a player's long-lived session), `upload` (a published file's bytes for the vault)
and `kick`. It is built from parts, not from a player's node: the listener (`Server`), the
file service over the vault, the pushes (`Announcer`), the backup, membership and the hunt.
"""

from __future__ import annotations

import functools
import logging
import random
from pathlib import Path

import msgspec
import trio

from ..game.host import HuntHost, Online
from ..net.channel import (
    READ_TIMEOUT,
    SESSION_TIMEOUT,
    Channel,
    ConnectionLost,
    first_protocol_error,
    keep_alive,
)
from ..net.identity import DATABASE_NAME
from ..net.server import Server
from ..peer.peerlist import Addr, PeerRegistry
from ..peer.serving import MAX_SERVING, FileService
from ..peer.view import NetworkView
from ..proto import (
    Bye,
    Connect,
    Disconnect,
    ErrorCode,
    FileInfo,
    Found,
    Hello,
    Kick,
    PeerInfo,
    Ping,
    Pong,
    Proof,
    Publish,
    Refusing,
    RemoteProtocolError,
    Scored,
    Stats,
    Upload,
    Welcome,
)
from ..proto.lookalike import load_table
from ..storage.sqlite import SqliteStore
from .authority import NetworkAuthority
from .backup import Backup
from .membership import Membership
from .pushes import Announcer, Session
from .reach import ReachBack, listen_address

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
        lobby_seconds: float = 3.0,
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
        self.store = SqliteStore(data_dir)
        self.store.prepare()  # before the keys are made: a lost database is refused, not renewed
        self.authority = NetworkAuthority.load_or_create(data_dir) if secure else None
        identity = (
            self.authority.identity(DATABASE_NAME, data_dir / "identity")
            if self.authority
            else None
        )
        self.view = NetworkView(PeerInfo(DATABASE_NAME, host, port), database=None)
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
        self._addr_of: dict[str, Addr] = {}
        """Where each online player's session is (by name): a join checks its name in O(1)."""
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
            },
            tls=identity.server_context() if identity else None,
            revoked=self.view.revoked,
            long_lived=(Connect,),
            read_timeout=read_timeout,
        )
        self.server.name = DATABASE_NAME
        self.reach_back = ReachBack(
            identity.client_context() if identity else None,
            busy=lambda: self.server.caps.pending_count > QUIET_ENOUGH,
        )
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
            catalog = await trio.to_thread.run_sync(self.store.open)  # StoreError: damaged
            await trio.to_thread.run_sync(load_table)  # for the look-alike checks
            self.view.catalog.update((info.name, info) for info in catalog)
            self.pushes.catalog_log.extend(catalog)
            self.view.revoked.update(await trio.to_thread.run_sync(self.store.revoked))
            await self.hunt.load()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.port = await self.server.listen(nursery, self.host, self.port)
                self.view.me = PeerInfo(DATABASE_NAME, self.host, self.port)
                log.info(
                    "database peer listening on %s:%s with %d files in the catalog (data in %s)",
                    self.host, self.port, len(self.catalog), self.store.data_dir,
                )  # fmt: skip
                nursery.start_soon(self.hunt.run, self.online_players, self.catalog.keys)
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
        try:
            seen = channel.remote_host
        except OSError:  # it gave up waiting (a storm's backlog) and hung up: nothing to list
            raise ConnectionLost(ErrorCode.INTERNAL, "hung up before its welcome") from None
        host = listen_address(request.host, seen)
        peer = PeerInfo(name=hello.name, host=host, port=hello.port)
        problem = None
        if host != seen:  # an address it does not call from: listed there once it answers there
            problem = await self.reach_back.problem(peer, seen)
            if problem is not None:  # listed where we see it (nobody else's address), and marked
                peer = PeerInfo(name=hello.name, host=seen, port=hello.port, reachable=False)
        self._admit(peer)
        others = list(self.registry.peers.values())
        self.registry.join(peer)
        session = self.pushes.new_session(peer, channel)
        self.sessions[peer.addr] = session
        self._addr_of[peer.name] = peer.addr
        self.pushes.note_news()
        self.hunt.roster_changed(peer.name)
        log.info("%s joined from %s:%d (%d online)%s", peer.name, *peer.addr, len(self.sessions),
                 f"; cannot reach it back: {problem}" if problem else "")  # fmt: skip
        try:
            await channel.send(
                Welcome(
                    you=peer,
                    peers=others,
                    peers_version=session.peers_version,
                    catalog=list(self.catalog.values()),
                    revoked=sorted(self.revoked),
                )
            )
            with session.scope, first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.pushes.push_changes, session)
                    nursery.start_soon(keep_alive, channel)
                    if host == seen:
                        nursery.start_soon(self._reach_back_later, session, seen)
                    await self._read_session(session)
                    nursery.cancel_scope.cancel()
        finally:
            session.end()
            if self.sessions.get(peer.addr) is session:
                del self.sessions[peer.addr]
                del self._addr_of[peer.name]
                self.registry.leave(peer.addr)
                self.pushes.note_news()
                self.hunt.roster_changed(peer.name)
                log.info("%s left (%d online)", peer.name, len(self.sessions))

    async def _reach_back_later(self, session: Session, seen: str) -> None:
        """Call a player back where it calls from, after its welcome (a join storm's joins
        wait for no call back); one that does not answer is marked unreachable in the next
        `update_peers`, to itself too."""
        problem = await self.reach_back.problem(session.peer, seen, later=True)
        if problem is None or self.sessions.get(session.peer.addr) is not session:
            return
        session.peer = msgspec.structs.replace(session.peer, reachable=False)
        self.registry.update(session.peer)
        self.pushes.note_news()
        log.info("cannot reach %s back: %s", session.peer.name, problem)

    def _admit(self, peer: PeerInfo) -> None:
        """Refuse a kicked name, a name online elsewhere and another player's address (the
        address is tied to the name: nobody displaces someone else's session); a player that
        joins again from its own address ends its stale session."""
        if peer.name in self.revoked:  # kicked while its connection was being set up
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, f"{peer.name} was kicked out")
        if self._addr_of.get(peer.name, peer.addr) != peer.addr:
            raise RemoteProtocolError(
                ErrorCode.NAME_TAKEN, f"player name {peer.name} is already online"
            )
        old = self.sessions.get(peer.addr)
        if old is None:
            return
        if old.peer.name != peer.name:
            raise RemoteProtocolError(
                ErrorCode.ADDRESS_TAKEN,
                f"{peer.host}:{peer.port} is {old.peer.name}'s address; connect with your own port",
            )
        del self.sessions[peer.addr]
        old.scope.cancel()
        self.registry.leave(peer.addr)

    async def _read_session(self, session: Session) -> None:
        channel = session.channel
        while True:
            message = await channel.receive_message(
                Publish, Stats, Found, Proof, Refusing, Ping, Pong, Disconnect,
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
                await self.backup.on_publish(session, message)
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
