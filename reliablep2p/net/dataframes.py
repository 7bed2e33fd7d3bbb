"""The data-frame half of a channel: file bytes out as frames, and how a stream's breaking is
told (`ConnectionLost`, in plain words).

A data frame is one chunk of file bytes at most, sent in one call where it can be (over TLS,
header and payload in one `send_parts`), or straight from the file with `sendfile`. `Channel`
(`channel.py`) is the whole conversation; this is split out only to keep each part readable.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Awaitable, Callable, Iterator

import trio

from ..proto import (
    ErrorCode,
    LocalProtocolError,
    Message,
    ProtocolError,
    data_frame_header,
    encode_message,
)
from ..storage.portable import read_into, sendfile_refused, sendfile_works
from .tls import TLSStream

SEND_PIECE = 128 * 1024
"""File bytes are read and sent in pieces of this size (frames stay one chunk long)."""


def shrank() -> LocalProtocolError:
    return LocalProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")


def why_broken(exc: BaseException) -> str:
    """Plain words for how a stream broke: never raw SSL text (TLS failures by their kind)."""
    tls = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(tls, ssl.SSLEOFError):
        return "the other side hung up mid-stream"
    if isinstance(tls, ssl.SSLError):
        return f"the encrypted stream was damaged ({tls.reason or 'TLS error'})".lower()
    if isinstance(exc, trio.BrokenResourceError) and isinstance(exc.__cause__, OSError):
        exc = exc.__cause__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or str(exc.__cause__ or "") or type(exc).__name__


class ConnectionLost(ProtocolError):
    """The connection was refused, reset, closed early or timed out.

    A call that could not be made also says where it went (`address`) and why, in a few words
    without the address (`cause`; `detail` is the whole sentence): a program that names the
    host its own way ("the database peer at ...") words it from those, not from `detail`.
    """

    def __init__(
        self, code: str, detail: str, *, address: tuple[str, int] | None = None, cause: str = ""
    ) -> None:
        super().__init__(code, detail)
        self.address = address
        self.cause = cause or detail


@contextlib.contextmanager
def connection_errors(*, tls_failure: str = "connection lost") -> Iterator[None]:
    """Turn the ways a stream breaks (trio's errors, `OSError`) into one `ConnectionLost`.

    `tls_failure` names an `ssl.SSLError` (a corrupt record) where telling it apart helps.
    """
    try:
        yield
    except ssl.SSLError as exc:
        raise ConnectionLost(ErrorCode.INTERNAL, f"{tls_failure}: {why_broken(exc)}") from None
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        raise ConnectionLost(ErrorCode.INTERNAL, f"connection lost: {why_broken(exc)}") from None


class DataFrameSender:
    """`Channel`'s sends of data frames; it owns the stream, the send lock and the count."""

    stream: trio.abc.Stream
    _send_lock: trio.Lock
    bytes_sent: int

    async def send_data(
        self, data: bytes | bytearray | memoryview, *, before: Message | None = None
    ) -> None:
        """One data frame: at most one chunk of file bytes (after the message `before`, if any,
        in the same write: nothing can come between them), in one call: over TLS, sending it
        piece by piece cost more in locks and scheduler passes than encrypting it."""
        view = memoryview(data)
        header = (encode_message(before) if before else b"") + data_frame_header(len(view))
        async with self._send_lock:
            with connection_errors():
                if isinstance(self.stream, TLSStream):
                    await self.stream.send_parts([header, view])
                else:
                    await self.stream.send_all(header)
                    await self.stream.send_all(view)
            self.bytes_sent += len(header) + len(view)

    async def send_data_from(
        self,
        length: int,
        read: Callable[[int], Awaitable[bytes | memoryview]],
        *,
        before: Message | None = None,
    ) -> None:
        """One data frame of `length` bytes, taken from `read(n)` a piece at a time.

        A chunk is never whole in memory, nor (with TLS) encrypted whole: a peer serving many
        transfers at once stays small.
        """
        header = (encode_message(before) if before else b"") + data_frame_header(length)
        async with self._send_lock:
            with connection_errors():
                await self.stream.send_all(header)
                left = length
                while left:
                    piece = await read(min(SEND_PIECE, left))
                    if not piece:
                        raise shrank()
                    await self.stream.send_all(piece)
                    left -= len(piece)
            self.bytes_sent += len(header) + length

    async def send_data_sendfile(
        self, fd: int, offset: int, length: int, *, before: Message | None = None
    ) -> None:
        """One data frame straight from a file to a plain TCP socket with `os.sendfile`:
        the bytes never pass through Python (over TLS, use `send_data_from`). Where sendfile
        is missing or refused, the rest is read and sent in pieces."""
        assert isinstance(self.stream, trio.SocketStream)
        header = (encode_message(before) if before else b"") + data_frame_header(length)
        socket = self.stream.socket
        async with self._send_lock:
            with connection_errors():
                await self.stream.send_all(header)
                sent = 0
                while sent < length and sendfile_works():
                    try:  # first, then wait only if the socket is full (each wait is a pass)
                        count = os.sendfile(socket.fileno(), fd, offset + sent, length - sent)
                    except BlockingIOError:
                        count = -1
                    except OSError as exc:
                        if not sendfile_refused(exc):
                            raise
                        break
                    if count < 0:
                        await trio.lowlevel.wait_writable(socket)
                        continue
                    if count == 0:
                        raise shrank()
                    sent += count
                if sent < length:
                    await self._send_read(fd, offset + sent, length - sent)
            self.bytes_sent += len(header) + length

    async def _send_read(self, fd: int, offset: int, length: int) -> None:
        """Send `length` bytes of the file from `offset`, read a piece at a time."""
        buffer = memoryview(bytearray(min(SEND_PIECE, length)))
        while length:
            piece = buffer[: min(SEND_PIECE, length)]
            count = await trio.to_thread.run_sync(read_into, fd, piece, offset)
            if count < len(piece):
                raise shrank()
            await self.stream.send_all(piece)
            offset += count
            length -= count
