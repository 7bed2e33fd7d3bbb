"""Moving a file's bytes out: the whole file streamed, or one chunk asked for on a source link.

On plain TCP the kernel copies file bytes to the socket (`sendfile`). Over TLS, or under an
upload cap, each chunk is read into a reused buffer in a single worker-thread call (not one per
128 KiB piece: the thread hops were most of the sender's time), then encrypted and sent a piece
at a time, each piece taken from the upload cap first. Receiving is the swarm's
(`swarm/link.py`): each source's frames go straight into page-aligned chunk buffers.
"""

from __future__ import annotations

import os
from pathlib import Path

import trio

from ..net.channel import Channel
from ..proto import CHUNK_SIZE, Chunk, ErrorCode, LocalProtocolError, Message
from .swarm.uploads import RateLimit

UNCAPPED = RateLimit(None)


async def send_file(
    channel: Channel, path: Path, offset: int, size: int, *, limit: RateLimit = UNCAPPED
) -> None:
    """Stream `path` from `offset` to `size` in chunk-sized data frames."""
    async with await trio.open_file(path, "rb") as f:
        room = 0 if _sendfile(channel, limit) else min(CHUNK_SIZE, max(size - offset, 0))
        buffer = memoryview(bytearray(room))
        for start in range(offset, size, CHUNK_SIZE):
            await send_range(channel, f.fileno(), start, min(CHUNK_SIZE, size - start),
                             buffer=buffer, limit=limit)  # fmt: skip


async def send_chunk(
    channel: Channel, fd: int, index: int, length: int, *, buffer: memoryview, limit: RateLimit
) -> None:
    """Chunk `index` of the open file `fd` on a source link: `chunk{index}`, then its frame
    (in one write)."""
    await send_range(channel, fd, index * CHUNK_SIZE, length, buffer=buffer, limit=limit,
                     before=Chunk(index))  # fmt: skip


async def send_range(
    channel: Channel,
    fd: int,
    start: int,
    length: int,
    *,
    buffer: memoryview,
    limit: RateLimit,
    before: Message | None = None,
) -> None:
    """One data frame with `length` bytes of `fd` from `start` (`buffer`: one chunk's room),
    after the message `before`, if any."""
    if _sendfile(channel, limit):
        await channel.send_data_sendfile(fd, start, length, before=before)
        return
    chunk = buffer[:length]
    read = await trio.to_thread.run_sync(os.preadv, fd, [chunk], start)
    if read != length:
        raise LocalProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")
    if limit.rate is None:
        await channel.send_data(chunk, before=before)
        return
    position = 0

    async def next_piece(size: int) -> memoryview:
        nonlocal position
        await limit.take(size)
        position += size
        return chunk[position - size : position]

    await channel.send_data_from(length, next_piece, before=before)


def _sendfile(channel: Channel, limit: RateLimit) -> bool:
    """The kernel's copy: plain TCP, no upload cap (a capped frame goes a piece at a time)."""
    return isinstance(channel.stream, trio.SocketStream) and limit.rate is None
