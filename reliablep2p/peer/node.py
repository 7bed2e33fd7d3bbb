"""A player's node: the composition root that hands each part what it works on.

A `Node` serves `get`, `map` and `disconnect` to anyone (`FileService` behind a `Server`), keeps
one long-lived session with the database peer (`DatabaseSession`, which pushes `update_peers`
and new catalog entries over it and notices our death when it drops), publishes its shared
folder for backup (`Publisher`), and fetches files in the search order of `search.SearchPlan`
(`Fetcher`). Many nodes can run in one process: all state lives on the instance.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from ..game.evening import Evening
from ..net.channel import READ_TIMEOUT
from ..net.identity import Identity, SecurityError
from ..net.server import Server
from ..proto import (
    Bye,
    Disconnect,
    FileInfo,
    Lobby,
    PeerInfo,
    PlayerStats,
    ProtocolError,
    RoundState,
)
from ..storage.share import SharedFolder
from . import events
from .addressbook import AddressBook
from .backup import Publisher
from .databases import DatabaseList
from .dialer import Dialer
from .fetch import STALL_TIMEOUT, Fetcher, GetError, GetResult
from .naming import JoinNames
from .peerlist import Addr, PeerList
from .revocations import RevocationFile
from .serving import MAX_SERVING, FileService
from .session import GOODBYE_TIMEOUT, DatabaseSession
from .swarm.uploads import Uploads
from .view import NetworkView

log = logging.getLogger("rp2p.node")

GOODBYES_AT_ONCE = 32


class Node:
    """A peer. Start it with ``await nursery.start(node.run)``; leave with ``await node.leave()``."""

    def __init__(
        self,
        *,
        name: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        share_dir: Path | None = None,
        database: Addr | None = ("127.0.0.1", 9000),
        databases: Sequence[Addr] = (),
        rescan_interval: float = 2.0,
        read_timeout: float = READ_TIMEOUT,
        stall_timeout: float = STALL_TIMEOUT,
        max_serving: int = MAX_SERVING,
        max_upload: float | None = None,
        identity: Identity | None = None,
        rng: random.Random | None = None,
        plays: bool = True,
        other_names: Sequence[str] = (),
    ) -> None:
        """`max_upload`: a cap on every upload of this peer, in bytes per second (None: none);
        `other_names`: a defaulted name's next ones, tried where the host finds it taken."""
        if identity is not None:
            if name is not None and name != identity.name:
                raise SecurityError(f"this profile belongs to {identity.name}, not {name}")
            name = identity.name
        self._name = name
        self.host = host
        self.port = port
        self.identity = identity
        self.rescan_interval = rescan_interval
        self._share_dir = share_dir
        self.rng = rng or random.Random()
        self.view = NetworkView(me=PeerInfo(name=name or "", host=host, port=port),
                                database=database)  # fmt: skip
        self.revocations = RevocationFile.in_profile(identity.folder if identity else None)
        self.view.revoked.update(self.revocations.load())  # refused from the first connection
        self.dialer = Dialer(
            name=name or "",
            port=port,
            tls=identity.client_context() if identity else None,
            peers=self.view.peers,
            revoked=self.view.revoked,
            database=database,
        )
        self.uploads = Uploads(max_rate=max_upload)
        self.files = FileService(self.view, lookup=self.view.file_source, max_serving=max_serving,
                                 uploads=self.uploads)  # fmt: skip
        self.server = Server(
            self.files.handlers(),
            tls=identity.server_context() if identity else None,
            revoked=self.view.revoked,
            read_timeout=read_timeout,
        )
        self.publisher = Publisher(self.view, self.dialer, limit=self.uploads.limit)
        self.session = DatabaseSession(
            self.view, self.dialer, self.publisher, rng=self.rng, plays=plays,
            plant=self._seed_treasure, revocations=self.revocations,
            databases=DatabaseList([database, *databases] if database else []),
            names=JoinNames(other_names),
        )  # fmt: skip
        self.view.bus.subscribe(self._renamed)
        self.fetcher = Fetcher(
            self.view,
            self.dialer,
            ready=self.session.ready,
            found=self.session.claim,
            rng=self.rng,
            stall_timeout=stall_timeout,
        )
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------- what we know

    @property
    def name(self) -> str:
        return self.view.me.name

    @property
    def me(self) -> PeerInfo:
        return self.view.me

    @property
    def database(self) -> Addr | None:
        return self.view.database

    @property
    def databases(self) -> list[Addr]:
        """Every database peer of the network we know of, the one we are on first."""
        return self.session.databases.all

    @property
    def database_peer(self) -> PeerInfo | None:
        return self.view.database_peer

    @property
    def peers(self) -> PeerList:
        return self.view.peers

    @property
    def catalog(self) -> dict[str, FileInfo]:
        return self.view.catalog

    @property
    def address_book(self) -> AddressBook:
        return self.view.address_book

    @property
    def revoked(self) -> set[str]:
        return self.view.revoked

    @property
    def share(self) -> SharedFolder | None:
        return self.view.share

    @property
    def ready(self) -> trio.Event:
        """Set once the database peer welcomed us (we know the peers and the catalog)."""
        return self.session.ready

    @property
    def round(self) -> RoundState | None:
        """The database peer's current round, as last pushed (`round_deadline` for the clock)."""
        return self.session.round

    @property
    def round_deadline(self) -> float:
        return self.session.round_deadline

    @property
    def scoreboard(self) -> list[PlayerStats]:
        """Our view of the board: the top rows, this round's finders and us, by rank."""
        return self.session.scoreboard

    @property
    def lobby(self) -> Lobby | None:
        """Between rounds: the countdown (`lobby_deadline` for the clock) and who is ready."""
        return self.session.lobby

    @property
    def lobby_deadline(self) -> float:
        return self.session.lobby_deadline

    @property
    def evening(self) -> Evening:
        """The rounds we played this evening."""
        return self.session.evening

    async def ready_up(self) -> None:
        """Ready for the next round: the countdown is cut short once everyone is."""
        await self.session.ready_up()

    def seeding(self) -> list[FileInfo]:
        if self.view.share is None:
            return []
        offered = [
            i for i in self.view.share.files().values() if i.hash not in self.publisher.removed
        ]
        return sorted(offered, key=lambda info: info.name)

    def subscribe(self, callback: Callable[[events.Event], None]) -> None:
        self.view.bus.subscribe(callback)

    def _renamed(self, event: events.Event) -> None:
        if isinstance(event, events.Renamed):  # (the session renamed the rest: `naming`)
            self.server.name = event.name

    # -------------------------------------------------------------------------- running

    async def run(self, *, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, join the network and serve until cancelled or `leave()` is called.

        The share is claimed first (`ShareUnusable` if another node holds it), and held to the end.
        """
        share = await self._claim_share(self._share_dir) if self._share_dir else None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.port = await self.server.listen(nursery, self.host, self.port)
                # On every interface, the database peer lists us where it sees us call from;
                # on one address, there (it is where we listen, whichever way we call out).
                bound = self.server.address[0]
                listens_on = "" if ipaddress.ip_address(bound).is_unspecified else bound
                self.session.listens_on = listens_on
                name = self._name or f"player-{self.port}"
                self.view.me = PeerInfo(name=name, host=listens_on or "127.0.0.1", port=self.port)
                self.dialer.name, self.dialer.port, self.server.name = name, self.port, name
                if share is None:  # the default share is named after the port we got
                    share = await self._claim_share(Path(f"port_{self.port}"))
                await trio.to_thread.run_sync(share.scan)
                self._tell_skipped(share)
                self.view.share = share
                nursery.start_soon(self._rescan_loop)
                if self.view.database is not None:
                    nursery.start_soon(self.session.run)
                task_status.started(self)
        finally:
            if share is not None:
                share.release()

    @staticmethod
    async def _claim_share(path: Path) -> SharedFolder:
        share = SharedFolder(path)
        await trio.to_thread.run_sync(share.claim)
        return share

    def stop(self) -> None:
        """Stop at once, saying nothing (what a crash looks like to others)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def leave(self) -> None:
        """Say `disconnect` to every peer (a refusal is retried once), then the database peer."""
        self.session.leaving = True
        limiter = trio.CapacityLimiter(GOODBYES_AT_ONCE)
        async with trio.open_nursery() as nursery:
            for peer in self.view.peers:
                nursery.start_soon(self._say_goodbye, peer, limiter)
        await self.session.leave()
        self.view.bus.emit(events.Left())
        self.stop()

    async def _say_goodbye(self, peer: PeerInfo, limiter: trio.CapacityLimiter) -> None:
        async with limiter:
            for attempt in (1, 2):
                try:
                    with trio.fail_after(GOODBYE_TIMEOUT):
                        async with await self.dialer.open(peer) as channel:
                            await channel.send(Disconnect())
                            await channel.receive_message(Bye)
                    return
                except (ProtocolError, trio.TooSlowError):
                    if attempt == 1:
                        await trio.sleep(0.2)
            log.info("%s: %s did not hear our goodbye; skipped", self.name, peer.name)

    async def _rescan_loop(self) -> None:
        while True:
            await trio.sleep(self.rescan_interval)
            await self.rescan()

    async def rescan(self) -> None:
        """Look for new or changed files in the share, and publish them."""
        share = self.view.share
        assert share is not None
        before = set(share.files())
        files = await trio.to_thread.run_sync(share.scan)
        self._tell_skipped(share)
        if set(files) != before:
            self.view.bus.emit(events.SeedingChanged(tuple(sorted(files))))
        await self.session.publish_changes()

    def _tell_skipped(self, share: SharedFolder) -> None:
        for skipped in share.untold():
            self.view.bus.emit(events.NotShared(skipped.name, skipped.kind, skipped.problem))

    # --------------------------------------------------------------------- fetching

    async def get(self, name: str) -> GetResult:
        """Fetch a trusted file: known holders first, then random peers, the vault last."""
        return await self.fetcher.get(name)

    async def secure_get(self, name: str, host: str, port: int) -> GetResult:
        """Fetch a trusted file from one named peer only."""
        return await self.fetcher.secure_get(name, host, port)

    async def _seed_treasure(self, names: list[str]) -> None:
        """The host hid treasure with us: fetch it from the vault (no find: it is ours to
        seed), and publish it so others can find it here."""
        got = []
        for name in names:
            try:
                await self.fetcher.fetch_from_vault(name)
                got.append(name)
            except GetError as exc:
                log.info("%s: could not fetch planted %s: %s", self.name, name, exc)
        if got:
            await self.session.publish_changes()
            self.view.bus.emit(events.TreasurePlanted(tuple(got)))

    async def request_map(self, host: str, port: int) -> dict[str, list[PeerInfo]]:
        """Ask a peer for its address book, and merge it into ours."""
        return await self.fetcher.request_map(host, port)
