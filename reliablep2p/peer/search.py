"""The order in which a `get` asks peers, without I/O.

Known holders first (in random order, so load spreads), then random peers not yet asked, and the
database peer last, as the backup. Every map a non-holder answers with is merged into the address
book before the next pick, so holders learned mid-search are tried before more random peers.
A peer the database peer could not reach back (`PeerInfo.reachable`) is skipped, and named in
`skipped`, so the outcome can say why it went to the vault.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from ..proto import PeerInfo
from .addressbook import Addr, AddressBook


class SearchPlan:
    """Picks the next peer to ask for one file; counts the probes."""

    def __init__(
        self,
        name: str,
        address_book: AddressBook,
        peers: Iterable[PeerInfo],
        *,
        database: PeerInfo | None,
        me: Addr | None,
        rng: random.Random,
        probes: int = 0,
    ) -> None:
        self.name = name
        self._book = address_book
        self._rng = rng
        self._database = database
        self._asked: set[Addr] = set()
        if me is not None:
            self._asked.add(me)
        skip = {database.addr} if database else set()
        self._listed = {p.addr: p for p in peers if p.addr not in skip}
        self._others = list(self._listed.values())
        rng.shuffle(self._others)
        self.probes = probes
        """Peers asked so far (a retried search carries its earlier count over)."""
        self.skipped: list[PeerInfo] = []
        """Peers not asked because nobody can reach them, in the order they came up."""

    def next(self) -> PeerInfo | None:
        """The next peer to ask, or None when every option is used up."""
        peer = self._pick()
        if peer is not None:
            self._asked.add(peer.addr)
            self.probes += 1
        return peer

    def _pick(self) -> PeerInfo | None:
        database = self._database.addr if self._database else None
        holders = [
            p
            for p in self._book.holders(self.name)
            if p.addr not in self._asked and p.addr != database and self._reachable(p)
        ]
        if holders:
            return self._rng.choice(holders)
        while self._others:
            peer = self._others.pop()
            if peer.addr not in self._asked and self._reachable(peer):
                return peer
        if self._database is not None and self._database.addr not in self._asked:
            return self._database
        return None

    def _reachable(self, peer: PeerInfo) -> bool:
        """What the peer list says (it is the database peer's word), else what the map said."""
        if self._listed.get(peer.addr, peer).reachable:
            return True
        if peer.addr not in self._asked:
            self._asked.add(peer.addr)
            self.skipped.append(peer)
        return False

    def is_database(self, peer: PeerInfo) -> bool:
        return self._database is not None and peer.addr == self._database.addr


class OneSource:
    """The plan of a `secure-get`: one named peer, asked once."""

    def __init__(self, peer: PeerInfo, *, database: Addr | None) -> None:
        self._peer: PeerInfo | None = peer
        self._database = database
        self.probes = 0
        self.skipped: list[PeerInfo] = []
        """Never any: a `secure-get` asks the peer it was told to, reachable or not."""

    def next(self) -> PeerInfo | None:
        peer, self._peer = self._peer, None
        self.probes += peer is not None
        return peer

    def is_database(self, peer: PeerInfo) -> bool:
        return peer.addr == self._database
