"""The peer list on both ends of `update_peers`, without I/O.

The database peer keeps a `PeerRegistry`: the live peers plus a log of joins, leaves and updates
(a listed peer found unreachable after its welcome), each bumping a version. Each session sends its peer only the net change since the version that peer
has, so a burst of joins costs every peer one small message. A peer keeps a `PeerList` and
patches it with those deltas (under string keys: see `_key`).
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

    def delta(self, since: int) -> UpdatePeers:
        """The net change from version `since` to now (`since` must not be trimmed yet)."""
        if since < self._log_start:
            raise ValueError(f"version {since} is older than the log")
        kinds: dict[Addr, str] = {}
        latest: dict[Addr, PeerInfo] = {}
        for kind, peer, addr in itertools.islice(self._log, since - self._log_start, None):
            if kind is UPDATED and kinds.get(addr) is JOINED:
                kind = JOINED  # joined since `since`: its entry as it is now
            kinds[addr] = kind
            latest[addr] = peer
        lists: dict[str, list[PeerInfo]] = {JOINED: [], LEFT: [], UPDATED: []}
        for addr, kind in kinds.items():
            lists[kind].append(latest[addr])
        return UpdatePeers(
            base=since, version=self.version,
            joined=lists[JOINED], left=lists[LEFT], updated=lists[UPDATED],
        )  # fmt: skip

    def trim(self, oldest_needed: int) -> None:
        """Forget log entries no session needs any more."""
        drop = min(max(0, oldest_needed - self._log_start), len(self._log))
        if drop:
            del self._log[:drop]
            self._log_start += drop


def _key(host: str, port: int) -> str:
    """A listed peer's address as the key it is kept under: a string, which Python's cycle
    collector never tracks (a tuple made for every entry counted towards a collection: a join
    storm's N^2 entries set off thousands, each walking the whole heap)."""
    return f"{port}@{host}"


class ByAddress(Mapping[Addr, PeerInfo]):
    """The listed peers by `(host, port)`, read-only, kept under string keys (`_key`)."""

    __slots__ = ("_peers",)

    def __init__(self, peers: dict[str, PeerInfo]) -> None:
        self._peers = peers

    def __getitem__(self, addr: Addr) -> PeerInfo:
        return self._peers[_key(*addr)]

    def __contains__(self, addr: object) -> bool:
        if not isinstance(addr, tuple) or len(addr) != 2:
            return False
        return _key(*addr) in self._peers

    def __iter__(self) -> Iterator[Addr]:
        return iter([(p.host, p.port) for p in self._peers.values()])

    def __len__(self) -> int:
        return len(self._peers)


class PeerList:
    """A peer's view of who is online, kept in step by `Welcome` and `UpdatePeers`."""

    def __init__(self, me: Addr | None = None) -> None:
        self.me = me
        self._peers: dict[str, PeerInfo] = {}
        self.peers = ByAddress(self._peers)
        self.version = -1

    @property
    def me(self) -> Addr | None:
        return self._me_addr

    @me.setter
    def me(self, addr: Addr | None) -> None:
        self._me_addr = addr
        self._me = "" if addr is None else _key(*addr)

    def reset(self, peers: Iterable[PeerInfo], version: int) -> None:
        listed = {f"{p.port}@{p.host}": p for p in peers}  # `_key`, inline: a welcome is long
        listed.pop(self._me, None)
        self._peers = listed
        self.peers = ByAddress(listed)
        self.version = version

    def apply(self, update: UpdatePeers) -> tuple[list[PeerInfo], list[PeerInfo]]:
        """Patch the list; returns who really joined and who really left (an updated entry is
        neither: it just replaces the listed one).

        Raises ValueError if the update does not start from our version (a gap).
        """
        if update.base != self.version:
            raise ValueError(f"update from version {update.base}, we have {self.version}")
        peers, me = self._peers, self._me
        left = [p for p in update.left if peers.pop(_key(p.host, p.port), None) is not None]
        joined = []
        for peer in update.joined:
            key = f"{peer.port}@{peer.host}"  # `_key`, inline: a storm's deltas are long
            if key != me:
                if peers.get(key) != peer:
                    joined.append(peer)
                peers[key] = peer
        for peer in update.updated:
            key = _key(peer.host, peer.port)
            if key in peers:
                peers[key] = peer
        self.version = update.version
        return joined, left

    def remove(self, addr: Addr) -> PeerInfo | None:
        """A peer said goodbye directly; the next update from the database peer agrees."""
        return self._peers.pop(_key(*addr), None)

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Iterator[PeerInfo]:
        return iter(list(self._peers.values()))
