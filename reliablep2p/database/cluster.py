"""Several database peers on one PostgreSQL (and one vault): the bus between them, and the lease.

Each database peer keeps its own players' sessions. Over the bus (`storage/pgcluster.py`,
LISTEN/NOTIFY) each tells the others what their players must hear: who joined and left (so
every `update_peers` lists everyone on the network), what was cataloged, what treasure expired,
who was kicked (and which of their players refuse the name now: `kicks.py`), the settings; and the game goes between the round host and the others (`play.py`). Exactly
one hosts the rounds: the one holding the lease (an advisory lock on a connection of its own).
When it dies, PostgreSQL lets the lease go, another takes it within about a second, loads the
game from the store and resumes the running round with the time it had left.

Every database peer says `Alive` each second; one silent for `GONE_SECONDS` is gone: its
players leave every peer list (they join another database peer by themselves). A database peer
that lost the bus (PostgreSQL went away) missed what was said meanwhile: once back, it reloads
the catalog and the revocations from the store and asks the others who is online at theirs.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING

import msgspec
import psycopg
import trio

from ..game.host import HuntHost
from ..peer.peerlist import Addr, PeerRegistry
from ..proto import FileInfo, PeerInfo, bus
from ..storage.interfaces import MetadataStore, StoreUnavailable
from ..storage.pgcluster import ClusterStore, HostLease
from .kicks import KickReports, answer_within, refusals
from .play import Play
from .pushes import Announcer
from .sessions import Session

if TYPE_CHECKING:
    from .peer import DatabasePeer

log = logging.getLogger("rp2p.db")

ALIVE_SECONDS = 1.0
GONE_SECONDS = 5.0
"""A database peer silent this long is gone (its players with it)."""
LEASE_SECONDS = 1.0
"""How often a database peer tries to take the lease, and the host checks it still holds it."""
RETRY_SECONDS = 1.0
MAX_UNSAID, MAX_UNSAID_BYTES = 10_000, 64 * 1024 * 1024
BATCH = 200
"""Messages said in one transaction at most."""
MAPS_SECONDS = 0.25
"""A relay sends its players' map reports to the host this often, in one message."""


class Cluster:
    """This database peer's place among the others on the same PostgreSQL."""

    def __init__(
        self,
        shared: ClusterStore,
        store: MetadataStore,
        play: Play,
        *,
        hunt: HuntHost,
        load_game: Callable[[], Awaitable[None]],
        registry: PeerRegistry,
        sessions: MutableMapping[Addr, Session],
        catalog: dict[str, FileInfo],
        revoked: set[str],
        pushes: Announcer,
        on_catalog: Callable[[FileInfo], None],
        on_dug: Callable[[list[FileInfo], int], None],
        on_erased: Callable[[FileInfo], None],
        on_member: Callable[[], None] = lambda: None,
    ) -> None:
        self.shared = shared
        self.store = store
        self.play = play
        self.hunt = hunt
        self.load_game = load_game
        self.registry = registry
        self.sessions = sessions
        self.catalog = catalog
        self.revoked = revoked
        self.pushes = pushes
        self.on_catalog = on_catalog
        self.on_dug = on_dug
        self.on_erased = on_erased
        self.on_member = on_member
        """A database peer we had not heard is on the bus (the list players are told may grow)."""
        self.me = play.me = secrets.token_hex(6)
        self.host: str | None = None
        """The database peer hosting the rounds, as far as the bus says."""
        self.members: dict[str, float] = {}
        """The other database peers, by when each was last heard."""
        self.theirs: dict[str, dict[Addr, PeerInfo]] = {}
        """The players online at each other database peer."""
        self.lease = HostLease(shared.url)
        self.kicks = KickReports()
        self.orphaned = False
        """Hosting without the lease: PostgreSQL went away (and the lock with it)."""
        self._dropping = False
        self._unsaid_bytes = 0
        self._send, self._outbox = trio.open_memory_channel[bytes](math.inf)
        play.send = self.say
        play.relay(running=False)

    def say(self, message: bus.BusMessage) -> None:
        """Say `message` on the bus, in order; while PostgreSQL is away, at most `MAX_UNSAID`
        messages or `MAX_UNSAID_BYTES` wait (past that they are dropped: a peer back on the bus
        catches up)."""
        body = bus.encode(message)
        if (
            self._send.statistics().current_buffer_used >= MAX_UNSAID
            or self._unsaid_bytes + len(body) > MAX_UNSAID_BYTES
        ):
            if not self._dropping:
                log.warning("the bus cannot be reached: dropping what this database peer says")
            self._dropping = True
            return
        self._dropping = False
        self._unsaid_bytes += len(body)
        self._send.send_nowait(body)

    async def run(self) -> None:
        await trio.to_thread.run_sync(self.shared.prepare)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._speak)
            nursery.start_soon(self._listen, nursery)
            nursery.start_soon(self._beat)
            nursery.start_soon(self._hold_lease)
            nursery.start_soon(self._send_maps)

    # ------------------------------------------------------------------------ the bus

    async def _speak(self) -> None:
        """Say what waits, in order: all that waits in one transaction (a join storm's
        messages are said in a few large batches, not one commit each)."""
        async for body in self._outbox:
            bodies = [body]
            while len(bodies) < BATCH:
                try:
                    bodies.append(self._outbox.receive_nowait())
                except trio.WouldBlock:
                    break
            while True:
                try:
                    await trio.to_thread.run_sync(self.shared.publish, *bodies)
                    self._unsaid_bytes -= sum(len(b) for b in bodies)
                    break
                except StoreUnavailable:  # said again once PostgreSQL answers
                    await trio.sleep(RETRY_SECONDS)

    async def _listen(self, nursery: trio.Nursery) -> None:
        heard_send, heard = trio.open_memory_channel[bytes](math.inf)
        nursery.start_soon(self._handle_all, heard, nursery)
        first = True
        while True:
            stop = threading.Event()

            def deliver(body: bytes) -> None:
                trio.from_thread.run_sync(heard_send.send_nowait, body)

            if not first:  # what was said meanwhile was missed, and the others may have
                nursery.start_soon(self._catch_up)  # given this one's players up
                self._announce_mine()
            first = False
            self.say(bus.Arrived(self.me))
            try:
                await trio.to_thread.run_sync(
                    self.shared.listen, deliver, stop, abandon_on_cancel=True
                )
            except (psycopg.OperationalError, trio.RunFinishedError) as exc:
                log.warning("lost the other database peers' bus: %s", " ".join(str(exc).split()))
            finally:
                stop.set()
            await trio.sleep(RETRY_SECONDS)

    async def _catch_up(self) -> None:
        """Back on the bus after missing some of it: what was said is in the store."""
        try:
            files = await trio.to_thread.run_sync(self.store.catalog)
            revoked = await trio.to_thread.run_sync(self.store.revoked)
        except StoreUnavailable:
            return
        self._cataloged([info for info in files if self.catalog.get(info.name) != info])
        for name in revoked - self.revoked:
            self._kicked(name)

    async def _handle_all(self, heard: trio.MemoryReceiveChannel[bytes],
                          nursery: trio.Nursery) -> None:  # fmt: skip
        async for body in heard:
            try:
                message = bus.decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("a bus message that cannot be read: %s", exc)
                continue
            if message.sender != self.me:
                await self._handle(message, nursery)

    async def _handle(self, message: bus.Message, nursery: trio.Nursery) -> None:
        sender = message.sender
        if sender not in self.members:
            log.info("database peer %s is on the bus", sender)
            self.on_member()
            if not isinstance(message, bus.Arrived):  # back after it was given up: who is
                self.say(bus.Arrived(self.me))  # online at it again? (it tells us, below)
        self.members[sender] = trio.current_time()
        match message:
            case bus.Alive(hosting=True) if self.host != sender:
                self.host = sender
                if not self.play.hosting:
                    log.info("database peer %s hosts the rounds", sender)
                    self.play.resend()
            case bus.Arrived():
                self._announce_mine()
                if self.play.hosting:
                    self.play.pushed()
            case bus.PeerJoined(peer=peer):
                self.theirs.setdefault(sender, {})[peer.addr] = peer
                if peer.addr not in self.sessions and self.registry.peers.get(peer.addr) != peer:
                    if not self.registry.update(peer):  # listed: found unreachable since
                        self.registry.join(peer)
                    self.pushes.note_news()
            case bus.PeerLeft(peer=peer):
                self.theirs.get(sender, {}).pop(peer.addr, None)
                if peer.addr not in self.sessions and self.registry.peers.get(peer.addr) == peer:
                    self.registry.leave(peer.addr)
                    self.pushes.note_news()
            case bus.Cataloged(files=files):
                self._cataloged(files)
            case bus.Dug(files=files):
                self.on_dug(files, message.number)
                self.pushes.expired(files)
            case bus.Erased(files=files):
                for info in files:
                    self.on_erased(info)
            case bus.Kicked(name=name):
                self._kicked(name)
                if message.wait > 0:  # the kick waits for every database peer's players
                    nursery.start_soon(self._answer_kick, message)
            case bus.KickHeard() if message.to == self.me:
                self.kicks.heard(message)
            case bus.KickHeard():
                pass
            case bus.SettingsChanged(values=values):
                self.hunt.apply_settings(values)
            case _:
                await self.play.heard(message, nursery)

    def _announce_mine(self) -> None:
        """Tell the others who is online here (and, relaying, the host who plays here)."""
        for session in list(self.sessions.values()):
            self.say(bus.PeerJoined(self.me, session.peer))
        if not self.play.hosting:
            self.play.resend()

    def _cataloged(self, files: list[FileInfo]) -> None:
        for info in files:
            if self.catalog.get(info.name) != info:
                self.catalog[info.name] = info
                self.on_catalog(info)
                self.play.cataloged(info)

    def _kicked(self, name: str) -> None:
        if name in self.revoked:
            return
        self.revoked.add(name)
        self.pushes.revoked(name)
        for session in list(self.sessions.values()):
            if session.peer.name == name:
                session.scope.cancel()

    # -------------------------------------------------------------- what is said here

    def joined(self, peer: PeerInfo) -> None:
        self.say(bus.PeerJoined(self.me, peer))

    def left(self, peer: PeerInfo) -> None:
        self.say(bus.PeerLeft(self.me, peer))

    def cataloged(self, info: FileInfo) -> None:
        self.say(bus.Cataloged(self.me, [info]))

    def dug(self, files: list[FileInfo]) -> None:
        self.say(bus.Dug(self.me, files, self.hunt.rounds + 1))

    def erased(self, info: FileInfo) -> None:
        self.say(bus.Erased(self.me, [info]))

    async def kick_elsewhere(self, name: str, wait: float) -> tuple[list[str], list[str]]:
        """A kick here: the others' players are told, and their refusals awaited (`wait` s at
        most): who of them refuse `name`, who did not say so."""
        self.say(bus.Kicked(self.me, name, wait))
        return await self.kicks.gather(name, list(self.members), self.theirs, wait)

    async def _answer_kick(self, kick: bus.Kicked) -> None:
        told, not_told = await refusals(self.sessions.values(), kick.name,
                                        answer_within(kick.wait))  # fmt: skip
        self.say(bus.KickHeard(self.me, kick.sender, kick.name, told, not_told))

    def settings_changed(self, values: dict[str, str]) -> None:
        self.say(bus.SettingsChanged(self.me, values))

    # ---------------------------------------------------------- members and the lease

    async def _beat(self) -> None:
        while True:
            self.say(bus.Alive(self.me, self.play.hosting))
            now = trio.current_time()
            for member, seen in list(self.members.items()):
                if now - seen > GONE_SECONDS:
                    self._gone(member)
            await trio.sleep(ALIVE_SECONDS)

    def _gone(self, member: str) -> None:
        log.info("database peer %s left the bus%s", member,
                 " (it hosted the rounds)" if member == self.host else "")  # fmt: skip
        del self.members[member]
        if self.host == member:
            self.host = None
        for addr, peer in self.theirs.pop(member, {}).items():
            if addr not in self.sessions and self.registry.peers.get(addr) == peer:
                self.registry.leave(addr)
        self.pushes.note_news()
        self.play.gone(member)

    async def _send_maps(self) -> None:
        while True:
            self.play.send_maps()
            await trio.sleep(MAPS_SECONDS)

    async def _hold_lease(self) -> None:
        """Take the lease when it is free; host the rounds while it is held."""
        while True:
            try:
                took = await trio.to_thread.run_sync(self.lease.try_take)
            except psycopg.OperationalError:
                took = False
                self.lease.release()
            if not took:
                await trio.sleep(LEASE_SECONDS)
                continue
            try:
                await self._host()
            finally:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(self.lease.release)

    async def _host(self) -> None:
        log.info("this database peer hosts the rounds now")
        try:
            await self.load_game()
        except StoreUnavailable as exc:
            log.warning("cannot host the rounds yet: %s", exc.detail)
            return
        self.host = self.me
        self.play.host()
        self.say(bus.Alive(self.me, True))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.hunt.run, self.play.online_players)
                while await self._still_host():  # noqa: ASYNC110 - a connection to check
                    await trio.sleep(LEASE_SECONDS)
                log.warning("another database peer took the host's lease: not hosting now")
                nursery.cancel_scope.cancel()
        finally:
            self.host = None
            self.play.relay()

    async def _still_host(self) -> bool:
        """While the lease's connection lives, yes. Once it is lost (PostgreSQL went away,
        and the lock with it) the round goes on here, as with one database peer, until the
        lease can be taken again (yes) or another database peer took it meanwhile (no): the
        others could not write to the store either, so it stays whole."""
        if await trio.to_thread.run_sync(self.lease.still_held):
            if self.orphaned:
                log.info("took the host's lease back")
                self.orphaned = False
            return True
        if not self.orphaned:
            log.warning("lost the host's lease (PostgreSQL cannot be reached): the round goes on"
                        " here until it answers")  # fmt: skip
            self.orphaned = True
        try:
            took = await trio.to_thread.run_sync(self.lease.try_take)
        except psycopg.OperationalError:
            self.lease.release()
            return True  # nobody else can take it while PostgreSQL cannot be reached
        if not took:
            self.lease.release()
        return took


def cluster_of(db: DatabasePeer) -> Cluster:
    """The bus and the lease of a database peer whose metadata is in PostgreSQL."""
    from ..storage.postgres import PostgresMetadata

    assert isinstance(db.store, PostgresMetadata)
    return Cluster(
        ClusterStore(db.store), db.store, db.play, hunt=db.hunt, load_game=db.load_game,
        registry=db.registry, sessions=db.sessions, catalog=db.view.catalog,
        revoked=db.view.revoked, pushes=db.pushes, on_catalog=db.pushes.cataloged,
        on_dug=db.treasury.forget, on_erased=db.removed_elsewhere,
        on_member=db.directory.look_again,
    )  # fmt: skip
