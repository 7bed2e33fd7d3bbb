"""Moving a file's bytes out: the whole file streamed, or one chunk asked for on a source link.

On plain TCP the kernel copies file bytes to the socket (`sendfile`). Over TLS, or under an
upload cap, each chunk is read into a reused buffer: what the page cache holds right on the
event loop (`read_cached`; a served file mostly is), the rest in a single worker-thread call
(the thread hand-off cost more than the copy); then it is encrypted and sent in one call, or,
under a cap, a piece at a time, each piece taken from the upload cap first. A file an object store keeps (the
vault's `ReadChunk`) is read chunk by chunk in a worker thread instead. Receiving is the
swarm's (`swarm/link.py`): each source's frames go straight into page-aligned chunk buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from ..net.channel import Channel
from ..net.groups import first_protocol_error
from ..proto import CHUNK_SIZE, Chunk, ErrorCode, LocalProtocolError, Message, chunk_count
from ..storage.interfaces import ReadChunk
from ..storage.portable import read_cached, read_into
from .swarm.uploads import RateLimit

UNCAPPED = RateLimit(None)


async def send_file(
    channel: Channel,
    path: Path,
    offset: int,
    size: int,
    *,
    limit: RateLimit = UNCAPPED,
    sent: Callable[[int], None] | None = None,
) -> None:
    """Stream `path` from `offset` to `size` in chunk-sized data frames; `sent` hears the
    length of every chunk once it is sent."""
    async with await trio.open_file(path, "rb") as f:
        room = 0 if _sendfile(channel, limit) else min(CHUNK_SIZE, max(size - offset, 0))
        buffer = memoryview(bytearray(room))
        for start in range(offset, size, CHUNK_SIZE):
            length = min(CHUNK_SIZE, size - start)
            await send_range(channel, f.fileno(), start, length, buffer=buffer, limit=limit)
            if sent is not None:
                sent(length)


async def send_chunks(
    channel: Channel,
    read_chunk: ReadChunk,
    offset: int,
    size: int,
    *,
    limit: RateLimit = UNCAPPED,
    sent: Callable[[int], None] | None = None,
) -> None:
    """Stream a file that `read_chunk` reads chunk by chunk (an object store's vault), from
    `offset`, reading the next chunk in a worker thread while this one is sent; `sent` as
    for `send_file`."""
    send_ahead, chunks = trio.open_memory_channel[bytes](1)

    async def read_ahead() -> None:
        async with send_ahead:
            for index in range(offset // CHUNK_SIZE, chunk_count(size)):
                await send_ahead.send(await trio.to_thread.run_sync(read_chunk, index))

    with first_protocol_error():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_ahead)
            async with chunks:
                async for data in chunks:
                    await send_bytes(channel, memoryview(data), limit=limit)
                    if sent is not None:
                        sent(len(data))


async def send_chunk(
    channel: Channel, fd: int, index: int, length: int, *, buffer: memoryview, limit: RateLimit
) -> None:
    """Chunk `index` of the open file `fd` on a source link: `chunk{index}`, then its frame
    (in one write)."""
    await send_range(channel, fd, index * CHUNK_SIZE, length, buffer=buffer, limit=limit,
                     before=Chunk(index))  # fmt: skip


async def send_read_chunk(
    channel: Channel, read_chunk: ReadChunk, index: int, length: int, *, limit: RateLimit
) -> None:
    """Chunk `index` of a file an object store keeps, on a source link (as `send_chunk`)."""
    data = await trio.to_thread.run_sync(read_chunk, index)
    if len(data) != length:
        raise LocalProtocolError(ErrorCode.INTERNAL, f"chunk {index} is not whole in the store")
    await send_bytes(channel, memoryview(data), limit=limit, before=Chunk(index))


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
    read = read_cached(fd, chunk, start)  # what is not in the page cache, a worker reads
    if read < length:
        read += await trio.to_thread.run_sync(read_into, fd, chunk[read:], start + read)
    if read != length:
        raise LocalProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")
    await send_bytes(channel, chunk, limit=limit, before=before)


async def send_bytes(
    channel: Channel, chunk: memoryview, *, limit: RateLimit, before: Message | None = None
) -> None:
    """One data frame of `chunk`, each piece taken from the upload cap first (if any)."""
    if limit.rate is None:
        await channel.send_data(chunk, before=before)
        return
    position = 0

    async def next_piece(size: int) -> memoryview:
        nonlocal position
        await limit.take(size)
        position += size
        return chunk[position - size : position]

    await channel.send_data_from(len(chunk), next_piece, before=before)


def _sendfile(channel: Channel, limit: RateLimit) -> bool:
    """The kernel's copy: plain TCP, no upload cap (a capped frame goes a piece at a time)."""
    return isinstance(channel.stream, trio.SocketStream) and limit.rate is None
