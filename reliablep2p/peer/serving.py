"""What every node serves: `get` (the file, or what we know instead), `map` and `disconnect`.

A `get` keeps its meaning: a holder answers with the file, a non-holder with its map. A swarm
`get` (`get{swarm}`) opens a source link instead (`swarm/upload.py`): a holder offers every
chunk, a peer still fetching the file offers the chunks it verified so far, and either names
the others fetching or holding it (the crowd, for a file of `CROWD_CHUNKS` or more); a
non-holder's map names them too. Every chunk
sent, on any link, waits for its turn among the peers asking (`FairSlots`) and for the upload
cap (`--max-upload`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import trio

from ..net.channel import Channel
from ..proto import (
    CHUNK_SIZE,
    Bye,
    Disconnect,
    ErrorCode,
    File,
    FileInfo,
    Get,
    Hello,
    LocalProtocolError,
    Map,
    MapRequest,
    PeerInfo,
    RemoteProtocolError,
    check_name,
)
from . import events
from .peerlist import Addr
from .swarm.crowd import CROWD_CHUNKS
from .swarm.upload import Offer, UploadLink
from .swarm.uploads import Uploads
from .transfer import send_file
from .view import NetworkView

MAX_SERVING = 32
"""Files served at once (whole streams and source links); one more request is answered `busy`
and the asker tries another source."""
COUNTED_SENDS = 10_000
"""Who-was-sent-how-much entries kept (for the vault's credit) before the oldest half go."""

Lookup = Callable[[str], tuple[FileInfo, Path] | None]
Missing = Callable[[Channel, str], Awaitable[None]]


class FileService:
    """Serves the three requests anyone may make of a node.

    `lookup` says which trusted file we can serve under a name (a player: what it seeds; the
    database peer: its vault); `missing` answers a `get` for anything else (a player: its map;
    the database peer: an error). `served` hears who was sent most of which file (the vault's
    finds score less). `known` says who a caller is, by the address it listens on (our peer
    list; the database peer's registry): only those are passed on as crowd members.
    """

    def __init__(
        self,
        view: NetworkView,
        *,
        lookup: Lookup,
        missing: Missing | None = None,
        served: Callable[[str, str], None] | None = None,
        max_serving: int = MAX_SERVING,
        uploads: Uploads | None = None,
        known: Callable[[Addr], PeerInfo | None] | None = None,
    ) -> None:
        self.view = view
        self.lookup = lookup
        self.missing = missing or self.send_map
        self.served = served
        self.max_serving = max_serving
        self.uploads = uploads or Uploads()
        self.known = known or (lambda addr: view.peers.peers.get(addr))  # the list is replaced
        self._serving = 0
        self._sent: dict[tuple[str, str], int] = {}
        self.sent_while_fetching = 0
        """Chunks sent of files we were still fetching ourselves (partial seeding at work)."""

    def handlers(self) -> dict[type, Callable[[Channel, Hello, object], Awaitable[None]]]:
        return {Get: self.serve_get, MapRequest: self.serve_map, Disconnect: self.serve_disconnect}

    async def serve_get(self, channel: Channel, hello: Hello, request: object) -> None:
        assert isinstance(request, Get)
        check_name(request.name)
        if request.swarm:
            await self._serve_link(channel, hello, request.name, request.want)
            return
        source = self.lookup(request.name)
        if source is None:
            await self.missing(channel, request.name)
            return
        info, path = source
        if request.offset % CHUNK_SIZE or not 0 <= request.offset <= info.size:
            raise RemoteProtocolError(
                ErrorCode.MALFORMED, f"offset {request.offset} is not a chunk start"
            )
        with self._serving_one():
            await channel.send(File(info.name, info.size, info.hash, request.offset))
            await send_file(channel, path, request.offset, info.size, limit=self.uploads.limit)
        self._count(hello.name, info, info.size - request.offset)

    async def _serve_link(self, channel: Channel, hello: Hello, name: str, want: list[int]) -> None:
        """A swarm `get`: a source link if we have any of the file, else our map."""
        asker = self.known((channel.remote_host, hello.port)) if hello.port else None
        if asker is not None and asker.reachable:
            self.view.swarming.crowds.saw(name, asker, trio.current_time())
        offer = self._offer(name)
        if offer is None:
            await self.missing(channel, name)
            return
        link = UploadLink(
            channel, offer, requester=hello.name, asker=asker.addr if asker else None,
            uploads=self.uploads, crowds=self.view.swarming.crowds,
            spreads=self.view.swarming.spreads,
            sent=lambda count: self._sent_chunk(hello.name, offer, count), want=want,
        )  # fmt: skip
        with self._serving_one():
            await link.run()

    def _offer(self, name: str) -> Offer | None:
        """All of a file we hold, or the verified chunks of one we are fetching."""
        source = self.lookup(name)
        if source is not None:
            return Offer(*source)
        partial = self.view.swarming.partials.get(name)
        info = self.view.catalog.get(name)
        if partial is None or info is None or partial.download.info.hash != info.hash:
            return None
        if partial.download.count < CROWD_CHUNKS:
            return None  # a small file is fetched from holders alone
        return Offer(info, partial.download.part_path, partial)

    @contextlib.contextmanager
    def _serving_one(self) -> Iterator[None]:
        """One place among `max_serving`, held for a whole stream or link."""
        if self._serving >= self.max_serving:
            raise LocalProtocolError(ErrorCode.BUSY, "serving too many files; try another source")
        self._serving += 1
        try:
            yield
        finally:
            self._serving -= 1

    def _sent_chunk(self, player: str, offer: Offer, count: int) -> None:
        if offer.partial is not None and not offer.partial.download.complete:
            self.sent_while_fetching += 1
        self._count(player, offer.info, count)

    def _count(self, player: str, info: FileInfo, count: int) -> None:
        """Note bytes of `info` sent to `player`; `served` hears once they are most of it."""
        key = (player, info.name)
        before = self._sent.get(key, 0)
        self._sent[key] = after = before + count
        if self.served is not None and (before * 2 <= info.size < after * 2 or not info.size):
            self.served(player, info.name)
        if len(self._sent) > COUNTED_SENDS:
            for old in list(self._sent)[: COUNTED_SENDS // 2]:
                del self._sent[old]

    async def send_map(self, channel: Channel, name: str = "") -> None:
        """A peer that lacks a file answers with its map (so the asker learns), and with the
        peers it saw fetching or holding that file lately."""
        crowd = self.view.swarming.crowds.members(name, trio.current_time()) if name else []
        await channel.send(Map(self.view.map_to_share(), crowd=crowd))

    async def serve_map(self, channel: Channel, hello: Hello, request: object) -> None:
        await self.send_map(channel)

    async def serve_disconnect(self, channel: Channel, hello: Hello, request: object) -> None:
        """The caller leaves: forget it alone, the entry under its name (its certificate's) at
        its host, whatever port its `hello` claims, so nobody can say goodbye for another."""
        host = channel.remote_host
        gone = [p for p in self.view.peers if p.name == hello.name and p.host == host]
        for peer in gone:
            self.view.forget_peer(peer.addr)
        await channel.send(Bye())
        if gone:
            self.view.bus.emit(events.PeersChanged(joined=(), left=tuple(gone)))
            self.view.map_changed()
