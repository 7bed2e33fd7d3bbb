"""The trio node every role runs: listener, request handlers, the session with the database peer.

A `Node` serves `get`, `map` and `disconnect` to anyone, keeps one long-lived *session* with the
database peer (which pushes `update_peers` and new catalog entries over it, and detects our death
when it drops), publishes its shared folder for backup, and fetches files with the search order of
`search.SearchPlan`. Many nodes can run in one process: all state lives on the instance.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import mmap
import os
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import trio

from . import events
from .addressbook import AddressBook
from .peerlist import PeerList
from .protocol import (
    CHUNK_SIZE,
    Bye,
    CatalogAdded,
    Challenge,
    Connect,
    Disconnect,
    ErrorCode,
    File,
    FileInfo,
    Found,
    Get,
    Hello,
    Map,
    MapRequest,
    Message,
    Need,
    PeerInfo,
    Ping,
    PlayerStats,
    Pong,
    Proof,
    ProtocolError,
    Publish,
    Rejected,
    Revoked,
    Round,
    RoundState,
    Scoreboard,
    ScoreboardChanged,
    Scored,
    Stats,
    Stored,
    UpdatePeers,
    Upload,
    Welcome,
    apply_scoreboard,
    check_file_info,
    check_name,
    check_version,
    chunk_count,
)
from .search import OneSource, SearchPlan
from .security import DATABASE_NAME, Identity, SecurityError
from .share import Download, SharedFolder, possession_proof
from .wire import (
    READ_TIMEOUT,
    Channel,
    ConnectionLost,
    RemoteError,
    certificate_name,
    first_protocol_error,
    open_channel,
    secure,
)

log = logging.getLogger("rp2p.node")

PING_INTERVAL = 5.0
"""A session side that has sent nothing for this long sends `Ping`."""
SESSION_TIMEOUT = 20.0
"""A session that hears nothing (not even `Pong`) for this long is dead."""
BACKOFF_START, BACKOFF_CAP = 0.5, 15.0
GOODBYE_TIMEOUT = 2.0
STALL_TIMEOUT = 5.0
"""A source that sends no chunk for this long is dropped; the next source continues the file."""
MAX_CONNECTIONS = 512
BUSY_RETRIES, BUSY_BACKOFF = 6, 0.5
"""A `get` that found only busy sources asks again this many times, backing off from 0.5 s."""
MAX_PER_HOST = 128
"""Connections one address may hold open at once (long-lived sessions are not counted)."""
MAX_SERVING = 32
"""Files served at once; one more request is answered `busy` and the asker tries another source."""
RECEIVE_BUFFERS, STORE_THREADS = 4, 2
"""A download holds this many chunk buffers (one arriving, the rest being stored) and verifies
and writes them in up to this many worker threads: hashing one overlaps writing another."""

Handler = Callable[[Channel, Hello, Any], Awaitable[None]]


class GetError(Exception):
    """A `get` that could not be satisfied; the message is one line for people."""


class SourcesBusy(GetError):
    """Every source that holds the file was too busy to serve it; worth asking again soon."""


@dataclass(frozen=True)
class GetResult:
    name: str
    size: int
    source: str
    """Who served it: a player name, ``vault`` for the database peer, ``local`` if we had it."""
    probes: int
    from_vault: bool
    path: Path
    resumed_at: int = 0
    """Bytes already verified on disk from an earlier, interrupted get."""
    sources: tuple[tuple[str, int], ...] = ()
    """Who sent how many bytes, in order (a failed source's verified chunks are kept)."""

    @property
    def fetched(self) -> int:
        """Bytes received over the network for this get."""
        return sum(count for _, count in self.sources)


class Node:
    """A peer. Start it with ``await nursery.start(node.run)``; leave with ``await node.leave()``."""

    role = "peer"

    def __init__(
        self,
        *,
        name: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        share_dir: Path | None = None,
        database: tuple[str, int] | None = ("127.0.0.1", 9000),
        rescan_interval: float = 2.0,
        read_timeout: float = READ_TIMEOUT,
        stall_timeout: float = STALL_TIMEOUT,
        max_serving: int = MAX_SERVING,
        identity: Identity | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.read_timeout = read_timeout
        self.stall_timeout = stall_timeout
        self.max_serving = max_serving
        self.port = port
        if identity is not None:
            if name is not None and name != identity.name:
                raise SecurityError(f"this profile belongs to {identity.name}, not {name}")
            name = identity.name
        self._name = name
        self.identity = identity
        self._tls_server = identity.server_context() if identity else None
        self._tls_client = identity.client_context() if identity else None
        self.revoked: set[str] = set()
        """Players kicked out of the network: their certificates are refused."""
        self._share_dir = share_dir
        self.share: SharedFolder | None = None
        self.database = database
        self.rescan_interval = rescan_interval
        self.rng = rng or random.Random()
        self.peers = PeerList()
        self.catalog: dict[str, FileInfo] = {}
        self.address_book = AddressBook()
        self.ready = trio.Event()
        """Set once the database peer welcomed us (we know the peers and the catalog)."""
        self.me = PeerInfo(name=name or "", host=host, port=port)
        self._subscribers: list[Callable[[events.Event], None]] = []
        self._nursery: trio.Nursery | None = None
        self._session: Channel | None = None
        self._session_ended = trio.Event()
        self._leaving = False
        self._connections = 0
        self._per_host: collections.Counter[str] = collections.Counter()
        self._serving = 0
        self._published: dict[str, bytes] = {}
        self._fetch_locks: dict[bytes, trio.Lock] = {}
        self._upload_limiter = trio.CapacityLimiter(2)
        self._map_event = trio.Event()
        self.round: RoundState | None = None
        """The database peer's current round, as last pushed (`round_deadline` for the clock)."""
        self.round_deadline = 0.0
        self.scoreboard: list[PlayerStats] = []

    # ------------------------------------------------------------------------- identity

    @property
    def name(self) -> str:
        return self.me.name

    @property
    def database_peer(self) -> PeerInfo | None:
        if self.database is None:
            return None
        return PeerInfo(name="vault", host=self.database[0], port=self.database[1])

    def subscribe(self, callback: Callable[[events.Event], None]) -> None:
        self._subscribers.append(callback)

    def emit(self, event: events.Event) -> None:
        for callback in self._subscribers:
            callback(event)

    def notice(self, text: str, level: str = "info") -> None:
        log.log(logging.WARNING if level == "error" else logging.INFO, "%s: %s", self.name, text)
        self.emit(events.Notice(text=text, level=level))

    # -------------------------------------------------------------------------- running

    async def run(self, *, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, join the network and serve until cancelled or `leave()` is called."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            serve = functools.partial(
                trio.serve_tcp, self._handle_stream, self.port, host=self.host
            )
            listeners = await nursery.start(serve)
            self.port = listeners[0].socket.getsockname()[1]
            advertised = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
            self.me = PeerInfo(
                name=self._name or f"player-{self.port}", host=advertised, port=self.port
            )
            await self._prepare()
            await self._start_background(nursery)
            task_status.started(self)

    async def _prepare(self) -> None:
        share_dir = self._share_dir or Path(f"port_{self.port}")
        self.share = SharedFolder(share_dir)
        await trio.to_thread.run_sync(self.share.ensure)
        await trio.to_thread.run_sync(self.share.scan)

    async def _start_background(self, nursery: trio.Nursery) -> None:
        nursery.start_soon(self._rescan_loop)
        if self.database is not None:
            nursery.start_soon(self._session_loop)

    def stop(self) -> None:
        """Stop at once, saying nothing (what a crash looks like to others)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def leave(self) -> None:
        """Say `disconnect` to every peer (a refusal is retried once), then the database peer."""
        self._leaving = True
        limiter = trio.CapacityLimiter(32)
        async with trio.open_nursery() as nursery:
            for peer in self.peers:
                nursery.start_soon(self._say_goodbye, peer, limiter)
        session = self._session
        if session is not None:
            with trio.move_on_after(GOODBYE_TIMEOUT):
                try:
                    await session.send(Disconnect())
                    await self._session_ended.wait()
                except ProtocolError:
                    pass
        self.notice("left the network")
        self.stop()

    async def _say_goodbye(self, peer: PeerInfo, limiter: trio.CapacityLimiter) -> None:
        async with limiter:
            for attempt in (1, 2):
                try:
                    with trio.fail_after(GOODBYE_TIMEOUT):
                        channel = await self._open(peer)
                        try:
                            await channel.send(Disconnect())
                            await channel.receive_message(Bye)
                        finally:
                            await channel.aclose()
                    return
                except (ProtocolError, trio.TooSlowError):
                    if attempt == 1:
                        await trio.sleep(0.2)
            log.info("%s: %s did not hear our goodbye; skipped", self.name, peer.name)

    async def _open(self, peer: PeerInfo) -> Channel:
        """Connect to a peer; over TLS its certificate must name it, if we know its name."""
        known = self.peers.peers.get(peer.addr)
        return await self._connect(peer.host, peer.port, known.name if known else None)

    async def _open_database(self) -> Channel:
        assert self.database is not None
        return await self._connect(*self.database, DATABASE_NAME)

    async def _connect(self, host: str, port: int, expect: str | None) -> Channel:
        channel = await open_channel(
            host, port, name=self.name, listen_port=self.port, tls=self._tls_client, expect=expect
        )
        if isinstance(channel.stream, trio.SSLStream):
            who = certificate_name(channel.stream)
            if who in self.revoked:
                await channel.aclose()
                raise ConnectionLost(ErrorCode.FORBIDDEN, f"{who} was kicked out of the network")
        return channel

    # ----------------------------------------------------------------- serving requests

    def _handlers(self) -> dict[type, Handler]:
        return {
            Get: self._serve_get,
            MapRequest: self._serve_map,
            Disconnect: self._serve_disconnect,
        }

    async def _handle_stream(self, stream: trio.SocketStream) -> None:
        channel = Channel(stream, timeout=self.read_timeout)
        host = _remote(channel)
        try:
            if self._connections >= MAX_CONNECTIONS or self._per_host[host] >= MAX_PER_HOST:
                with trio.move_on_after(2):
                    await self._authenticate(channel)  # busy is said inside TLS, if TLS is on
                    await channel.send_error(ErrorCode.BUSY, "too many connections; try again")
                return
            with self._counted(host) as release:
                who = await self._authenticate(channel)
                hello = await channel.receive_message(Hello)
                check_version(hello)
                if who is not None:
                    hello = msgspec.structs.replace(hello, name=who)
                request = await channel.receive()
                handler = self._handlers().get(type(request))
                if handler is None:
                    what = "file data" if isinstance(request, bytes) else type(request).__name__
                    raise ProtocolError(ErrorCode.UNEXPECTED, f"{what} is not a request here")
                if isinstance(request, Connect):
                    release()  # a session lives long; the peer registry, not this cap, bounds it
                await handler(channel, hello, request)
        except (ConnectionLost, RemoteError) as exc:
            level = logging.INFO if exc.code == ErrorCode.FORBIDDEN else logging.DEBUG
            log.log(level, "%s: connection from %s ended: %s", self.name, host, exc.detail)
        except ProtocolError as exc:
            log.info("%s: refused a request from %s: %s", self.name, _remote(channel), exc.detail)
            await channel.send_error(exc.code, exc.detail)
        except Exception:
            log.exception("%s: internal error while serving %s", self.name, _remote(channel))
            await channel.send_error(ErrorCode.INTERNAL, "internal error; see the node's log")
        finally:
            await channel.aclose()

    async def _authenticate(self, channel: Channel) -> str | None:
        """With TLS on, the verified name of who is calling; before any message is read."""
        if self._tls_server is None:
            return None
        assert isinstance(channel.stream, trio.SocketStream)
        with trio.move_on_after(self.read_timeout) as scope:
            channel.stream = await secure(channel.stream, self._tls_server, server_side=True)
        if scope.cancelled_caught:
            raise ConnectionLost(ErrorCode.FORBIDDEN, "TLS handshake timed out")
        assert isinstance(channel.stream, trio.SSLStream)
        who = certificate_name(channel.stream)
        if who in self.revoked:
            raise ConnectionLost(ErrorCode.FORBIDDEN, f"{who} was kicked out of the network")
        return who

    @contextlib.contextmanager
    def _counted(self, host: str) -> Iterator[Callable[[], None]]:
        """Count a connection against the caps until it ends (or `release()` is called)."""
        self._connections += 1
        self._per_host[host] += 1
        counted = True

        def release() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._connections -= 1
                self._per_host[host] -= 1
                if not self._per_host[host]:
                    del self._per_host[host]

        try:
            yield release
        finally:
            release()

    def file_source(self, name: str) -> tuple[FileInfo, Path] | None:
        """The trusted file we can serve under `name`, and where its bytes are."""
        info = self.catalog.get(name)
        if info is None or self.share is None:
            return None
        mine = self.share.get(name)
        if mine is None or mine.hash != info.hash:
            return None
        return info, self.share.path_of(name)

    async def _serve_get(self, channel: Channel, hello: Hello, request: Get) -> None:
        check_name(request.name)
        source = self.file_source(request.name)
        if source is None:
            await self._answer_not_held(channel, request.name)
            return
        info, path = source
        if request.offset % CHUNK_SIZE or not 0 <= request.offset <= info.size:
            raise ProtocolError(
                ErrorCode.MALFORMED, f"offset {request.offset} is not a chunk start"
            )
        if self._serving >= self.max_serving:
            raise ProtocolError(ErrorCode.BUSY, "serving too many files; try another source")
        self._serving += 1
        try:
            await channel.send(File(info.name, info.size, info.hash, request.offset))
            await send_file(channel, path, request.offset, info.size)
        finally:
            self._serving -= 1

    async def _answer_not_held(self, channel: Channel, name: str) -> None:
        """A peer that lacks a file answers with its map (so the asker learns)."""
        await channel.send(Map(self.map_to_share()))

    async def _serve_map(self, channel: Channel, hello: Hello, request: MapRequest) -> None:
        await channel.send(Map(self.map_to_share()))

    def map_to_share(self) -> dict[str, list[PeerInfo]]:
        """Our address book plus ourselves as the holder of what we seed."""
        holders = self.address_book.as_map()
        if self.share is not None:
            for name in self.share.files():
                if self.file_source(name) is not None:
                    holders.setdefault(name, []).append(self.me)
        return holders

    async def _serve_disconnect(self, channel: Channel, hello: Hello, request: Disconnect) -> None:
        addr = (channel.remote_host, hello.port)
        peer = self.peers.remove(addr)
        self.address_book.forget_peer(addr)
        await channel.send(Bye())
        if peer is not None:
            self.emit(events.PeersChanged(f"{peer.name} left", joined=(), left=(peer,)))
            self._map_changed()

    # ------------------------------------------------------- the database peer session

    async def _session_loop(self) -> None:
        """Stay joined: reconnect with capped exponential backoff and jitter when it drops."""
        backoff = BACKOFF_START
        while not self._leaving:
            self._session_ended = trio.Event()
            try:
                await self._run_session()
                backoff = BACKOFF_START
            except ProtocolError as exc:
                if not self._leaving:
                    self.notice(f"database peer unreachable ({exc.detail}); retrying", "error")
            finally:
                if self._session is not None and not self._leaving:
                    self.emit(events.SessionLost("lost the database peer; reconnecting…"))
                self._session = None
                self._session_ended.set()
            if self._leaving:
                return
            await trio.sleep(backoff * self.rng.uniform(0.5, 1.0))
            backoff = min(backoff * 2, BACKOFF_CAP)

    async def _run_session(self) -> None:
        assert self.database is not None
        channel = await self._open_database()
        try:
            await channel.send(Connect())
            welcome = await channel.receive_message(Welcome)
            self._apply_welcome(welcome)
            self._session = channel
            with first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(keep_alive, channel)
                    nursery.start_soon(self._report_map_size, channel)
                    self._published.clear()
                    await self._publish_changes()
                    await self._read_session(channel, nursery)
                    nursery.cancel_scope.cancel()
        finally:
            await channel.aclose()

    def _apply_welcome(self, welcome: Welcome) -> None:
        self.me = welcome.you
        self.peers.me = welcome.you.addr
        self.peers.reset(welcome.peers, welcome.peers_version)
        self.catalog = {}
        self._add_to_catalog(welcome.catalog)
        first = not self.ready.is_set()
        self.ready.set()
        self.emit(
            events.Joined(
                f"joined as {self.name}: {len(self.peers)} peers online, "
                f"{len(self.catalog)} files in the catalog" + ("" if first else " (reconnected)")
            )
        )

    def _add_to_catalog(self, files: list[FileInfo]) -> list[FileInfo]:
        added = []
        for info in files:
            try:
                check_file_info(info)
            except ProtocolError as exc:
                self.notice(f"ignored a bad catalog entry: {exc.detail}", "error")
                continue
            self.catalog[info.name] = info
            added.append(info)
        return added

    async def _report_map_size(self, channel: Channel) -> None:
        """Keep the scoreboard's map size current, at most a few messages a second."""
        reported = -1
        while True:
            if len(self.address_book) != reported:
                reported = len(self.address_book)
                await channel.send(Stats(map_size=reported))
            await self._map_event.wait()
            await trio.sleep(0.2)
            self._map_event = trio.Event()

    async def _read_session(self, channel: Channel, nursery: trio.Nursery) -> None:
        while True:
            message = await channel.receive_message(
                UpdatePeers, CatalogAdded, Need, Rejected, Round, Scoreboard, ScoreboardChanged,
                Challenge, Scored, Revoked, Ping, Pong, Bye,
                timeout=SESSION_TIMEOUT,
            )  # fmt: skip
            if isinstance(message, Bye):
                return
            self._on_session_message(channel, message, nursery)

    def _on_session_message(
        self, channel: Channel, message: Message, nursery: trio.Nursery
    ) -> None:
        if isinstance(message, UpdatePeers):
            try:
                joined, left = self.peers.apply(message)
            except ValueError as exc:
                raise ProtocolError(ErrorCode.UNEXPECTED, f"peer list out of step: {exc}") from None
            for peer in left:
                self.address_book.forget_peer(peer.addr)
            for peer in joined:
                self.address_book.rename_peer(peer)
            if joined or left:
                self.emit(
                    events.PeersChanged(_describe_change(joined, left), tuple(joined), tuple(left))
                )
        elif isinstance(message, CatalogAdded):
            added = self._add_to_catalog(message.files)
            if added:
                names = ", ".join(info.name for info in added[:3])
                more = f" and {len(added) - 3} more" if len(added) > 3 else ""
                self.emit(events.CatalogChanged(f"new in the catalog: {names}{more}", tuple(added)))
        elif isinstance(message, Need):
            for name in message.names:
                nursery.start_soon(self._upload, name)
        elif isinstance(message, Rejected):
            for name, reason in zip(message.names, message.reasons, strict=False):
                self.notice(f"database peer will not take {name}: {reason}", "error")
        elif isinstance(message, Round):
            self.round_deadline = trio.current_time() + message.state.seconds_left
            if _same_round(self.round, message.state):
                return
            self.round = message.state
            self.emit(events.RoundChanged(_describe_round(message.state), message.state))
        elif isinstance(message, Scoreboard | ScoreboardChanged):
            self._update_scoreboard(message)
        elif isinstance(message, Revoked):
            if self.name in message.names:
                self._leaving = True  # no point knocking again: our certificate is refused
                self.notice("the host kicked you out of the network", "error")
                raise ProtocolError(ErrorCode.FORBIDDEN, "kicked out of the network")
            self.revoked.update(message.names)
            for peer in [p for p in self.peers if p.name in self.revoked]:
                self.peers.remove(peer.addr)
                self.address_book.forget_peer(peer.addr)
            self.notice("kicked out by the host: " + ", ".join(message.names))
        elif isinstance(message, Challenge):
            nursery.start_soon(self._answer_challenge, channel, message)
        elif isinstance(message, Scored):
            if message.points:
                self.emit(events.FindScored(message.message, message.name, message.points))
            else:
                self.notice(f"no points for {message.name}: {message.message}", "error")
        elif isinstance(message, Ping):
            nursery.start_soon(channel.send, Pong())

    def _update_scoreboard(self, message: Scoreboard | ScoreboardChanged) -> None:
        board = apply_scoreboard(self.scoreboard, message)
        if board == self.scoreboard:
            return
        self.scoreboard = board
        leader = board[0] if board else None
        text = f"leader: {leader.name} with {leader.score}" if leader else "no players yet"
        self.emit(events.Scoreboard(text, tuple(board)))

    async def _answer_challenge(self, channel: Channel, challenge: Challenge) -> None:
        """Prove we hold the bytes of a find we claimed."""
        source = self.file_source(challenge.name)
        if source is None:
            return  # we no longer hold it: no proof, no points
        digest = await trio.to_thread.run_sync(possession_proof, source[1], challenge.nonce)
        await channel.send(Proof(challenge.name, challenge.nonce, digest))

    async def _claim_find(self, name: str) -> None:
        """Tell the database peer we found a target of the running round."""
        state, session = self.round, self._session
        if state is None or session is None or state.over or name not in state.targets:
            return
        with contextlib.suppress(ProtocolError):  # no session: we keep the file, not the points
            await session.send(Found(name))

    async def _rescan_loop(self) -> None:
        while True:
            await trio.sleep(self.rescan_interval)
            await self.rescan()

    async def rescan(self) -> None:
        """Look for new or changed files in the share, and publish them."""
        assert self.share is not None
        before = set(self.share.files())
        files = await trio.to_thread.run_sync(self.share.scan)
        if set(files) != before:
            self.emit(events.SeedingChanged(f"seeding {len(files)} files", tuple(sorted(files))))
        await self._publish_changes()

    async def _publish_changes(self) -> None:
        if self._session is None or self.share is None:
            return
        files = self.share.files()
        fresh = [info for name, info in files.items() if self._published.get(name) != info.hash]
        if fresh:
            for info in fresh:
                self._published[info.name] = info.hash
            await self._session.send(Publish(fresh))

    async def _upload(self, name: str) -> None:
        """Send the database peer the bytes of a file it asked for."""
        assert self.share is not None and self.database is not None
        info = self.share.get(name)
        if info is None:
            return
        async with self._upload_limiter:
            try:
                channel = await self._open_database()
                try:
                    await channel.send(Upload(info))
                    await send_file(channel, self.share.path_of(name), 0, info.size)
                    await channel.receive_message(Stored)
                    self.notice(f"backed up {name} in the vault")
                finally:
                    await channel.aclose()
            except ProtocolError as exc:
                self._published.pop(name, None)  # try again at the next rescan
                self.notice(f"backup of {name} failed: {exc.detail}", "error")

    # --------------------------------------------------------------------- fetching

    async def get(self, name: str) -> GetResult:
        """Fetch a trusted file: known holders first, then random peers, the vault last.

        A source that fails, stalls or sends a bad chunk is dropped and the next one continues
        from the last verified chunk; an earlier partial download of the same content resumes.
        """
        info = self._catalog_entry(name)
        probes = 0
        delay = BUSY_BACKOFF
        for attempt in range(BUSY_RETRIES + 1):
            plan = SearchPlan(
                name,
                self.address_book,
                self.peers,
                database=self.database_peer,
                me=self.me.addr,
                rng=self.rng,
                probes=probes,
            )
            try:
                return await self._fetch(info, plan)
            except SourcesBusy:
                if attempt == BUSY_RETRIES:
                    raise
            probes = plan.probes
            await trio.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, BACKOFF_CAP)
        raise AssertionError("unreachable")

    async def secure_get(self, name: str, host: str, port: int) -> GetResult:
        """Fetch a trusted file from one named peer only."""
        info = self._catalog_entry(name)
        known = self.peers.peers.get((host, port))
        peer = known or PeerInfo(name=f"{host}:{port}", host=host, port=port)
        return await self._fetch(info, OneSource(peer, database=self.database))

    async def _fetch(self, info: FileInfo, plan: SearchPlan | OneSource) -> GetResult:
        assert self.share is not None
        path = self.share.path_of(info.name)
        async with self._fetch_locks.setdefault(info.hash, trio.Lock()):
            if (mine := self.share.get(info.name)) is not None and mine.hash == info.hash:
                return GetResult(info.name, info.size, "local", 0, False, path)
            download = await trio.to_thread.run_sync(self.share.start_download, info)
            failures: list[str] = []
            sources: list[tuple[str, int]] = []
            busy = False
            try:
                while (peer := plan.next()) is not None:
                    source = "vault" if plan.is_database(peer) else peer.name
                    before = download.received
                    try:
                        if await self._fetch_from(peer, download, source):
                            break
                        failures.append(f"{peer.name} does not have it")
                    except ProtocolError as exc:
                        if exc.code == ErrorCode.BUSY:
                            busy = True  # it holds the file, it is just full: ask again later
                        else:
                            self.address_book.forget(info.name, peer.addr)
                        failures.append(f"{source}: {exc.detail}")
                    finally:
                        if download.received > before:
                            sources.append((source, download.received - before))
                else:
                    reason = "; ".join(failures[-3:]) or "nobody reachable"
                    if busy:
                        raise SourcesBusy(f"{info.name}: every source is busy ({reason})")
                    self.emit(events.TransferFailed(f"could not get {info.name}: {reason}",
                                                    info.name, reason))  # fmt: skip
                    raise GetError(f"{info.name}: no source could provide it ({reason})")
            finally:
                with trio.CancelScope(shield=True):  # keep what we verified, even when cancelled
                    await trio.to_thread.run_sync(download.put_aside)
        from_vault = plan.is_database(peer)
        if not from_vault and self.address_book.add(info.name, peer):
            self._map_changed()
        resumed = f", resumed at {download.resumed_at:,} bytes" if download.resumed_at else ""
        self.emit(
            events.TransferDone(
                f"got {info.name} ({info.size:,} bytes) from {source} after "
                f"{plan.probes} probe{'' if plan.probes == 1 else 's'}"
                + resumed,
                info.name, source, info.size, plan.probes,
            )
        )  # fmt: skip
        self.emit(
            events.SeedingChanged(f"now seeding {info.name}", tuple(sorted(self.share.files())))
        )
        await self._claim_find(info.name)
        return GetResult(
            info.name, info.size, source, plan.probes, from_vault, path,
            resumed_at=download.resumed_at, sources=tuple(sources),
        )  # fmt: skip

    async def request_map(self, host: str, port: int) -> dict[str, list[PeerInfo]]:
        """Ask a peer for its address book, and merge it into ours."""
        known = self.peers.peers.get((host, port))
        channel = await self._connect(host, port, known.name if known else None)
        try:
            await channel.send(MapRequest())
            reply = await channel.receive_message(Map)
        finally:
            await channel.aclose()
        self._merge_map(reply)
        return reply.holders

    def _catalog_entry(self, name: str) -> FileInfo:
        try:
            check_name(name)
        except ProtocolError as exc:
            raise GetError(exc.detail) from None
        info = self.catalog.get(name)
        if info is None:
            if not self.ready.is_set():
                raise GetError(f"{name}: not joined yet, the catalog is unknown")
            raise GetError(f"{name}: not in the catalog")
        return info

    def _merge_map(self, reply: Map) -> None:
        exclude = [self.me.addr]
        if self.database is not None:
            exclude.append(self.database)
        if self.address_book.merge(reply.holders, exclude=exclude):
            self._map_changed()

    def _map_changed(self) -> None:
        size = len(self.address_book)
        self.emit(events.MapChanged(f"map size {size}", size))
        self._map_event.set()

    async def _fetch_from(self, peer: PeerInfo, download: Download, source: str) -> bool:
        """Continue `download` from one peer; False if it does not hold the file (map merged)."""
        info = download.info
        channel = await self._open(peer)
        try:
            await channel.send(Get(info.name, offset=download.received))
            reply = await channel.receive_message(File, Map)
            if isinstance(reply, Map):
                self._merge_map(reply)
                return False
            assert isinstance(reply, File)
            if (reply.hash, reply.size, reply.offset) != (info.hash, info.size, download.received):
                raise ProtocolError(ErrorCode.BAD_CONTENT, "offered other content than asked for")
            await self._receive_into(channel, download, source)
        finally:
            await channel.aclose()
        return True

    async def _receive_into(self, channel: Channel, download: Download, source: str) -> None:
        """Receive the rest of the file while worker threads verify and write what arrived.

        Each chunk goes from the socket straight into one of `RECEIVE_BUFFERS` reused buffers;
        up to `STORE_THREADS` workers verify and write chunks at their offsets, so hashing one
        chunk, writing another and receiving the next all overlap. A lost source still keeps
        every chunk that arrived: the workers finish before the error is raised.
        """
        info = download.info
        free_buffers, take_buffer = trio.open_memory_channel[memoryview](RECEIVE_BUFFERS)
        for _ in range(RECEIVE_BUFFERS):  # page-aligned, so whole chunks are written O_DIRECT
            free_buffers.send_nowait(memoryview(mmap.mmap(-1, CHUNK_SIZE)))
        workers = trio.CapacityLimiter(STORE_THREADS)

        async def store(index: int, buffer: memoryview, length: int) -> None:
            chunk = buffer[:length]
            await trio.to_thread.run_sync(download.store_chunk, index, chunk, limiter=workers)
            free_buffers.send_nowait(buffer)
            self.emit(
                events.TransferProgress(
                    f"{info.name}: {download.received:,}/{info.size:,} from {source}",
                    info.name, source, download.received, info.size,
                )
            )  # fmt: skip

        lost: ProtocolError | None = None
        with first_protocol_error():
            async with trio.open_nursery() as nursery:
                try:
                    for index in range(download.next_chunk, chunk_count(info.size)):
                        buffer = await take_buffer.receive()
                        length = await channel.receive_data_into(buffer, timeout=self.stall_timeout)
                        nursery.start_soon(store, index, buffer, length)
                except ProtocolError as exc:
                    lost = exc  # keep the chunks already received: let the workers finish
        if lost is not None:
            raise lost
        assert self.share is not None
        await trio.to_thread.run_sync(self.share.finish, download)

    # -------------------------------------------------------------------------- views

    def seeding(self) -> list[FileInfo]:
        if self.share is None:
            return []
        return sorted(self.share.files().values(), key=lambda info: info.name)


async def keep_alive(channel: Channel) -> None:
    """Send `Ping` whenever a session has been quiet for `PING_INTERVAL`."""
    while True:
        sent = channel.bytes_sent
        await trio.sleep(PING_INTERVAL)
        if channel.bytes_sent == sent:
            await channel.send(Ping())


async def send_file(channel: Channel, path: Path, offset: int, size: int) -> None:
    """Stream `path` from `offset` to `size` in chunk-sized data frames.

    On plain TCP the kernel copies the file to the socket (`sendfile`). Over TLS each chunk is
    read into one reused buffer in a single worker-thread call (not one per 128 KiB piece: the
    thread hops were most of the sender's time), then encrypted and sent a piece at a time.
    """
    async with await trio.open_file(path, "rb") as f:
        plain = isinstance(channel.stream, trio.SocketStream)
        buffer = memoryview(bytearray(0 if plain else min(CHUNK_SIZE, size - offset)))
        for start in range(offset, size, CHUNK_SIZE):
            length = min(CHUNK_SIZE, size - start)
            if plain:
                await channel.send_data_sendfile(f.fileno(), start, length)
                continue
            chunk = buffer[:length]
            read = await trio.to_thread.run_sync(os.preadv, f.fileno(), [chunk], start)
            if read != length:
                raise ProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")
            await channel.send_data(chunk)


def _remote(channel: Channel) -> str:
    try:
        return channel.remote_host
    except OSError:
        return "a vanished peer"


def _same_round(old: RoundState | None, new: RoundState) -> bool:
    """The same news (the clock alone moved on)."""
    return old is not None and msgspec.structs.replace(old, seconds_left=new.seconds_left) == new


def _describe_round(state: RoundState) -> str:
    if state.over:
        winner = f"{state.winner} wins" if state.winner else "nobody found anything"
        return f"round {state.number} is over: {winner}"
    found = len({f.target for f in state.finds})
    return (
        f"round {state.number}: {found}/{len(state.targets)} targets found, "
        f"{state.seconds_left:.0f} s left"
    )


def _describe_change(joined: list[PeerInfo], left: list[PeerInfo]) -> str:
    parts = []
    if joined:
        parts.append("joined: " + ", ".join(p.name for p in joined[:5]))
    if left:
        parts.append("left: " + ", ".join(p.name for p in left[:5]))
    return "; ".join(parts)
