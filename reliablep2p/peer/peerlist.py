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


class PeerList:
    """A peer's view of who is online, kept in step by `Welcome` and `UpdatePeers`.

    Entries are kept by `(host, port)` tuples, built inline: a join storm applies N^2 entries in
    all, and a tuple costs a third of the formatted string key it replaces (a player's own
    N entries make a few young-generation collections at most; the bench, whose one process
    holds all N players' lists, pauses their collector).
    """

    def __init__(self, me: Addr | None = None) -> None:
        self.me = me
        self._peers: dict[Addr, PeerInfo] = {}
        self.version = -1
        self.listed_as: PeerInfo | None = None
        """Our own entry as the last update carried it (the database peer may find us
        unreachable): joined, when we were welcomed with the list from before our join."""

    @property
    def peers(self) -> Mapping[Addr, PeerInfo]:
        """The listed peers by `(host, port)`, read-only (a welcome replaces the mapping)."""
        return self._peers

    def reset(self, peers: Iterable[PeerInfo], version: int) -> None:
        listed = {(p.host, p.port): p for p in peers}
        if self.me is not None:
            listed.pop(self.me, None)
        self._peers = listed
        self.version = version
        self.listed_as = None

    def apply(self, update: UpdatePeers) -> tuple[list[PeerInfo], list[PeerInfo]]:
        """Patch the list; returns who really joined and who really left (an updated entry is
        neither: it just replaces the listed one).

        Raises ValueError if the update does not start from our version (a gap).
        """
        if update.base != self.version:
            raise ValueError(f"update from version {update.base}, we have {self.version}")
        peers, me = self._peers, self.me
        left = [p for p in update.left if peers.pop((p.host, p.port), None) is not None]
        joined = []
        listed = peers.get
        for peer in update.joined:
            key = (peer.host, peer.port)
            if listed(key) != peer:
                if key == me:
                    self.listed_as = peer
                else:
                    joined.append(peer)
                    peers[key] = peer
        for peer in update.updated:
            key = (peer.host, peer.port)
            if key in peers:
                peers[key] = peer
            elif key == me:
                self.listed_as = peer
        self.version = update.version
        return joined, left

    def remove(self, addr: Addr) -> PeerInfo | None:
        """A peer said goodbye directly; the next update from the database peer agrees."""
        return self._peers.pop(addr, None)

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Iterator[PeerInfo]:
        return iter(list(self._peers.values()))
