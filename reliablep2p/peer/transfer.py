"""Moving a file's bytes: streamed out chunk by chunk, received into verified chunks on disk."""

from __future__ import annotations

import mmap
from collections.abc import Callable
from pathlib import Path

import trio

from ..net.channel import Channel, first_protocol_error
from ..proto import CHUNK_SIZE, ErrorCode, LocalProtocolError, ProtocolError, chunk_count
from ..storage.interfaces import ReadChunk
from ..storage.partial import Download
from ..storage.portable import read_into

RECEIVE_BUFFERS, STORE_THREADS = 4, 2
"""A download holds this many chunk buffers (one arriving, the rest being stored) and verifies
and writes them in up to this many worker threads: hashing one overlaps writing another."""


async def send_file(
    channel: Channel,
    path: Path,
    offset: int,
    size: int,
    *,
    sent: Callable[[int], None] | None = None,
) -> None:
    """Stream `path` from `offset` to `size` in chunk-sized data frames.

    On plain TCP the kernel copies the file to the socket (`sendfile`). Over TLS each chunk is
    read into one reused buffer in a single worker-thread call (not one per 128 KiB piece: the
    thread hops were most of the sender's time), then encrypted and sent a piece at a time.
    `sent` hears the length of every chunk once it is sent.
    """
    async with await trio.open_file(path, "rb") as f:
        plain = isinstance(channel.stream, trio.SocketStream)
        buffer = memoryview(bytearray(0 if plain else min(CHUNK_SIZE, size - offset)))
        for start in range(offset, size, CHUNK_SIZE):
            length = min(CHUNK_SIZE, size - start)
            if plain:
                await channel.send_data_sendfile(f.fileno(), start, length)
            else:
                chunk = buffer[:length]
                read = await trio.to_thread.run_sync(read_into, f.fileno(), chunk, start)
                if read != length:
                    raise LocalProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")
                await channel.send_data(chunk)
            if sent is not None:
                sent(length)


async def send_chunks(
    channel: Channel,
    read_chunk: ReadChunk,
    offset: int,
    size: int,
    *,
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
                    await channel.send_data(data)
                    if sent is not None:
                        sent(len(data))


async def receive_file(
    channel: Channel,
    download: Download,
    *,
    stall_timeout: float,
    progress: Callable[[int], None],
) -> None:
    """Receive the rest of the file while worker threads verify and write what arrived.

    Each chunk goes from the socket straight into one of `RECEIVE_BUFFERS` reused buffers;
    up to `STORE_THREADS` workers verify and write chunks at their offsets, so hashing one
    chunk, writing another and receiving the next all overlap. A lost source still keeps
    every chunk that arrived: the workers finish before the error is raised. `progress` hears
    the verified byte count after each stored chunk.
    """
    free_buffers, take_buffer = trio.open_memory_channel[memoryview](RECEIVE_BUFFERS)
    # No more buffers than chunks to come, none bigger than the file (in whole pages): many
    # small downloads at once (treasure handed out to a seeder) must not cost 4 MiB each.
    chunks = chunk_count(download.info.size) - download.next_chunk
    size = min(CHUNK_SIZE, -(-max(download.info.size, 1) // mmap.PAGESIZE) * mmap.PAGESIZE)
    for _ in range(max(1, min(RECEIVE_BUFFERS, chunks))):  # page-aligned: O_DIRECT writes
        free_buffers.send_nowait(memoryview(mmap.mmap(-1, size)))
    workers = trio.CapacityLimiter(STORE_THREADS)

    async def store(index: int, buffer: memoryview, length: int) -> None:
        chunk = buffer[:length]
        await trio.to_thread.run_sync(download.store_chunk, index, chunk, limiter=workers)
        free_buffers.send_nowait(buffer)
        progress(download.received)

    lost: ProtocolError | None = None
    with first_protocol_error():
        async with trio.open_nursery() as nursery:
            try:
                for index in range(download.next_chunk, chunk_count(download.info.size)):
                    buffer = await take_buffer.receive()
                    length = await channel.receive_data_into(buffer, timeout=stall_timeout)
                    nursery.start_soon(store, index, buffer, length)
            except ProtocolError as exc:
                lost = exc  # keep the chunks already received: let the workers finish
    if lost is not None:
        raise lost
