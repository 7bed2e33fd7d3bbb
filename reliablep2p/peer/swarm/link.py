"""Our side of one source link: requests out, chunks in, straight into page-aligned buffers.

A link is opened by a swarm `get` that the source answered `file`; from then on it carries
`chunks` and `cancel` requests one way and `chunk` + data frames, `have`, `crowd` and `ping` the
other. The schedule decides what to ask (`picker.Schedule`), the engine what to do with what
arrives; the link only moves frames and watches for a stall: with requests in flight, a source
that sends nothing for the stall timeout (not even a `ping` while our requests wait for their
turn) is ended. A slow source that keeps sending is never cut off.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

import trio

from ...net.channel import Channel, ConnectionLost
from ...net.groups import first_protocol_error
from ...proto import (
    Cancel,
    Chunk,
    Chunks,
    Crowd,
    ErrorCode,
    Have,
    PeerInfo,
    Ping,
    RemoteProtocolError,
    Sent,
    check_indices,
)
from .upload import LINK_IDLE

log = logging.getLogger("rp2p.swarm")

PING_EVERY = LINK_IDLE / 3
"""A link we have asked nothing on for this long gets a `ping`, so the source keeps it open."""


class LinkIdle(ConnectionLost):
    """Nothing was asked of a source and it had nothing new for `LINK_IDLE`: closed, no blame."""


class Receiver(Protocol):
    """What a link hands on: the engine of the download (`engine.SwarmFetch`)."""

    stall_timeout: float

    def in_flight(self, link: SourceLink) -> int: ...
    async def buffer(self) -> memoryview: ...
    def give_back(self, buffer: memoryview) -> None: ...
    def arrived(self, link: SourceLink, index: int, buffer: memoryview, length: int) -> None: ...
    def has_more(self, link: SourceLink, indices: list[int]) -> None: ...
    def crowd(self, peers: list[PeerInfo]) -> None: ...
    def spread(self, indices: list[int]) -> None: ...


@dataclass(eq=False)
class SourceLink:
    """A source connection of one download."""

    key: int
    peer: PeerInfo
    label: str
    """Who it is in the result: the player's name, or ``vault``."""
    channel: Channel
    count: int
    full: bool
    """It has every chunk (a holder), not just some (a peer still fetching)."""
    vault: bool = False
    expected: set[int] = field(default_factory=set)
    """Chunks asked for (cancelled ones too: they may still come) that have not arrived."""
    _asks: list[int] = field(default_factory=list)
    _cancels: list[int] = field(default_factory=list)
    _wake: trio.Event = field(default_factory=trio.Event)
    _waiting: trio.CancelScope | None = None
    _stall: float = math.inf

    def ask(self, index: int) -> None:
        self.expected.add(index)
        self._asks.append(index)
        self._wake.set()
        if self._waiting is not None:  # a read waiting at the idle pace: now it is a stall watch
            self._waiting.deadline = min(self._waiting.deadline, trio.current_time() + self._stall)

    def cancel(self, index: int) -> None:
        self._cancels.append(index)
        self._wake.set()

    async def run(self, receiver: Receiver) -> None:
        """Move frames until the source fails (`ProtocolError`) or we are cancelled."""
        self._stall = receiver.stall_timeout
        try:
            with first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write)
                    await self._read(receiver)
        finally:
            with trio.CancelScope(shield=True):
                await self.channel.aclose()

    async def _write(self) -> None:
        while True:
            with trio.move_on_after(PING_EVERY):
                await self._wake.wait()
            self._wake = trio.Event()
            cancels, self._cancels = self._cancels, []
            asks, self._asks = self._asks, []
            if cancels:
                await self.channel.send(Cancel(cancels))
            if asks:
                await self.channel.send(Chunks(asks))
            if not cancels and not asks:
                await self.channel.send(Ping())

    async def _read(self, receiver: Receiver) -> None:
        while True:
            frame = await self._next(receiver)
            if isinstance(frame, Chunk):
                await self._take_chunk(frame.index, receiver)
            elif isinstance(frame, Have):
                check_indices(frame.indices, self.count)
                receiver.has_more(self, frame.indices)
            elif isinstance(frame, Sent):
                check_indices(frame.indices, self.count)
                receiver.spread(frame.indices)
            elif isinstance(frame, Crowd):
                receiver.crowd(frame.peers)
            elif not isinstance(frame, Ping):
                what = "file data" if isinstance(frame, bytes) else type(frame).__name__
                raise RemoteProtocolError(ErrorCode.UNEXPECTED, f"{what} on a source link")

    async def _next(self, receiver: Receiver) -> object:
        """The next frame, under the stall watch while we wait for chunks (else the idle one)."""
        busy = receiver.in_flight(self) > 0
        limit = self._stall if busy else LINK_IDLE
        with trio.CancelScope(deadline=trio.current_time() + limit) as waiting:
            self._waiting = waiting
            try:
                return await self.channel.receive(timeout=math.inf, exact=True)
            finally:
                self._waiting = None
        if not busy:
            raise LinkIdle(ErrorCode.TIMEOUT, f"was idle for {limit:g} s")
        raise ConnectionLost(ErrorCode.TIMEOUT, f"sent nothing for {limit:g} s")

    async def _take_chunk(self, index: int, receiver: Receiver) -> None:
        if index not in self.expected:
            raise RemoteProtocolError(ErrorCode.UNEXPECTED, f"sent chunk {index}, not asked for")
        self.expected.discard(index)
        log.debug("receiving chunk %d from %s", index, self.label)
        buffer = await receiver.buffer()
        try:
            length = await self.channel.receive_data_into(buffer, timeout=self._stall, idle=True)
        except BaseException:
            receiver.give_back(buffer)
            raise
        receiver.arrived(self, index, buffer, length)
