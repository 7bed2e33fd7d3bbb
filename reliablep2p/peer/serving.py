"""What every node serves: `get` (the file, or what we know instead), `map` and `disconnect`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

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
    RemoteProtocolError,
    check_name,
)
from ..storage.interfaces import ReadChunk
from . import events
from .transfer import send_chunks, send_file
from .view import NetworkView

MAX_SERVING = 32
"""Files served at once; one more request is answered `busy` and the asker tries another source."""

Source = Path | ReadChunk
"""A file on disk (sent by the kernel where it can) or a reader of its chunks (an object store)."""
Lookup = Callable[[str], tuple[FileInfo, Source] | None]
Missing = Callable[[Channel, str], Awaitable[None]]


class FileService:
    """Serves the three requests anyone may make of a node.

    `lookup` says which trusted file we can serve under a name (a player: what it seeds; the
    database peer: its vault); `missing` answers a `get` for anything else (a player: its map;
    the database peer: an error). `served` hears who was sent how many bytes of which file,
    from which offset, even when the transfer broke off.
    """

    def __init__(
        self,
        view: NetworkView,
        *,
        lookup: Lookup,
        missing: Missing | None = None,
        served: Callable[[str, str, int, int], None] | None = None,
        max_serving: int = MAX_SERVING,
    ) -> None:
        self.view = view
        self.lookup = lookup
        self.missing = missing or self.send_map
        self.served = served
        self.max_serving = max_serving
        self._serving = 0

    def handlers(self) -> dict[type, Callable[[Channel, Hello, object], Awaitable[None]]]:
        return {Get: self.serve_get, MapRequest: self.serve_map, Disconnect: self.serve_disconnect}

    async def serve_get(self, channel: Channel, hello: Hello, request: object) -> None:
        assert isinstance(request, Get)
        check_name(request.name)
        source = self.lookup(request.name)
        if source is None:
            await self.missing(channel, request.name)
            return
        info, where = source
        if request.offset % CHUNK_SIZE or not 0 <= request.offset <= info.size:
            raise RemoteProtocolError(
                ErrorCode.MALFORMED, f"offset {request.offset} is not a chunk start"
            )
        if self._serving >= self.max_serving:
            raise LocalProtocolError(ErrorCode.BUSY, "serving too many files; try another source")
        self._serving += 1
        sent = 0

        def count(length: int) -> None:
            nonlocal sent
            sent += length

        try:
            await channel.send(File(info.name, info.size, info.hash, request.offset))
            if isinstance(where, Path):
                await send_file(channel, where, request.offset, info.size, sent=count)
            else:
                await send_chunks(channel, where, request.offset, info.size, sent=count)
        finally:
            self._serving -= 1
            if self.served is not None:
                self.served(hello.name, request.name, request.offset, sent)

    async def send_map(self, channel: Channel, name: str = "") -> None:
        """A peer that lacks a file answers with its map (so the asker learns)."""
        await channel.send(Map(self.view.map_to_share()))

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
