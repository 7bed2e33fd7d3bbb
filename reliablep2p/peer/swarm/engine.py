"""One download from many sources at once: find them, keep them busy, verify what they send.

The `finder.Finder` says whom to probe and when the vault is due; each probe is a swarm `get`
that must answer within `PROBE_TIMEOUT` (a silent "holder" costs that once). A `file` answer
becomes a source link (`link.SourceLink`), a `map` is merged and its holders and crowd asked
next. The vault is one capped source (`VAULT_DEPTH` requests in flight, filled after the peers),
and one that answers `busy` is asked again later, as a busy holder is (the finder's back-off):
finding a source has a deadline, a transfer never has one (only a stall ends a source). The
`picker.Schedule` says which chunk to ask of whom; every chunk is verified against the catalog
in a worker thread before it is written, and a source that sends a bad one is dropped for this
file. Verified chunks are served to others at once (`Partial`).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable

import trio

from ...net.channel import Channel, ConnectionLost
from ...proto import (
    ErrorCode,
    File,
    Get,
    Map,
    PeerInfo,
    ProtocolError,
    RemoteProtocolError,
    chunk_count,
    from_bitfield,
)
from ...storage.partial import Download
from .. import events
from ..dialer import Dialer
from ..peerlist import Addr
from ..search import OneSource, SearchPlan
from ..view import NetworkView
from .crowd import CROWD_CHUNKS, Partial
from .finder import RARE_HOLDERS, Finder
from .link import LinkIdle, SourceLink
from .outcome import BufferPool, NoSource, Outcome
from .picker import Actions, Schedule

log = logging.getLogger("rp2p.swarm")

PROBE_TIMEOUT = 3.0
"""A probed peer must answer the swarm `get` (connect, TLS, reply) within this many seconds."""
VAULT_PROBE_TIMEOUT = 15.0
PEER_DEPTH, VAULT_DEPTH = 4, 2
"""Requests in flight at a peer, and at the vault (the capped source), at most (see
`picker.IN_FLIGHT`: a crowd of sources gets fewer each)."""
WANT_FIRST = 2
"""Chunks of a small file asked for in the probe itself: it arrives in one round trip."""
ENDGAME_PATIENCE = 2.0
"""In the endgame a chunk is asked of a second source once it is this many times later than a
chunk takes on average (`picker.Schedule`'s `patience`): a stalled source is still overtaken,
healthy ones are not doubled (each copy thrown away costs both ends a MiB of TLS and hashing)."""
BUFFERS, STORE_THREADS = 8, 2
"""Chunk buffers of one download (arriving or being stored), and the threads verifying them."""


class SwarmFetch:
    """Fetch `download` from the sources `plan` names, many at once."""

    def __init__(
        self,
        download: Download,
        plan: SearchPlan | OneSource,
        *,
        view: NetworkView,
        dialer: Dialer,
        rng: random.Random,
        stall_timeout: float,
        partial: Partial | None = None,
        silent: Callable[[Addr], None] = lambda addr: None,
    ) -> None:
        self.download = download
        self.info = download.info
        self.count = chunk_count(self.info.size)
        self.plan = plan
        self.view = view
        self.dialer = dialer
        self.stall_timeout = stall_timeout
        self.partial = partial
        self.silent = silent
        patience = ENDGAME_PATIENCE if self.count >= CROWD_CHUNKS else 0.0  # a small file's
        # copy is cheap, and its end is most of its time: any idle source may race for it
        self.schedule = Schedule(self.count, have=download.stored(), rng=rng,
                                 patience=patience, clock=trio.current_time)  # fmt: skip
        self.outcome = Outcome()
        self.links: dict[int, SourceLink] = {}
        self.failures: list[str] = []
        self.busy = False
        self._scopes: dict[int, trio.CancelScope] = {}
        self.finder = Finder(plan, count=self.count, now=trio.current_time(),
                             rng=random.Random(rng.random()))  # fmt: skip
        self._wanted: set[int] = set()
        """Chunks the probes under way ask for (so two probes ask for different ones)."""
        self._keys = 0
        self._pool = BufferPool(BUFFERS)
        self._workers = trio.CapacityLimiter(STORE_THREADS)
        self._wake = trio.Event()
        self._done = trio.Event()
        self._progress_at = -math.inf
        self._syncing = False
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------------- running

    async def run(self) -> Outcome:
        """Fetch every missing chunk; raises `NoSource` when no source could provide them.

        An empty file has no chunk to fetch, but a source must still say it has it."""
        if self.schedule.complete and self.count:
            return self.outcome
        crowds = self.view.swarming.crowds
        for peer in crowds.members(self.info.name, trio.current_time()):
            self._crowd_member(peer)
        stop = crowds.listen(self.info.name, self._crowd_member)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._search)
                await self._done.wait()
                nursery.cancel_scope.cancel()
        finally:
            stop()
        if not self.schedule.complete or not (self.count or self.outcome.sources):
            busy = self.busy and not self.finder.waited_out  # waited for long enough
            raise NoSource(self.failures or ["nobody reachable"], busy=busy)
        return self.outcome

    async def _search(self) -> None:
        """Ask candidates until the file is whole; bring in the vault when it is due."""
        while not self._done.is_set():
            self._apply(self.schedule.fill())  # a chunk late now gets its endgame copy
            whole, fetching = self._peers_linked()
            step = self.finder.step(
                trio.current_time(),
                missing=self._missing(),
                links=len(self.links),
                vault_linked=any(link.vault for link in self.links.values()),
                progress_at=self._progress_at,
                rare=whole <= RARE_HOLDERS and fetching >= 2,
                crowd_links=fetching,
                seeking=not whole,
            )
            for peer, vault in step.probes:
                assert self._nursery is not None
                self._nursery.start_soon(self._probe, peer, vault)
            self.schedule.coming = len(self.finder.probing)
            if step.give_up:
                self._done.set()  # nobody left to ask, nothing coming
                return
            with trio.move_on_at(min(step.wake_at, self.schedule.late_at())):
                await self._wake.wait()
            self._wake = trio.Event()

    def _peers_linked(self) -> tuple[int, int]:
        """How many linked peers hold the file whole, and how many are still fetching it (a
        crowd fetches it with us, and the file is rare when few of our sources hold it)."""
        whole = sum(1 for link in self.links.values() if link.full and not link.vault)
        fetching = sum(1 for link in self.links.values() if not link.full)
        return whole, fetching

    def _missing(self) -> bool:
        """Some needed chunk is on no source we have (an empty file: no source yet)."""
        if not self.count:
            return not self.outcome.sources
        return self.schedule.unavailable() > 0

    async def _probe(self, peer: PeerInfo, vault: bool) -> None:
        vault = vault or self.plan.is_database(peer)  # a `secure-get` naming the database peer
        label = events.VAULT if vault else peer.name
        channel = None
        small = self.count < CROWD_CHUNKS  # a crowd asks a seeder at once: no blind picks
        want = self.schedule.first_picks(WANT_FIRST if small else 0, besides=self._wanted)
        self._wanted.update(want)
        asked_at, answer = trio.current_time(), "no answer"
        try:
            with trio.fail_after(VAULT_PROBE_TIMEOUT if vault else PROBE_TIMEOUT):
                channel = await self.dialer.open(peer)
                await channel.send(Get(self.info.name, swarm=True, want=want))
                reply = await channel.receive_message(File, Map)
            answer = type(reply).__name__.lower()
            if isinstance(reply, Map):
                self.view.merge_map(reply.holders)
                self.crowd(reply.crowd)
                self.failures.append(f"{peer.name} does not have it")
            else:
                assert isinstance(reply, File)
                self._join(peer, label, channel, reply, vault, want)
                channel = None  # the link owns it now
        except trio.TooSlowError:
            self.failures.append(f"{label}: did not answer in time")
            self._forget(peer, vault)
            self.silent(peer.addr)
        except ProtocolError as exc:
            answer = exc.detail
            busy = exc.code == ErrorCode.BUSY  # (ours: its own say "try another source")
            self.failures.append(
                f"{label} was busy serving others" if busy else f"{label}: {answer}"
            )
            if busy:
                self.busy = True  # it holds the file, it is just full: ask again later
                if vault or not isinstance(self.plan, OneSource):  # (a `secure-get`: once)
                    self.finder.ask_later(peer, trio.current_time(), vault=vault)
            else:
                self._forget(peer, vault)
        finally:
            # Before the close's checkpoint: a probe the answer starts (the holder a map named)
            # asks for these chunks itself, or it costs a round trip more.
            self._wanted.difference_update(want)
            self.finder.answered(peer.addr)
            self._wake.set()
            log.debug("%s: probe of %s for %s asking chunks %s: %s after %.0f ms", self.view.me.name,
                      label, self.info.name, want, answer, 1000 * (trio.current_time() - asked_at))  # fmt: skip
            if channel is not None:
                with trio.CancelScope(shield=True):
                    await channel.aclose()

    def _join(
        self,
        peer: PeerInfo,
        label: str,
        channel: Channel,
        reply: File,
        vault: bool,
        want: list[int],
    ) -> None:
        assert self._nursery is not None
        if (reply.hash, reply.size) != (self.info.hash, self.info.size):
            raise RemoteProtocolError(ErrorCode.BAD_CONTENT, "offered other content than asked for")
        has = from_bitfield(reply.have, self.count) if reply.have else None
        full = has is None or len(has) == self.count
        self._keys += 1
        link = SourceLink(self._keys, peer, label, channel, self.count, full, vault)
        link.expected.update(i for i in want if has is None or i in has)  # coming already
        self.links[link.key] = link
        self._scopes[link.key] = trio.CancelScope()
        self.crowd(reply.crowd)
        if not vault:
            self.view.swarming.crowds.saw(self.info.name, peer, trio.current_time())
            self.view.swarming.holdings.add(self.info.name, peer.addr, None if full else has)
        depth = VAULT_DEPTH if vault else PEER_DEPTH
        joined = self.schedule.join(link.key, None if full else has, depth=depth, last=vault,
                                    asked=link.expected)  # fmt: skip
        self._apply(joined)
        self._nursery.start_soon(self._run_link, link)
        if not self.count:  # an empty file: its source said so, and that is all of it
            self.outcome.sources[label] = 0
            self._done.set()

    async def _run_link(self, link: SourceLink) -> None:
        scope = self._scopes[link.key]
        reason, forget, again = "closed the link", False, link.vault
        with scope:
            try:
                await link.run(self)
            except ProtocolError as exc:
                reason = exc.detail
                forget = exc.code != ErrorCode.BUSY and not isinstance(exc, LinkIdle)
                again = link.vault and (not forget or isinstance(exc, ConnectionLost))
        if not scope.cancelled_caught:
            self._lost(link, reason, forget=forget)
            if again:  # a stall or a hang-up (not bad bytes): the backup of every file, later
                self.finder.ask_later(link.peer, trio.current_time(), vault=True)

    def _lost(self, link: SourceLink, reason: str, *, forget: bool) -> None:
        """A source is gone: its chunks are asked of the others."""
        if self.links.pop(link.key, None) is None:
            return
        scope = self._scopes.pop(link.key, None)
        if scope is not None:
            scope.cancel()
        self.failures.append(f"{link.label}: {reason}")
        log.debug("%s: lost source %s for %s: %s", self.view.me.name, link.label, self.info.name,
                  reason)  # fmt: skip
        if forget:
            self._forget(link.peer, link.vault)
        self._apply(self.schedule.leave(link.key))
        self._wake.set()

    def _forget(self, peer: PeerInfo, vault: bool) -> None:
        """A source that failed us is no holder to ask again (whatever it sent is kept)."""
        if not vault:
            self.view.address_book.forget(self.info.name, peer.addr)
            self.outcome.holders.pop(peer.addr, None)

    def _apply(self, actions: Actions) -> None:
        for request in actions.requests:
            self.links[request.source].ask(request.index)  # type: ignore[index]
        for cancel in actions.cancels:
            self.links[cancel.source].cancel(cancel.index)  # type: ignore[index]

    # ------------------------------------------------------- what the links hand us

    def in_flight(self, link: SourceLink) -> int:
        return self.schedule.in_flight(link.key)

    async def buffer(self) -> memoryview:
        return await self._pool.take()

    def give_back(self, buffer: memoryview) -> None:
        self._pool.give(buffer)

    def arrived(self, link: SourceLink, index: int, buffer: memoryview, length: int) -> None:
        assert self._nursery is not None
        wanted, actions = self.schedule.arrived(link.key, index)
        self._apply(actions)
        if not wanted:
            self.outcome.wasted += length
            self._pool.give(buffer)
            return
        self._nursery.start_soon(self._store, link, index, buffer, length)

    async def _store(self, link: SourceLink, index: int, buffer: memoryview, length: int) -> None:
        try:
            await trio.to_thread.run_sync(
                self.download.store_chunk, index, buffer[:length], limiter=self._workers
            )
        except RemoteProtocolError as exc:
            self._apply(self.schedule.corrupt(link.key, index))
            self._lost(link, exc.detail, forget=True)
            return
        finally:
            self._pool.give(buffer)
        self.schedule.stored(index)
        self._progress_at = trio.current_time()
        if self.download.sync_due and not self._syncing:
            self._syncing = True
            assert self._nursery is not None
            self._nursery.start_soon(self._sync)
        log.debug("stored chunk %d of %s from %s", index, self.info.name, link.label)
        sources = self.outcome.sources
        sources[link.label] = sources.get(link.label, 0) + length
        if link.full and not link.vault and link.key in self.links:  # not a failed one
            self.outcome.holders[link.peer.addr] = link.peer
        if self.partial is not None:
            self.partial.stored(index)
        progress = events.TransferProgress(self.info.name, link.label, self.download.received,
                                           self.info.size)  # fmt: skip
        self.view.bus.emit(progress)
        if self.schedule.complete:
            self._done.set()

    async def _sync(self) -> None:
        """Make what is written durable as the download goes (`Download.sync`); the nursery
        waits for it, so the file is never sealed or put aside under it."""
        try:
            await trio.to_thread.run_sync(self.download.sync)
        finally:
            self._syncing = False

    def has_more(self, link: SourceLink, indices: list[int]) -> None:
        if link.key in self.links:
            if not link.vault:
                self.view.swarming.holdings.add(self.info.name, link.peer.addr, indices)
            self._apply(self.schedule.learned(link.key, indices))
            link.full = link.full or len(self.schedule.sources[link.key].has or ()) == self.count
            self._wake.set()

    def spread(self, indices: list[int]) -> None:
        self.schedule.spread(indices)

    def crowd(self, peers: list[PeerInfo]) -> None:
        """Peers said to be fetching or holding the file: remembered, and asked."""
        now = trio.current_time()
        for peer in peers[:32]:
            listed = self._listed(peer)
            if listed is not None:
                self.view.swarming.crowds.saw(self.info.name, listed, now)
                if self.count >= CROWD_CHUNKS:
                    self.plan.crowd(listed)
        self._wake.set()

    def _crowd_member(self, peer: PeerInfo) -> None:
        listed = self._listed(peer)
        if listed is not None and self.count >= CROWD_CHUNKS:
            self.plan.crowd(listed)
            self._wake.set()

    def _listed(self, peer: PeerInfo) -> PeerInfo | None:
        """The peer as our peer list has it, if it is there, reachable and not us."""
        listed = self.view.peers.peers.get(peer.addr)
        if listed is None or not listed.reachable or listed.addr == self.view.me.addr:
            return None
        return listed
