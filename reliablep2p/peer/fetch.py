"""The `get` engine: a trusted file from every source that has it, verified chunk by chunk.

Sources are found in the search order (`search.SearchPlan`) and fetched from many at once
(`swarm.engine.SwarmFetch`): holders, peers fetching the same file right now, and the vault as
one capped source. A source that fails, stalls or sends a bad chunk is dropped and its chunks
asked of the others; an earlier partial download of the same content resumes from its verified
chunks; sources that are only busy are asked again after a backoff. A disk that fails us (full,
read-only) ends the get with one line, no source blamed, the verified chunks kept for the next try.
"""

from __future__ import annotations

import errno
import random
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from ..proto import (
    AskShared,
    FileInfo,
    Map,
    MapRequest,
    PeerInfo,
    ProtocolError,
    SharedFiles,
    check_file_info,
    check_name,
)
from ..storage.partial import Download
from ..storage.share import SharedFolder
from . import events
from .dialer import Dialer
from .peerlist import Addr
from .search import OneSource, SearchPlan
from .swarm.engine import SwarmFetch
from .swarm.outcome import NoSource, Outcome
from .view import NetworkView

STALL_TIMEOUT = 5.0
"""A source that sends nothing for this long while we wait for its chunks is dropped."""
BUSY_RETRIES, BUSY_BACKOFF, BACKOFF_CAP = 6, 0.5, 15.0
"""A `get` that found only busy sources asks again this many times, backing off from 0.5 s."""
SILENT_MEMORY = 60.0
"""A peer that did not answer a probe is not asked again for this many seconds."""


class GetError(Exception):
    """A `get` that could not be satisfied: `reason`, one line for people, about the file
    `name` where it names one (the message is then "NAME: reason")."""

    def __init__(self, reason: str, *, name: str = "") -> None:
        super().__init__(f"{name}: {reason}" if name else reason)
        self.name, self.reason = name, reason


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
    skipped: tuple[str, ...] = ()
    """Peers not asked because the database peer cannot reach them (they might have had it)."""

    @property
    def fetched(self) -> int:
        """Bytes received over the network for this get."""
        return sum(count for _, count in self.sources)


class Fetcher:
    """Fetches catalog files into the share; `found` hears every file it placed."""

    def __init__(
        self,
        view: NetworkView,
        dialer: Dialer,
        *,
        ready: trio.Event,
        found: Callable[[str], Awaitable[None]],
        rng: random.Random,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        self.view = view
        self.dialer = dialer
        self.ready = ready
        self.found = found
        self.rng = rng
        self.stall_timeout = stall_timeout
        self._locks: dict[bytes, trio.Lock] = {}
        self._silent: dict[Addr, float] = {}

    async def get(self, name: str) -> GetResult:
        """Fetch a trusted file: known holders first, then random peers, the vault last."""
        info = self.catalog_entry(name)
        return await self._patiently(info, lambda probes: SearchPlan(
            info.name, self.view.address_book, self.view.peers,
            database=self.view.database_peer, me=self.view.me.addr, rng=self.rng,
            probes=probes, avoid=self._avoided(),
        ))  # fmt: skip

    async def secure_get(self, name: str, host: str, port: int) -> GetResult:
        """Fetch a trusted file from one named peer only (asked again while it is busy)."""
        info = self.catalog_entry(name)
        known = self.view.peers.peers.get((host, port))
        peer = known or PeerInfo(name=f"{host}:{port}", host=host, port=port)
        return await self._patiently(info, lambda _: OneSource(peer, database=self.view.database))

    async def _patiently(
        self, info: FileInfo, plan_for: Callable[[int], SearchPlan | OneSource]
    ) -> GetResult:
        """Fetch with the plan `plan_for(probes so far)` makes; while every source is only
        busy, again with a new plan after a back-off (`BUSY_RETRIES` times)."""
        probes = 0
        delay = BUSY_BACKOFF
        for attempt in range(BUSY_RETRIES + 1):
            plan = plan_for(probes)
            try:
                return await self._fetch(info, plan)
            except SourcesBusy as busy:
                if attempt == BUSY_RETRIES:
                    said = stayed_busy(plan, busy.reason, asked=attempt + 1)
                    raise SourcesBusy(said, name=info.name) from None
            probes = plan.probes
            await trio.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, BACKOFF_CAP)
        raise AssertionError("unreachable")

    async def fetch_from_vault(self, name: str) -> GetResult:
        """Fetch a file from the vault only, claiming no find (treasure we were handed)."""
        info = self.catalog_entry(name)
        vault = self.view.database_peer
        if vault is None:
            raise GetError("no vault to fetch it from", name=name)
        return await self._fetch(info, OneSource(vault, database=self.view.database), claim=False)

    async def shared_by_me(self) -> list[FileInfo]:
        """The catalog files the database peer says we ever published (what `restore` brings
        back); entries that fail the checks are left out."""
        async with await self.dialer.open_database() as channel:
            await channel.send(AskShared())
            reply = await channel.receive_message(SharedFiles)
        files = []
        for info in reply.files:
            try:
                check_file_info(info)
            except ProtocolError as exc:
                self.view.bus.emit(events.CatalogEntryIgnored(exc.detail))
                continue
            files.append(info)
        return files

    async def request_map(self, host: str, port: int) -> dict[str, list[PeerInfo]]:
        """Ask a peer for its address book, and merge it into ours."""
        async with await self.dialer.open_address(host, port) as channel:
            await channel.send(MapRequest())
            reply = await channel.receive_message(Map)
        self.view.merge_map(reply.holders)
        return reply.holders

    def catalog_entry(self, name: str) -> FileInfo:
        name = unicodedata.normalize("NFC", name)  # as typed on macOS, say: the catalog is NFC
        try:
            check_name(name)
        except ProtocolError as exc:
            raise GetError(exc.detail) from None
        info = self.view.catalog.get(name)
        if info is None:
            if not self.ready.is_set():
                raise GetError("not joined yet, the catalog is unknown", name=name)
            raise GetError("not in the catalog", name=name)
        return info

    async def _fetch(
        self, info: FileInfo, plan: SearchPlan | OneSource, *, claim: bool = True
    ) -> GetResult:
        share = self.view.share
        assert share is not None
        path = share.path_of(info.name)
        async with self._locks.setdefault(info.hash, trio.Lock()):
            if (mine := share.get(info.name)) is not None and mine.hash == info.hash:
                return GetResult(info.name, info.size, "local", 0, False, path)
            download: Download | None = None
            try:
                download = await trio.to_thread.run_sync(share.start_download, info)
                outcome = await self._fetch_into(download, plan)
            except (OSError, BaseExceptionGroup) as exc:
                problem = _disk_error(exc)
                if problem is None:
                    raise
                reason = _cannot_write(share, info, problem, download.received if download else 0)
                self.view.bus.emit(events.TransferFailed(info.name, reason))
                raise GetError(reason) from None
        for holder in outcome.holders.values():
            self.view.learned(info.name, holder)
        sources = tuple(outcome.sources.items())
        source = max(sources, key=lambda item: item[1])[0] if sources else "disk"
        fetched = sum(count for _, count in sources)
        vault = outcome.sources.get(events.VAULT, 0)
        from_vault = vault * 2 > fetched if fetched else source == events.VAULT
        bus = self.view.bus
        bus.emit(events.TransferDone(info.name, source, info.size, plan.probes,
                                     download.resumed_at, sources, planted=not claim))  # fmt: skip
        bus.emit(events.SeedingChanged(tuple(sorted(share.files())), fetched=info.name))
        if claim:
            await self.found(info.name)
        return GetResult(
            info.name, info.size, source, plan.probes, from_vault, path,
            resumed_at=download.resumed_at, sources=sources,
            skipped=tuple(p.name for p in plan.skipped),
        )  # fmt: skip

    async def _fetch_into(self, download: Download, plan: SearchPlan | OneSource) -> Outcome:
        """Fetch `download` from the plan's sources and place it; who sent how much. The
        verified chunks are kept (and served meanwhile) whatever happens."""
        info = download.info
        partials = self.view.swarming.partials
        partial = partials.start(download)
        swarm = SwarmFetch(
            download, plan, view=self.view, dialer=self.dialer, rng=self._picking(info),
            stall_timeout=self.stall_timeout, partial=partial, silent=self._went_silent,
        )  # fmt: skip
        try:
            try:
                outcome = await swarm.run()
            except NoSource as exc:
                reason = "; ".join(exc.failures[-3:])
                if plan.skipped:
                    reason += "; skipped " + unreachable(plan.skipped)
                if exc.busy:
                    raise SourcesBusy(reason, name=info.name) from None
                self.view.bus.emit(events.TransferFailed(info.name, reason))
                raise GetError(f"no source could provide it ({reason})", name=info.name) from None
            assert self.view.share is not None
            await trio.to_thread.run_sync(self.view.share.finish, download)
            return outcome
        finally:
            with trio.CancelScope(shield=True):  # keep what we verified, even when cancelled
                await trio.to_thread.run_sync(download.put_aside)
            partials.end(partial)

    def _picking(self, info: FileInfo) -> random.Random:
        """The chunk order's randomness: our own per file (every fetcher of a crowd picks in
        another order), and drawn apart from the search's, which stays as it was."""
        return random.Random(f"{self.view.me.name}/{info.hash.hex()}")

    def _went_silent(self, addr: Addr) -> None:
        self._silent[addr] = trio.current_time()

    def _avoided(self) -> set[Addr]:
        now = trio.current_time()
        for addr in [a for a, at in self._silent.items() if now - at > SILENT_MEMORY]:
            del self._silent[addr]
        return set(self._silent)


def stayed_busy(plan: SearchPlan | OneSource, reason: str, *, asked: int) -> str:
    """A get given up on sources that were only busy, in one line: who, and what to do (the
    peer's own words, "try another source", were no help with one source named)."""
    times = {1: "once", 2: "twice"}.get(asked, f"{asked} times")
    if isinstance(plan, OneSource):
        return f"{plan.peer.name} stayed busy serving others (asked {times}): try again in a moment"
    return f"every source stayed busy ({reason}; asked {times}): try again in a moment"


def unreachable(peers: list[PeerInfo]) -> str:
    """The peers a search skipped, in words: ``a, b (unreachable)``."""
    return ", ".join(p.name for p in peers) + " (unreachable)"


def _disk_error(error: BaseException) -> OSError | None:
    """The first `OSError` in `error`, or None: the disk failed us (the network's own errors
    arrive as `ProtocolError`)."""
    if isinstance(error, OSError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _disk_error(inner)) is not None:
                return found
    return None


def _cannot_write(share: SharedFolder, info: FileInfo, error: OSError, kept: int) -> str:
    """One line for a get the disk stopped."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        quota = " (over quota)" if error.errno == errno.EDQUOT else ""
        what = f"no space left on the disk of {share.path}{quota}"
    else:
        what = f"cannot write into {share.path} ({error.strerror or error})"
    return (f"{what}: {info.name} needs {info.size:,} bytes; the {kept:,} bytes verified so far"
            " are kept for the next get")  # fmt: skip
