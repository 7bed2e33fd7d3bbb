"""What every node serves: `get` (the file, or what we know instead), `map` and `disconnect`.

A `get` keeps its meaning: a holder answers with the file, a non-holder with its map. A swarm
`get` (`get{swarm}`) opens a source link instead (`swarm/upload.py`): a holder offers every
chunk, a peer still fetching the file offers the chunks it verified so far, and either names
the others fetching or holding it (the crowd, for a file of `CROWD_CHUNKS` or more); a
non-holder's map names them too. Every chunk sent, on any link, waits for its turn among the
peers asking (`FairSlots`) and for the upload cap (`--max-upload`).
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
from ..storage.interfaces import ReadChunk
from . import events
from .peerlist import Addr
from .swarm.crowd import CROWD_CHUNKS
from .swarm.upload import Offer, UploadLink
from .swarm.uploads import Uploads
from .transfer import send_chunks, send_file
from .view import NetworkView

MAX_SERVING = 32
"""Files served at once (whole streams and source links); one more request is answered `busy`
and the asker tries another source."""

Source = Path | ReadChunk
"""A file on disk (sent by the kernel where it can) or a reader of its chunks (an object store)."""
Lookup = Callable[[str], tuple[FileInfo, Source] | None]
Missing = Callable[[Channel, str], Awaitable[None]]


class FileService:
    """Serves the three requests anyone may make of a node.

    `lookup` says which trusted file we can serve under a name (a player: what it seeds; the
    database peer: its vault); `missing` answers a `get` for anything else (a player: its map;
    the database peer: an error). `served` hears who was sent how many bytes of which file,
    from which offset, even when the transfer broke off (on a source link: each chunk, as it
    is sent). `known` says who a caller is, by the address it listens on (our peer list; the
    database peer's registry): only those are passed on as crowd members.
    """

    def __init__(
        self,
        view: NetworkView,
        *,
        lookup: Lookup,
        missing: Missing | None = None,
        served: Callable[[str, str, int, int], None] | None = None,
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
        info, where = source
        if request.offset % CHUNK_SIZE or not 0 <= request.offset <= info.size:
            raise RemoteProtocolError(
                ErrorCode.MALFORMED, f"offset {request.offset} is not a chunk start"
            )
        sent = 0

        def count(length: int) -> None:
            nonlocal sent
            sent += length

        with self._serving_one():
            try:
                await channel.send(File(info.name, info.size, info.hash, request.offset))
                limit = self.uploads.limit
                if isinstance(where, Path):
                    await send_file(channel, where, request.offset, info.size, limit=limit,
                                    sent=count)  # fmt: skip
                else:
                    await send_chunks(channel, where, request.offset, info.size, limit=limit,
                                      sent=count)  # fmt: skip
            finally:
                if self.served is not None:
                    self.served(hello.name, request.name, request.offset, sent)

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
            spreads=self.view.swarming.spreads, holdings=self.view.swarming.holdings,
            sent=lambda index, length: self._sent_chunk(hello.name, offer, index, length),
            want=want,
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

    def _sent_chunk(self, player: str, offer: Offer, index: int, length: int) -> None:
        if offer.partial is not None and not offer.partial.download.complete:
            self.sent_while_fetching += 1
        if self.served is not None:
            self.served(player, offer.info.name, index * CHUNK_SIZE, length)

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
