"""The order in which a `get` asks peers, without I/O.

Known holders first (in random order, so load spreads), then the peers of the file's crowd
(fetching or holding it right now, as peer exchange told us), then random peers not yet asked,
and the database peer last, as the backup. Every map a non-holder answers with is merged into
the address book before the next pick, so holders learned mid-search are tried before more
random peers. A fetch asks several known candidates at once (`next_known`: `next_holder`, else
`next_crowd`), random peers one at a time (`next_random`), and the vault (`vault`) when the
search is over or its deadline passed.
A peer the database peer could not reach back (`PeerInfo.reachable`) is skipped, and named in
`skipped`, so the outcome can say why it went to the vault; a peer that was silent lately
(`avoid`) is not asked again.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable

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
        avoid: Collection[Addr] = (),
    ) -> None:
        self.name = name
        self._book = address_book
        self._rng = rng
        self._database = database
        self._asked: set[Addr] = set(avoid)
        if me is not None:
            self._asked.add(me)
        self._crowd: list[PeerInfo] = []
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
        return self.next_known() or self.next_random() or self.vault()

    def next_known(self) -> PeerInfo | None:
        """A known holder not asked yet, else a peer of the file's crowd, or None."""
        return self.next_holder() or self.next_crowd()

    def next_holder(self) -> PeerInfo | None:
        """A holder the address book knows, not asked yet, or None."""
        database = self._database.addr if self._database else None
        holders = [
            p
            for p in self._book.holders(self.name)
            if p.addr not in self._asked and p.addr != database and self._reachable(p)
        ]
        return self._asking(self._rng.choice(holders)) if holders else None

    def next_crowd(self) -> PeerInfo | None:
        """A peer of the file's crowd (fetching or holding it, as answers said), or None."""
        database = self._database.addr if self._database else None
        while self._crowd:
            peer = self._crowd.pop(0)
            if peer.addr not in self._asked and peer.addr != database and self._reachable(peer):
                return self._asking(peer)
        return None

    def next_random(self) -> PeerInfo | None:
        """A random peer not asked yet, or None."""
        while self._others:
            peer = self._others.pop()
            if peer.addr not in self._asked and self._reachable(peer):
                return self._asking(peer)
        return None

    def vault(self) -> PeerInfo | None:
        """The database peer, once: the backup of last resort."""
        if self._database is None or self._database.addr in self._asked:
            return None
        return self._asking(self._database)

    def crowd(self, peer: PeerInfo) -> None:
        """A peer fetching or holding the file right now: ask it after the known holders."""
        if peer.addr not in self._asked and all(p.addr != peer.addr for p in self._crowd):
            self._crowd.append(peer)

    def has_candidates(self, *, crowd: bool = True) -> bool:
        """True while a holder, a crowd peer or a random peer is left to ask (not the vault);
        without `crowd`, holders alone (the others may be fetching it too, and a fetch whose
        crowd sources are all linked asks no more of them)."""
        database = self._database.addr if self._database else None

        def open_(peer: PeerInfo) -> bool:
            listed = self._listed.get(peer.addr, peer)
            return peer.addr not in self._asked and peer.addr != database and listed.reachable

        others = [*self._crowd, *self._others] if crowd else []
        candidates = [*self._book.holders(self.name), *others]
        return any(open_(peer) for peer in candidates)

    def _asking(self, peer: PeerInfo) -> PeerInfo:
        self._asked.add(peer.addr)
        self.probes += 1
        return peer

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
    """The plan of a `secure-get`: one named peer, asked once; no crowd, no vault."""

    def __init__(self, peer: PeerInfo, *, database: Addr | None) -> None:
        self.peer = peer
        self._peer: PeerInfo | None = peer
        self._database = database
        self.probes = 0
        self.skipped: list[PeerInfo] = []
        """Never any: a `secure-get` asks the peer it was told to, reachable or not."""

    def next(self) -> PeerInfo | None:
        return self.next_known()

    def next_known(self) -> PeerInfo | None:
        peer, self._peer = self._peer, None
        self.probes += peer is not None
        return peer

    def next_holder(self) -> PeerInfo | None:
        return self.next_known()

    def next_crowd(self) -> PeerInfo | None:
        return None

    def next_random(self) -> PeerInfo | None:
        return None

    def vault(self) -> PeerInfo | None:
        return None

    def crowd(self, peer: PeerInfo) -> None:
        """Ignored: only the named peer is trusted with this get."""

    def has_candidates(self, *, crowd: bool = True) -> bool:
        return self._peer is not None

    def is_database(self, peer: PeerInfo) -> bool:
        return peer.addr == self._database
