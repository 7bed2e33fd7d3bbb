"""The peer list on both ends of `update_peers`, without I/O.

The database peer keeps a `PeerRegistry`: the live peers plus a log of joins, leaves and updates
(a listed peer found unreachable after its welcome), each bumping a version. Each session sends its peer only the net change since the version that peer
has, so a burst of joins costs every peer one small message. A peer keeps a `PeerList` and
patches it with those deltas.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping

from ..proto import PeerInfo, UpdatePeers

Addr = tuple[str, int]
JOINED, LEFT, UPDATED = "joined", "left", "updated"


class PeerRegistry:
    """The database peer's list of live peers, versioned so that deltas can be computed."""

    def __init__(self) -> None:
        self.peers: dict[Addr, PeerInfo] = {}
        self.version = 0
        self._log: list[tuple[str, PeerInfo, Addr]] = []
        self._log_start = 0
        """The version the first log entry starts from."""

    def join(self, peer: PeerInfo) -> None:
        self.peers[peer.addr] = peer
        self._record(JOINED, peer)

    def leave(self, addr: Addr) -> PeerInfo | None:
        peer = self.peers.pop(addr, None)
        if peer is not None:
            self._record(LEFT, peer)
        return peer

    def update(self, peer: PeerInfo) -> bool:
        """A listed peer's entry changed (it is unreachable after all); False if not listed."""
        if self.peers.get(peer.addr) in (None, peer):
            return False
        self.peers[peer.addr] = peer
        self._record(UPDATED, peer)
        return True

    def _record(self, kind: str, peer: PeerInfo) -> None:
        self._log.append((kind, peer, peer.addr))
        self.version += 1

    def delta(self, since: int, until: int | None = None) -> UpdatePeers:
        """The net change from version `since` to `until` (now if None; `since` must not be
        trimmed yet)."""
        if since < self._log_start:
            raise ValueError(f"version {since} is older than the log")
        until = self.version if until is None else until
        kinds: dict[Addr, str] = {}
        latest: dict[Addr, PeerInfo] = {}
        stop = until - self._log_start
        for kind, peer, addr in itertools.islice(self._log, since - self._log_start, stop):
            if kind is UPDATED and kinds.get(addr) is JOINED:
                kind = JOINED  # joined since `since`: its latest entry
            kinds[addr] = kind
            latest[addr] = peer
        lists: dict[str, list[PeerInfo]] = {JOINED: [], LEFT: [], UPDATED: []}
        for addr, kind in kinds.items():
            lists[kind].append(latest[addr])
        return UpdatePeers(
            base=since, version=until,
            joined=lists[JOINED], left=lists[LEFT], updated=lists[UPDATED],
        )  # fmt: skip

    def trim(self, oldest_needed: int) -> None:
        """Forget log entries no session needs any more."""
        drop = min(max(0, oldest_needed - self._log_start), len(self._log))
        if drop:
            del self._log[:drop]
            self._log_start += drop


Bucket = dict[str, PeerInfo]
"""The peers listening on one port, by host, when there are several (a LAN's default port)."""


class PeerList:
    """A peer's view of who is online, kept in step by `Welcome` and `UpdatePeers`.

    Entries are kept by port, and by host within a port only where several hosts share it:
    a join storm applies N^2 entries in all, and this way an entry is its `PeerInfo` alone,
    keyed by the port it carries (a tuple or a formatted string made per entry as its key cost
    a third of the time and a fifth of the memory, and a tuple was one more object for the
    cycle collector).
    """

    def __init__(self, me: Addr | None = None) -> None:
        self.me = me
        self._by_port: dict[int, PeerInfo | Bucket] = {}
        self._count = 0
        self.peers: Mapping[Addr, PeerInfo] = ByAddress(self)
        """The listed peers by `(host, port)`, read-only."""
        self.version = -1
        self.listed_as: PeerInfo | None = None
        """Our own entry as the last update carried it (the database peer may find us
        unreachable): joined, when we were welcomed with the list from before our join."""

    def get(self, host: str, port: int) -> PeerInfo | None:
        there = self._by_port.get(port)
        if isinstance(there, dict):
            return there.get(host)
        return there if there is not None and there.host == host else None

    def _put(self, peer: PeerInfo) -> PeerInfo | None:
        """List `peer`; the entry it replaces, if any."""
        there = self._by_port.get(peer.port)
        if isinstance(there, dict):
            before = there.get(peer.host)
            there[peer.host] = peer
        elif there is not None and there.host != peer.host:  # a second host on that port
            before = None
            self._by_port[peer.port] = {there.host: there, peer.host: peer}
        else:
            before = there
            self._by_port[peer.port] = peer
        self._count += before is None
        return before

    def _pop(self, host: str, port: int) -> PeerInfo | None:
        there = self._by_port.get(port)
        if isinstance(there, dict):
            gone = there.pop(host, None)
            if len(there) == 1:
                self._by_port[port] = next(iter(there.values()))
        elif there is not None and there.host == host:
            gone = there
            del self._by_port[port]
        else:
            gone = None
        self._count -= gone is not None
        return gone

    def reset(self, peers: Iterable[PeerInfo], version: int) -> None:
        entries = peers if isinstance(peers, list) else list(peers)
        self._by_port = {p.port: p for p in entries}  # (`_put`, inline: a welcome is long)
        self._count = len(self._by_port)
        if self._count != len(entries):  # hosts sharing a port (or an entry twice)
            self._by_port, self._count = {}, 0
            for peer in entries:
                self._put(peer)
        if self.me is not None:
            self._pop(*self.me)
        self.version = version
        self.listed_as = None

    def apply(self, update: UpdatePeers) -> tuple[list[PeerInfo], list[PeerInfo]]:
        """Patch the list; returns who really joined and who really left (an updated entry is
        neither: it just replaces the listed one).

        Raises ValueError if the update does not start from our version (a gap).
        """
        if update.base != self.version:
            raise ValueError(f"update from version {update.base}, we have {self.version}")
        my_host, my_port = self.me or ("", -1)
        left = [p for p in update.left if self._pop(p.host, p.port) is not None]
        joined = []
        by_port = self._by_port
        listed = by_port.get
        added = 0
        for peer in update.joined:
            port = peer.port
            there = listed(port)
            if there is None:  # a storm's every entry: nobody on that port yet
                if port == my_port and peer.host == my_host:
                    self.listed_as = peer
                else:
                    by_port[port] = peer
                    joined.append(peer)
                    added += 1
            elif there != peer:
                if port == my_port and peer.host == my_host:
                    self.listed_as = peer
                elif self._put(peer) != peer:
                    joined.append(peer)
        self._count += added
        for peer in update.updated:
            if self.get(peer.host, peer.port) is not None:
                self._put(peer)
            elif peer.port == my_port and peer.host == my_host:
                self.listed_as = peer
        self.version = update.version
        return joined, left

    def remove(self, addr: Addr) -> PeerInfo | None:
        """A peer said goodbye directly; the next update from the database peer agrees."""
        return self._pop(*addr)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[PeerInfo]:
        if self._count == len(self._by_port):  # no port shared: every value is an entry
            return iter(list(self._by_port.values()))  # type: ignore[arg-type]
        listed: list[PeerInfo] = []
        for there in self._by_port.values():
            if isinstance(there, dict):
                listed.extend(there.values())
            else:
                listed.append(there)
        return iter(listed)


class ByAddress(Mapping[Addr, PeerInfo]):
    """A `PeerList`'s peers by `(host, port)`, read-only."""

    __slots__ = ("_list",)

    def __init__(self, peers: PeerList) -> None:
        self._list = peers

    def __getitem__(self, addr: Addr) -> PeerInfo:
        found = self._list.get(*addr)
        if found is None:
            raise KeyError(addr)
        return found

    def get(self, addr: Addr, default: PeerInfo | None = None) -> PeerInfo | None:  # type: ignore[override]
        found = self._list.get(*addr)
        return default if found is None else found

    def __contains__(self, addr: object) -> bool:
        if not isinstance(addr, tuple) or len(addr) != 2:
            return False
        return self._list.get(*addr) is not None

    def __iter__(self) -> Iterator[Addr]:
        return iter([(p.host, p.port) for p in self._list])

    def __len__(self) -> int:
        return len(self._list)
