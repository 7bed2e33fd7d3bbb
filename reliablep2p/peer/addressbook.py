"""The address book: which peers hold which files, learned query by query."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..proto import PeerInfo, name_problem

Addr = tuple[str, int]


class AddressBook:
    """File name -> the peers known to hold it. Its size is the number of such pairs.

    Also indexed by holder, so that a peer that leaves or changes costs the files it holds,
    not the whole book (a join storm renames thousands of peers).
    """

    def __init__(self) -> None:
        self._holders: dict[str, dict[Addr, PeerInfo]] = {}
        self._held_by: dict[Addr, set[str]] = {}

    def add(self, name: str, peer: PeerInfo) -> bool:
        """Record that `peer` holds `name`; True if that is news."""
        holders = self._holders.setdefault(name, {})
        addr = peer.addr
        is_new = addr not in holders
        holders[addr] = peer
        self._held_by.setdefault(addr, set()).add(name)
        return is_new

    def merge(
        self,
        holders: Mapping[str, Iterable[PeerInfo]],
        *,
        exclude: Iterable[Addr],
        cap: int | None = None,
    ) -> int:
        """Merge another peer's map, skipping bad names and the `exclude`d addresses, and
        taking at most `cap` new holders of any one file from it.

        Returns how many new (file, holder) pairs were learned.
        """
        skip = set(exclude)
        learned = 0
        for name, peers in holders.items():
            if name_problem(name):
                continue
            new = 0
            for peer in peers:
                if cap is not None and new >= cap:
                    break
                if peer.addr not in skip and 0 < peer.port < 65536:
                    new += self.add(name, peer)
            learned += new
        return learned

    def holders(self, name: str) -> list[PeerInfo]:
        return list(self._holders.get(name, {}).values())

    def forget(self, name: str, addr: Addr) -> None:
        """`addr` turned out not to hold `name` (or could not be reached for it)."""
        holders = self._holders.get(name)
        if holders is not None:
            holders.pop(addr, None)
            if not holders:
                del self._holders[name]
        names = self._held_by.get(addr)
        if names is not None:
            names.discard(name)
            if not names:
                del self._held_by[addr]

    def drop(self, name: str) -> None:
        """`name` left the catalog: nobody holds it any more."""
        for addr in list(self._holders.get(name, ())):
            self.forget(name, addr)

    def forget_peer(self, addr: Addr) -> None:
        """`addr` left the network: it holds nothing any more."""
        for name in list(self._held_by.get(addr, ())):
            self.forget(name, addr)

    def rename_peers(self, peers: Iterable[PeerInfo]) -> None:
        """Keep the names we show in step with the peer list (joined or updated peers)."""
        if not self._held_by:
            return  # a new player's empty book: a welcome-sized update costs nothing
        for peer in peers:
            addr = (peer.host, peer.port)
            for name in self._held_by.get(addr, ()):
                self._holders[name][addr] = peer

    def as_map(self) -> dict[str, list[PeerInfo]]:
        return {name: list(holders.values()) for name, holders in self._holders.items()}

    def __len__(self) -> int:
        return sum(len(holders) for holders in self._holders.values())
