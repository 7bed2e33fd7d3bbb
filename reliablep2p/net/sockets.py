"""A socket's reads and writes as the system calls themselves, for the data path.

trio's own socket calls are a trip through its scheduler each, and a chunk's bytes take many;
these try the call first and leave the waiting (`trio.lowlevel.wait_readable` /
`wait_writable`) to the caller, outside any exception handler (no stale context).
"""

from __future__ import annotations

import os

import trio


def try_read(socket: trio.socket.SocketType, buffer: bytearray | memoryview) -> int | None:
    """Bytes read into `buffer` (0 at the end), None if nothing has arrived."""
    try:
        return os.readv(socket.fileno(), [buffer])
    except BlockingIOError:
        return None


def try_write(socket: trio.socket.SocketType, view: memoryview) -> int | None:
    """Bytes written from `view`, None if the socket is full."""
    try:
        return os.write(socket.fileno(), view)
    except BlockingIOError:
        return None


async def recv_into(socket: trio.socket.SocketType, view: memoryview) -> int:
    """`recv_into`, waiting only while nothing has arrived; a checkpoint either way (as
    `TLSStream.receive_into`), so a fast sender cannot hold the loop."""
    await trio.lowlevel.checkpoint_if_cancelled()
    while (count := try_read(socket, view)) is None:
        await trio.lowlevel.wait_readable(socket)
    await trio.lowlevel.cancel_shielded_checkpoint()
    return count
