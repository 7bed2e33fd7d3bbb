"""Serving one source link: the chunks one fetcher asks for, sent in its turn among the others.

After `file` (with our bitfield and the crowd), the fetcher sends `chunks` requests, many at
once; each is answered with `chunk{index}` and the chunk's data frame, once a fair upload slot
is ours (`FairSlots`) and within the upload cap. While a request waits for its turn the fetcher
hears `ping` every `KEEPALIVE` seconds, so a busy source is never taken for a dead one. A source
still fetching the file tells `have` as it verifies more chunks; any source tells `crowd` as
new peers join the file's crowd (news goes out at most every `news.TELL_EVERY`, a `have` at
once while the fetcher takes nothing from us). The link ends when the fetcher hangs up, is
silent for `LINK_IDLE`, stops reading for `CHUNK_SEND_TIMEOUT`, or (a partial source) when our
own download of the file stops unfinished.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from ...net.channel import Channel, ConnectionLost
from ...net.groups import first_protocol_error
from ...proto import (
    CHUNK_SIZE,
    Cancel,
    Chunks,
    ErrorCode,
    File,
    FileInfo,
    LocalProtocolError,
    PeerInfo,
    Ping,
    RemoteProtocolError,
    check_indices,
    chunk_count,
    to_bitfield,
)
from ...storage.interfaces import ReadChunk
from ..peerlist import Addr
from ..transfer import send_chunk, send_read_chunk
from .crowd import Crowds, Holdings, Partial, Spreads
from .news import News
from .uploads import Uploads

log = logging.getLogger("rp2p.swarm")

LINK_IDLE = 60.0
"""A source link on which the fetcher says nothing for this long is closed."""
MAX_QUEUED = 64
"""Requests one link may have waiting; more is `too-large`."""
KEEPALIVE = 2.0
"""A link whose requests wait this long for their turn hears `ping`."""
CHUNK_SEND_TIMEOUT = 30.0
"""A chunk the fetcher does not take in this long ends the link (it stopped reading)."""


@dataclass(eq=False)
class Offer:
    """What we serve of one file on a link: all of it, or the verified chunks of a download.
    `source`: the file on disk, or a reader of its chunks (an object store's vault)."""

    info: FileInfo
    source: Path | ReadChunk
    partial: Partial | None = None

    def has(self, index: int) -> bool:
        return self.partial is None or self.partial.download.has(index)

    def bitfield(self) -> bytes:
        if self.partial is None or self.partial.download.complete:
            return b""
        return to_bitfield(self.partial.download.stored(), chunk_count(self.info.size))


class UploadLink:
    """One fetcher's source link to us, for one file."""

    def __init__(
        self,
        channel: Channel,
        offer: Offer,
        *,
        requester: str,
        asker: Addr | None,
        uploads: Uploads,
        crowds: Crowds,
        spreads: Spreads,
        sent: Callable[[int, int], None],
        want: list[int] | None = None,
        holdings: Holdings | None = None,
    ) -> None:
        self.channel = channel
        self.offer = offer
        self.info = offer.info
        self.count = chunk_count(offer.info.size)
        self.requester = requester
        self.asker = asker
        self.uploads = uploads
        self.crowds = crowds
        self.spreads = spreads
        self.sent = sent
        self.want = want or []
        self.holdings = holdings or Holdings()
        """What the fetcher told us it has, when we fetch from it too: news of those is left out."""
        self._queue: deque[int] = deque()
        self._queued = trio.Event()
        self._news_came = trio.Event()
        self._news = News()
        self._lock = trio.Lock()
        """Held for each whole chunk (header and data), so nothing slips in between."""
        self._scope = trio.CancelScope()
        self._sending = False
        """A chunk is going out now (with `_queue`: whether the fetcher is busy with us)."""

    async def run(self) -> None:
        name = self.info.name
        fd = -1
        if isinstance(self.offer.source, Path):
            try:
                fd = await trio.to_thread.run_sync(os.open, self.offer.source, os.O_RDONLY)
            except OSError as exc:  # placed or moved this very moment: the asker comes back
                detail = f"cannot read {name} now: {exc.strerror}"
                raise LocalProtocolError(ErrorCode.BUSY, detail) from None
        # Listen first, then take the crowd and our bitfield, with no checkpoint in between:
        # whoever joins or whatever we verify from now on is told, nothing falls in a gap.
        stop_crowd = self.crowds.listen(name, self._crowd_grew)
        stop_spread = self.spreads.listen(name, self._sent_elsewhere)
        partial = self.offer.partial
        if partial is not None:
            partial.listeners.append(self._have_grew)
        exclude = [self.asker] if self.asker else []
        crowd = self.crowds.members(name, trio.current_time(), exclude=exclude)
        have = self.offer.bitfield()
        try:
            await self.channel.send(File(name, self.info.size, self.info.hash,
                                         have=have, crowd=crowd))  # fmt: skip
            self._ask([i for i in self.want if self.offer.has(i)])  # what it has of them
            with self._scope, first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read)
                    nursery.start_soon(self._send_chunks, fd)
                    nursery.start_soon(self._tell)
                    nursery.start_soon(self._keep_alive)
        finally:
            stop_crowd()
            stop_spread()
            if partial is not None and self._have_grew in partial.listeners:
                partial.listeners.remove(self._have_grew)
            if fd >= 0:
                os.close(fd)

    def _have_grew(self, index: int | None) -> None:
        if index is None:  # our download stopped: finished (we hold it all) or put aside
            if not self.offer.partial or not self.offer.partial.download.complete:
                self._scope.cancel()
            return
        if not self.holdings.holds(self.info.name, self.asker, index):
            self._news.have.append(index)
            self._news_came.set()

    def _sent_elsewhere(self, index: int, origin: object) -> None:
        if origin is self or self.holdings.holds(self.info.name, self.asker, index):
            return
        if self.offer.partial is None or self.offer.partial.download.complete:
            self._news.spread.append(index)
            self._news_came.set()

    def _crowd_grew(self, peer: PeerInfo) -> None:
        if peer.addr != self.asker:
            self._news.crowd.append(peer)
            self._news_came.set()

    async def _read(self) -> None:
        while True:
            request = await self.channel.receive_message(Chunks, Cancel, Ping, timeout=LINK_IDLE)
            if isinstance(request, Chunks):
                for index in request.indices:
                    if not self.offer.has(index):
                        raise RemoteProtocolError(
                            ErrorCode.UNEXPECTED, f"chunk {index} is not here: ask for what we have"
                        )
                self._ask(request.indices)
            elif isinstance(request, Cancel):
                for index in request.indices:
                    if index in self._queue:
                        self._queue.remove(index)

    def _ask(self, indices: list[int]) -> None:
        """Queue chunks asked for (checked: in the file, not too many at once)."""
        check_indices(indices, self.count)
        if len(self._queue) + len(indices) > MAX_QUEUED:
            raise RemoteProtocolError(
                ErrorCode.TOO_LARGE, f"more than {MAX_QUEUED} chunks asked at once"
            )
        self._queue.extend(indices)
        self._queued.set()
        for index in indices:  # the others' fetchers hear it: ask this source for others
            self.spreads.claimed(self.info.name, index, self)

    async def _send_chunks(self, fd: int) -> None:
        """Send what is asked, in our turns; from `fd`, or (-1) through the offer's reader."""
        while True:
            while not self._queue:
                self._queued = trio.Event()
                await self._queued.wait()
            async with self.uploads.slots.turn(self.requester, self._priority) as buffer:
                if not self._queue:
                    continue  # cancelled while we waited
                index = min(self._queue, key=self._times_sent)  # the least spread first
                self._queue.remove(index)
                self.spreads.began(self.info.name, index)
                log.debug("sending chunk %d of %s to %s", index, self.info.name, self.requester)
                length = min(self.info.size - index * CHUNK_SIZE, CHUNK_SIZE)
                async with self._lock:
                    self._sending = True
                    try:
                        with trio.move_on_after(CHUNK_SEND_TIMEOUT) as sending:
                            await self._send_one(fd, index, length, buffer)
                    finally:
                        self._sending = False
                        if not self._queue:
                            self._news_came.set()
                if sending.cancelled_caught:
                    raise ConnectionLost(ErrorCode.TIMEOUT, "the fetcher stopped reading")
            self.sent(index, length)
            log.debug("sent chunk %d of %s to %s (%d times now)", index, self.info.name,
                      self.requester, self._times_sent(index))  # fmt: skip

    async def _send_one(self, fd: int, index: int, length: int, buffer: memoryview) -> None:
        limit, source = self.uploads.limit, self.offer.source
        if isinstance(source, Path):
            await send_chunk(self.channel, fd, index, length, buffer=buffer, limit=limit)
        else:
            await send_read_chunk(self.channel, source, index, length, limit=limit)

    def _times_sent(self, index: int) -> int:
        return self.spreads.times_sent(self.info.name, index)

    def _priority(self) -> int:
        """Our turn's rank among waiting links: how often our next chunk went out already."""
        return min(map(self._times_sent, self._queue), default=1 << 30)

    async def _tell(self) -> None:
        """News in batches (`News`): the first at once, then at most every `TELL_EVERY` or
        `TELL_CHUNKS`, in one write; a chunk we verify while the link is idle, at once."""
        news = self._news
        while True:
            while trio.current_time() < (due := news.due_at(self._idle())):
                with trio.move_on_at(due):
                    await self._news_came.wait()
                self._news_came = trio.Event()
            async with self._lock:
                messages = news.take(trio.current_time(), self._idle())
                if messages:
                    await self.channel.send_many([(message, None) for message in messages])

    def _idle(self) -> bool:
        """The fetcher takes nothing from us now: a chunk we verify is news to tell at once."""
        return not self._queue and not self._sending

    async def _keep_alive(self) -> None:
        while True:
            sent = self.channel.bytes_sent
            await trio.sleep(KEEPALIVE)
            if self._queue and self.channel.bytes_sent == sent:
                async with self._lock:
                    await self.channel.send(Ping())
