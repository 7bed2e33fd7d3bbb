"""What a peer knows of the network: itself, who is online, the catalog, the map, who was kicked.

One object that the node's parts share (the session fills it, the fetcher and the file server
read it), so each part is handed what it works on instead of reaching into the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..proto import FileInfo, PeerInfo
from ..storage.share import SharedFolder
from . import events
from .addressbook import AddressBook
from .peerlist import Addr, PeerList
from .swarm.crowd import Swarming
from .versioned import Versioned

MAP_CAP = 8
"""New holders of one file taken from any one map: a map naming a dozen silent "holders"
cannot fill the search with them."""


@dataclass(eq=False)
class NetworkView:
    me: PeerInfo
    database: Addr | None
    """The database peer's address (None for the database peer itself)."""
    bus: events.EventBus = field(default_factory=events.EventBus)
    peers: PeerList = field(default_factory=PeerList)
    catalog: Versioned[str, FileInfo] = field(default_factory=Versioned)
    """Every change counted: the database peer caches each player's holdings by it."""
    address_book: AddressBook = field(default_factory=AddressBook)
    revoked: set[str] = field(default_factory=set)
    """Players kicked out of the network: their certificates are refused."""
    share: SharedFolder | None = None
    """Our shared folder, once the node has opened it."""
    swarming: Swarming = field(default_factory=Swarming)
    """Who fetches what (peer exchange), and our downloads under way, served as they grow."""

    @property
    def database_peer(self) -> PeerInfo | None:
        if self.database is None:
            return None
        return PeerInfo(name=events.VAULT, host=self.database[0], port=self.database[1])

    def file_source(self, name: str) -> tuple[FileInfo, Path] | None:
        """The trusted file we can serve under `name`, and where its bytes are."""
        info = self.catalog.get(name)
        if info is None or self.share is None:
            return None
        mine = self.share.get(name)
        if mine is None or mine.hash != info.hash:
            return None
        return info, self.share.path_of(name)

    def map_to_share(self) -> dict[str, list[PeerInfo]]:
        """Our address book plus ourselves as the holder of what we seed."""
        holders = self.address_book.as_map()
        if self.share is not None:
            for name in self.share.files():
                if self.file_source(name) is not None:
                    holders.setdefault(name, []).append(self.me)
        return holders

    def merge_map(self, holders: dict[str, list[PeerInfo]]) -> None:
        """Learn from another peer's map (never ourselves or the vault as a holder; at most
        `MAP_CAP` new holders of any one file)."""
        exclude = [self.me.addr]
        if self.database is not None:
            exclude.append(self.database)
        if self.address_book.merge(holders, exclude=exclude, cap=MAP_CAP):
            self.map_changed()

    def learned(self, name: str, holder: PeerInfo) -> None:
        if self.address_book.add(name, holder):
            self.map_changed()

    def forget_peer(self, addr: Addr) -> PeerInfo | None:
        """A peer left or was thrown out: off the peer list and out of the map."""
        peer = self.peers.remove(addr)
        self.address_book.forget_peer(addr)
        self.swarming.crowds.forget_peer(addr)
        return peer

    def map_changed(self) -> None:
        self.bus.emit(events.MapChanged(len(self.address_book)))
