"""Who is fetching or holding which file right now, and the files we serve while fetching them.

`Crowds` is the peer exchange: a peer that asks us for a file, a source we fetch from, a peer
another one names: each is remembered for `CROWD_TTL` seconds under the file's name, and anyone
asking for that file is told a few of them, so a crowd that all asks at once finds itself in its
first exchanges. Only peers of our peer list are remembered (an address nobody vouched for is
never passed on). `Partials` are the downloads under way, whose verified chunks we serve.
`Holdings` is what each peer we fetch from told us it has, so our news to it leaves that out.
All are plain state (time is passed in); listeners are called in the caller's thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from ...proto import PeerInfo
from ...storage.partial import Download
from ..peerlist import Addr

CROWD_CHUNKS = 4
"""A file of fewer chunks is fetched from holders alone: a crowd trading parts of it is not
worth the connections it takes (a handshake costs more than a chunk moves). A peer fetching
one offers no link to it before it has all of it."""
CROWD_TTL = 60.0
"""Seconds a peer stays in a file's crowd after we last saw it fetch or hold the file."""
CROWD_KEPT = 64
"""Peers kept per file (the longest unseen go first)."""
CROWD_TOLD = 16
"""Peers named in one answer."""
HOLDINGS_FILES = 8
"""Files whose sources' chunks `Holdings` remembers (the oldest first forgotten)."""

L = TypeVar("L")
Listener = Callable[[PeerInfo], None]


class Crowds:
    """File name -> the peers seen fetching or holding it lately."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._seen: dict[str, dict[Addr, tuple[PeerInfo, float]]] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._rng = rng or random.Random()

    def saw(self, name: str, peer: PeerInfo, now: float) -> bool:
        """`peer` fetches or holds `name` as of `now`; True if it is new to the crowd."""
        crowd = self._seen.setdefault(name, {})
        new = peer.addr not in crowd
        crowd.pop(peer.addr, None)
        crowd[peer.addr] = (peer, now)  # the most recent last
        while len(crowd) > CROWD_KEPT:
            del crowd[next(iter(crowd))]
        if new:
            for listener in list(self._listeners.get(name, ())):
                listener(peer)
        return new

    def members(
        self, name: str, now: float, *, exclude: Iterable[Addr] = (), count: int = CROWD_TOLD
    ) -> list[PeerInfo]:
        """Up to `count` peers of `name`'s crowd seen within `CROWD_TTL`, in random order."""
        crowd = self._seen.get(name)
        if not crowd:
            return []
        for addr in [a for a, (_, seen) in crowd.items() if now - seen > CROWD_TTL]:
            del crowd[addr]
        if not crowd:
            del self._seen[name]
            return []
        skip = set(exclude)
        peers = [peer for addr, (peer, _) in crowd.items() if addr not in skip]
        return self._rng.sample(peers, min(count, len(peers)))

    def forget_peer(self, addr: Addr) -> None:
        for crowd in self._seen.values():
            crowd.pop(addr, None)

    def listen(self, name: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every peer new to `name`'s crowd; returns how to stop."""
        return _listen(self._listeners, name, listener)


@dataclass(eq=False)
class Partial:
    """A download under way, served chunk by chunk while it lasts."""

    download: Download
    listeners: list[Callable[[int | None], None]] = field(default_factory=list)
    """Hear each chunk verified, and None when the download stops (put aside or finished)."""
    ended: bool = False

    def stored(self, index: int) -> None:
        for listener in list(self.listeners):
            listener(index)

    def end(self) -> None:
        self.ended = True
        for listener in list(self.listeners):
            listener(None)


class Partials:
    """File name -> the download of it under way (one per name: the fetcher locks by content)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Partial] = {}

    def start(self, download: Download) -> Partial:
        partial = Partial(download)
        self._by_name[download.info.name] = partial
        return partial

    def end(self, partial: Partial) -> None:
        if self._by_name.get(partial.download.info.name) is partial:
            del self._by_name[partial.download.info.name]
        partial.end()

    def get(self, name: str) -> Partial | None:
        return self._by_name.get(name)


Spread = Callable[[int, object], None]


class Spreads:
    """The source links serving each file: each hears the chunks the others were asked for
    (`sent` hints), so that fetchers ask this source for chunks nobody is getting from it."""

    def __init__(self) -> None:
        self._links: dict[str, list[Spread]] = {}
        self._sent: dict[str, dict[int, int]] = {}
        """Per file being served, how many times each chunk went out (while links last)."""

    def listen(self, name: str, listener: Spread) -> Callable[[], None]:
        return _listen(self._links, name, listener, lambda: self._sent.pop(name, None))

    def began(self, name: str, index: int) -> None:
        """Chunk `index` of `name` is going out (once more)."""
        sent = self._sent.setdefault(name, {})
        sent[index] = sent.get(index, 0) + 1

    def times_sent(self, name: str, index: int) -> int:
        return self._sent.get(name, {}).get(index, 0)

    def claimed(self, name: str, index: int, origin: object) -> None:
        """The link `origin` was asked for chunk `index` of `name`."""
        for listener in list(self._links.get(name, ())):
            listener(index, origin)


class Holdings:
    """File name -> peer -> the chunks it told us it has (its bitfield, its `have`s): in a
    crowd each pair of peers fetch from each other, and a `have` or `sent` hint about a chunk
    the other side holds already is a message both ends pay for and nobody uses."""

    def __init__(self) -> None:
        self._held: dict[str, dict[Addr, set[int] | None]] = {}
        """None: the whole file."""

    def add(self, name: str, addr: Addr, indices: Iterable[int] | None) -> None:
        """`addr` has `indices` of `name` (None: all of it)."""
        held = self._held.pop(name, {})
        self._held[name] = held  # the most recent last
        while len(self._held) > HOLDINGS_FILES:
            del self._held[next(iter(self._held))]
        known = held.setdefault(addr, set())
        if indices is None:
            held[addr] = None
        elif known is not None:
            known.update(indices)

    def holds(self, name: str, addr: Addr | None, index: int) -> bool:
        held = self._held.get(name, {})
        if addr is None or addr not in held:
            return False
        known = held[addr]
        return known is None or index in known


@dataclass(eq=False)
class Swarming:
    """What a node's fetches and its file service share about the swarms it is in."""

    crowds: Crowds = field(default_factory=Crowds)
    partials: Partials = field(default_factory=Partials)
    spreads: Spreads = field(default_factory=Spreads)
    holdings: Holdings = field(default_factory=Holdings)


def _listen(
    registry: dict[str, list[L]],
    name: str,
    listener: L,
    emptied: Callable[[], object] = lambda: None,
) -> Callable[[], None]:
    """Add `listener` to `name`'s in `registry`; returns how to take it out again (`emptied`
    is called once `name` has no listener left)."""
    registry.setdefault(name, []).append(listener)

    def stop() -> None:
        listeners = registry.get(name, [])
        if listener in listeners:
            listeners.remove(listener)
        if not listeners:
            registry.pop(name, None)
            emptied()

    return stop
