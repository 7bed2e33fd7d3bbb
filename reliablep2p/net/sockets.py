"""A socket's reads and writes as the system calls themselves, for the data path.

trio's own socket calls are a trip through its scheduler each, and a chunk's bytes take many;
these try the call first and leave the waiting (`trio.lowlevel.wait_readable` /
`wait_writable`) to the caller, outside any exception handler (no stale context).
"""

from __future__ import annotations

import os
import socket as socket_module
import sys

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


async def recv_into(
    socket: trio.socket.SocketType, view: memoryview, low_water: LowWater | None = None
) -> int:
    """`recv_into`, waiting only while nothing has arrived; a checkpoint either way (as
    `TLSStream.receive_into`), so a fast sender cannot hold the loop. With `low_water`, all of
    `view` is sure to come (a frame's rest): the kernel wakes us once a good part of it is in."""
    await trio.lowlevel.checkpoint_if_cancelled()
    if low_water is not None:
        low_water.expect(len(view))
    while (count := try_read(socket, view)) is None:
        if low_water is None:
            await trio.lowlevel.wait_readable(socket)
        else:
            await low_water.wait_readable()
    await trio.lowlevel.cancel_shielded_checkpoint()
    return count


LOW_WATER = 64 * 1024
"""Bytes the kernel lets queue before it wakes a reader of a frame's rest (`SO_RCVLOWAT`): at
100 Mbit/s a wake-up otherwise brings a few KiB, and each costs a scheduler pass, the poll's
system calls and (over TLS) a round of record work. No more: Linux clamps the receive window
to the mark where the receive buffer is under twice it (a new connection's 128 KiB), which
would slow a fast link."""
LOW_WATER_PATIENCE = 0.25
"""Seconds a read waits for that much before it takes what is there: a slow sender (an upload
capped at a few KiB/s) is read as it trickles in, so its link's stall watch sees it move."""
_CAN_LOW_WATER = sys.platform == "linux" and hasattr(socket_module, "SO_RCVLOWAT")
"""Linux's poll honours `SO_RCVLOWAT` on TCP (a wake-up only once that much is queued, or at
the end of the stream, or an error); elsewhere the mark stays at one byte."""


class LowWater:
    """One socket's receive low-water mark, moved only when it changes (a system call each).

    `expect(n)`: at least `n` more bytes are sure to come (the rest of a frame), so the kernel may
    hold the wake-up until some of them are in; `expect(0)`: wake on every byte (a message)."""

    def __init__(self, socket: trio.socket.SocketType) -> None:
        self._socket = socket
        self.mark = 1

    def expect(self, count: int) -> None:
        mark = max(1, min(count, LOW_WATER))
        if mark != self.mark and _CAN_LOW_WATER:
            try:
                self._socket.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVLOWAT, mark)
            except OSError:
                return  # a closed or broken socket: its next read says so
            self.mark = mark

    async def wait_readable(self) -> None:
        """`wait_readable`, taking what is queued after `LOW_WATER_PATIENCE` at a raised mark."""
        if self.mark > 1:
            with trio.move_on_after(LOW_WATER_PATIENCE):
                await trio.lowlevel.wait_readable(self._socket)
                return
            self.expect(0)
        await trio.lowlevel.wait_readable(self._socket)
