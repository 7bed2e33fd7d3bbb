"""The address book: which peers hold which files, learned query by query."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..proto import PeerInfo, name_problem

Addr = tuple[str, int]


class AddressBook:
    """File name -> the peers known to hold it. Its size is the number of such pairs."""

    def __init__(self) -> None:
        self._holders: dict[str, dict[Addr, PeerInfo]] = {}

    def add(self, name: str, peer: PeerInfo) -> bool:
        """Record that `peer` holds `name`; True if that is news."""
        holders = self._holders.setdefault(name, {})
        is_new = peer.addr not in holders
        holders[peer.addr] = peer
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

    def drop(self, name: str) -> None:
        """`name` left the catalog: nobody holds it any more."""
        self._holders.pop(name, None)

    def forget_peer(self, addr: Addr) -> None:
        """`addr` left the network: it holds nothing any more."""
        for name in list(self._holders):
            self.forget(name, addr)

    def rename_peer(self, peer: PeerInfo) -> None:
        """Keep the names we show in step with the peer list."""
        for holders in self._holders.values():
            if peer.addr in holders:
                holders[peer.addr] = peer

    def as_map(self) -> dict[str, list[PeerInfo]]:
        return {name: list(holders.values()) for name, holders in self._holders.items()}

    def __len__(self) -> int:
        return sum(len(holders) for holders in self._holders.values())
