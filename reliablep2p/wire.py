"""Frames over a trio Stream: every read under a timeout, every frame under a size cap.

`Channel` is the only place that touches sockets for the protocol; it turns transport trouble
(refused, reset, closed, too slow) into `ProtocolError` subclasses so callers catch one type.
"""

from __future__ import annotations

import contextlib
import errno
import os
import ssl
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar, cast, overload

import trio
from cryptography import x509

from .protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    FrameDecoder,
    Hello,
    Message,
    ProtocolError,
    data_frame_header,
    encode_message,
)
from .protocol import Error as ErrorMessage
from .security import common_name

READ_TIMEOUT = 15.0
"""Seconds a frame may take to arrive, whole. A silent or slow (slowloris) sender is cut off."""

CONNECT_TIMEOUT = 5.0
"""Seconds a TCP connection may take to open."""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds the TLS handshake may take after that: a busy host (hundreds of peers joining at
once) finishes handshakes late, and one cut off would start over from nothing."""
SEND_PIECE = 128 * 1024
"""File bytes are read and sent in pieces of this size (frames stay one chunk long)."""
RECEIVE_SIZE = 256 * 1024
TLS_RECEIVE_SIZE = 1024 * 1024
DATA_HEADER = 5
"""Bytes before a data frame's payload (length and kind): read alone, so the payload is not."""

M = TypeVar("M")


def _why(exc: BaseException) -> str:
    return str(exc) or str(exc.__cause__ or "") or type(exc).__name__


class RemoteError(ProtocolError):
    """The other side answered with an `Error` message."""


class ConnectionLost(ProtocolError):
    """The connection was refused, reset, closed early or timed out."""


class Channel:
    """One framed conversation. Sends are serialized, so two tasks may share a channel."""

    def __init__(self, stream: trio.abc.Stream, *, timeout: float = READ_TIMEOUT) -> None:
        self.stream = stream
        self.timeout = timeout
        self._decoder = FrameDecoder()
        self._send_lock = trio.Lock()
        self.bytes_sent = 0

    @property
    def remote_host(self) -> str:
        """The remote IP address, for naming peers by where they really are."""
        stream = self.stream
        if isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        socket = getattr(stream, "socket", None)
        if socket is None:
            return "127.0.0.1"
        return str(socket.getpeername()[0])

    async def send(self, message: Message) -> None:
        await self._send_bytes(encode_message(message))

    async def send_data(self, data: bytes | bytearray | memoryview) -> None:
        """One data frame: at most one chunk of file bytes."""
        view = memoryview(data)
        position = 0

        async def next_piece(size: int) -> memoryview:
            nonlocal position
            position += size
            return view[position - size : position]

        await self.send_data_from(len(view), next_piece)

    async def send_data_from(
        self, length: int, read: Callable[[int], Awaitable[bytes | memoryview]]
    ) -> None:
        """One data frame of `length` bytes, taken from `read(n)` a piece at a time.

        A chunk is never whole in memory, nor (with TLS) encrypted whole: a peer serving many
        transfers at once stays small.
        """
        header = data_frame_header(length)
        async with self._send_lock:
            with _connection_errors():
                await self.stream.send_all(header)
                left = length
                while left:
                    piece = await read(min(SEND_PIECE, left))
                    if not piece:
                        raise ProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")
                    await self.stream.send_all(piece)
                    left -= len(piece)
            self.bytes_sent += len(header) + length

    async def send_data_sendfile(self, fd: int, offset: int, length: int) -> None:
        """One data frame straight from a file to a plain TCP socket with `os.sendfile`:
        the bytes never pass through Python (over TLS, use `send_data_from`)."""
        assert isinstance(self.stream, trio.SocketStream)
        header = data_frame_header(length)
        socket = self.stream.socket
        async with self._send_lock:
            with _connection_errors():
                await self.stream.send_all(header)
                sent = 0
                while sent < length:
                    await trio.lowlevel.wait_writable(socket)
                    try:
                        count = os.sendfile(socket.fileno(), fd, offset + sent, length - sent)
                    except BlockingIOError:
                        continue
                    if count == 0:
                        raise ProtocolError(ErrorCode.INTERNAL, "the file shrank while being sent")
                    sent += count
            self.bytes_sent += len(header) + length

    async def _send_bytes(self, frame: bytes) -> None:
        async with self._send_lock:
            with _connection_errors():
                await self.stream.send_all(frame)
            self.bytes_sent += len(frame)

    async def receive(self, timeout: float | None = None) -> Message | bytes:
        """The next message or data chunk; raises `ProtocolError` on anything else."""
        limit = self.timeout if timeout is None else timeout
        with trio.move_on_after(limit):
            while (frame := self._decoder.next_frame()) is None:
                await self._fill(RECEIVE_SIZE)
            return frame
        raise ConnectionLost(ErrorCode.TIMEOUT, f"nothing received for {limit:g} s")

    async def receive_data_into(
        self, buffer: bytearray | memoryview, timeout: float | None = None
    ) -> int:
        """The next frame, which must be file data, written into `buffer`; returns its length.

        The payload goes from the socket straight into `buffer` (`recv_into` on plain TCP),
        not through the frame decoder: no copies and no allocation per chunk. A message
        instead (an `Error` included) raises as `receive_data` does.
        """
        limit = self.timeout if timeout is None else timeout
        with trio.move_on_after(limit):
            while (length := self._decoder.data_length()) is None:
                await self._fill(DATA_HEADER)  # no more: the payload is read into `buffer`
            if length < 0:
                await self.receive_data(timeout)  # a message: raises what it says
                raise AssertionError("receive_data returned a message")
            if length > len(buffer):
                raise ProtocolError(ErrorCode.TOO_LARGE, f"data frame of {length} bytes")
            view = memoryview(buffer)
            got = self._decoder.take_data(view[:length])
            while got < length:
                got += await self._read_into(view[got:length])
            return length
        raise ConnectionLost(ErrorCode.TIMEOUT, f"nothing received for {limit:g} s")

    async def _fill(self, max_bytes: int) -> None:
        """Feed the decoder what the stream has (at most `max_bytes`)."""
        with _connection_errors():
            data = await self.stream.receive_some(max_bytes)
        if not data:
            raise ConnectionLost(ErrorCode.INTERNAL, "connection closed by the other side")
        self._decoder.feed(data)

    async def _read_into(self, view: memoryview) -> int:
        """Read what the stream has (at most ``len(view)`` bytes) into `view`."""
        stream = self.stream
        with _connection_errors(tls_failure="TLS failed"):
            if isinstance(stream, trio.SocketStream):
                count = await stream.socket.recv_into(view)
            elif (parts := _fast_tls(stream)) is not None:
                count = await _decrypt_into(parts, view)
            else:
                data = await stream.receive_some(len(view))
                count = len(data)
                view[:count] = data
        if not count:
            raise ConnectionLost(ErrorCode.INTERNAL, "connection closed by the other side")
        return count

    @overload
    async def receive_message(self, expected: type[M], /, *, timeout: float | None = ...) -> M: ...
    @overload
    async def receive_message(
        self, *expected: type[Message], timeout: float | None = ...
    ) -> Message: ...
    async def receive_message(self, *expected: type, timeout: float | None = None) -> object:
        """The next frame, which must be a message of one of the `expected` types.

        An `Error` message from the other side is raised as `RemoteError`.
        """
        frame = await self.receive(timeout)
        if isinstance(frame, ErrorMessage) and ErrorMessage not in expected:
            raise RemoteError(frame.code, frame.message)
        if not isinstance(frame, expected):
            what = "file data" if isinstance(frame, bytes) else type(frame).__name__
            wanted = " or ".join(t.__name__ for t in expected)
            raise ProtocolError(ErrorCode.UNEXPECTED, f"expected {wanted}, got {what}")
        return frame

    async def receive_data(self, timeout: float | None = None) -> bytes:
        frame = await self.receive(timeout)
        if isinstance(frame, ErrorMessage):
            raise RemoteError(frame.code, frame.message)
        if not isinstance(frame, bytes):
            raise ProtocolError(ErrorCode.UNEXPECTED, f"expected file data, got {type(frame)}")
        return frame

    async def send_error(self, code: str, message: str) -> None:
        """Best effort: tell the other side why we are hanging up, without waiting long."""
        with trio.move_on_after(1), contextlib.suppress(ProtocolError):
            await self.send(ErrorMessage(code=code, message=message))

    async def aclose(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()


TLS_FAST_PATH = True
"""Decrypt file bytes with `_decrypt_into` (trio internals) when the stream allows it; if False,
or if trio's internals are not what `_fast_tls` expects, `SSLStream.receive_some` is used."""


@dataclass(frozen=True)
class _TLSParts:
    """The parts of a trio `SSLStream` that `_decrypt_into` works with."""

    stream: trio.SSLStream[trio.SocketStream]
    tls: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO
    send_lock: trio.StrictFIFOLock
    receiving: contextlib.AbstractContextManager[object]
    check_status: Callable[[], None]


def _fast_tls(stream: trio.abc.Stream) -> _TLSParts | None:
    """`stream`'s TLS internals, if `_decrypt_into` may use them now; None: use the public API.

    Checked with trio 0.35.0 (the attributes are the same from 0.22 on). Any attribute that is
    missing or of another type, or a server's session tickets still held back (trio's
    `_delayed_outgoing`, sent with the first write), means the public path.
    """
    if not TLS_FAST_PATH or not isinstance(stream, trio.SSLStream):
        return None
    if not isinstance(stream.transport_stream, trio.SocketStream):
        return None
    state = vars(stream)
    tls, incoming, outgoing = (
        state.get("_ssl_object"),
        state.get("_incoming"),
        state.get("_outgoing"),
    )
    send_lock, receiving = state.get("_inner_send_lock"), state.get("_outer_recv_conflict_detector")
    check_status = getattr(stream, "_check_status", None)
    if not (
        isinstance(tls, ssl.SSLObject)
        and isinstance(incoming, ssl.MemoryBIO)
        and isinstance(outgoing, ssl.MemoryBIO)
        and isinstance(send_lock, trio.StrictFIFOLock)
        and hasattr(receiving, "__enter__")
        and hasattr(receiving, "__exit__")
        and callable(check_status)
        and state.get("_delayed_outgoing") is None
    ):
        return None
    receiving = cast(contextlib.AbstractContextManager[object], receiving)
    return _TLSParts(stream, tls, incoming, outgoing, send_lock, receiving, check_status)


async def _decrypt_into(parts: _TLSParts, view: memoryview) -> int:
    """Decrypt file bytes into `view` with the stream's own `SSLObject` (trio internals).

    `SSLStream.receive_some` passes through the scheduler once per 16 KiB TLS record and reads
    the socket 64 KiB at a time, which held TLS downloads to about 200 MiB/s. Here every record
    already buffered is decrypted in one go and the socket is read a megabyte at a time.

    It keeps trio's rules (`SSLStream._retry`): the stream's receive conflict detector is held
    (a second reader raises `BusyResourceError`, as with `receive_some`); bytes TLS itself must
    send (a TLS 1.3 key update, an alert) are taken from the outgoing BIO and then sent under
    the stream's strict-FIFO send lock, so they reach the wire in order with a concurrent
    `send_all`. TLS 1.3 (the only version our contexts allow) never needs to read in order to
    write, so no sender competes for the socket's receive side. Returns 0 on the other side's
    close_notify or at end of stream (the caller's `ConnectionLost`); an `ssl.SSLError` (a
    corrupt record) and trio's errors for a closed or broken stream propagate as from
    `receive_some`.
    """
    tls, stream = parts.tls, parts.stream
    with parts.receiving:
        parts.check_status()
        while True:
            count, ended = 0, False
            with contextlib.suppress(ssl.SSLWantReadError):
                while count < len(view):
                    read = cast(int, tls.read(len(view) - count, view[count:]))  # int with a buffer
                    if not read:
                        ended = True  # the other side closed the TLS session (close_notify)
                        break
                    count += read
            if parts.outgoing.pending:  # TLS must answer something: in line with any sender
                to_send = parts.outgoing.read()
                async with parts.send_lock:
                    await stream.transport_stream.send_all(to_send)
            if count or ended:
                return count
            received = await _receive_records(stream)
            if not received:
                return 0  # the socket closed without close_notify: truncated, never a whole file
            parts.incoming.write(received)


_record_buffers: weakref.WeakKeyDictionary[trio.SSLStream[trio.SocketStream], bytearray] = (
    weakref.WeakKeyDictionary()
)
"""One reused `TLS_RECEIVE_SIZE` buffer per stream that `_decrypt_into` reads records into."""


async def _receive_records(stream: trio.SSLStream[trio.SocketStream]) -> memoryview:
    """What the socket has (up to `TLS_RECEIVE_SIZE`), read into the stream's reused buffer.

    `SocketStream.receive_some` would allocate a new megabyte `bytes` per read (and copy it
    again when shrinking it to what arrived). Errors are trio's, as `receive_some` raises them.
    Only `_decrypt_into` calls it, inside the stream's receive conflict detector: one reader.
    """
    buffer = _record_buffers.get(stream)
    if buffer is None:
        buffer = _record_buffers[stream] = bytearray(TLS_RECEIVE_SIZE)
    try:
        count = await stream.transport_stream.socket.recv_into(buffer)
    except OSError as exc:
        if exc.errno in (errno.EBADF, errno.ENOTSOCK):
            raise trio.ClosedResourceError("this socket was already closed") from None
        raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc
    return memoryview(buffer)[:count]


async def secure(
    stream: trio.SocketStream, context: ssl.SSLContext, *, server_side: bool
) -> trio.SSLStream[trio.SocketStream]:
    """TLS over `stream`, handshake done; a failed handshake is `ConnectionLost(FORBIDDEN)`."""
    tls = trio.SSLStream(stream, context, server_side=server_side)
    try:
        await tls.do_handshake()
    except (trio.BrokenResourceError, ssl.SSLError) as exc:
        await stream.aclose()
        cause = exc.__cause__ or exc
        reason = getattr(cause, "reason", None) or str(cause) or "handshake failed"
        raise ConnectionLost(ErrorCode.FORBIDDEN, f"TLS refused: {reason}") from None
    return tls


def certificate_name(stream: trio.SSLStream[trio.SocketStream]) -> str:
    """The verified name in the other end's certificate."""
    der = stream.getpeercert(binary_form=True)
    if not der:
        raise ConnectionLost(ErrorCode.FORBIDDEN, "the other end has no certificate")
    return common_name(x509.load_der_x509_certificate(der).subject)


@contextlib.contextmanager
def _connection_errors(*, tls_failure: str = "connection lost") -> Iterator[None]:
    """Turn the ways a stream breaks (trio's errors, `OSError`) into one `ConnectionLost`.

    `tls_failure` names an `ssl.SSLError` (a corrupt record) where telling it apart helps.
    """
    try:
        yield
    except ssl.SSLError as exc:
        raise ConnectionLost(ErrorCode.INTERNAL, f"{tls_failure}: {_why(exc)}") from None
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        raise ConnectionLost(ErrorCode.INTERNAL, f"connection lost: {_why(exc)}") from None


@contextlib.contextmanager
def first_protocol_error() -> Iterator[None]:
    """Let a `ProtocolError` raised inside a nursery surface as itself, not in a group.

    trio wraps task errors in `ExceptionGroup`s; for a conversation (a session with its reader
    and keepalive tasks) the first protocol error is the whole story, and callers catch it by
    type. Groups holding anything else are left alone.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        _, rest = group.split(trio.Cancelled)
        leaves = list(_leaves(rest)) if rest is not None else []
        if leaves and all(isinstance(leaf, ProtocolError) for leaf in leaves):
            raise leaves[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


async def open_channel(
    host: str,
    port: int,
    *,
    name: str,
    listen_port: int,
    timeout: float = READ_TIMEOUT,
    tls: ssl.SSLContext | None = None,
    expect: str | None = None,
) -> Channel:
    """Connect to a node and introduce ourselves with `Hello`.

    With `tls`, the link is TLS with certificates checked on both ends, and the other end's
    certificate must name `expect` (if given): nobody can pose as another player.
    """
    stream: trio.abc.Stream
    try:
        with trio.fail_after(CONNECT_TIMEOUT):
            stream = await trio.open_tcp_stream(host, port)
    except trio.TooSlowError:
        raise ConnectionLost(ErrorCode.TIMEOUT, f"{host}:{port} did not answer") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConnectionLost(ErrorCode.INTERNAL, f"cannot reach {host}:{port}: {reason}") from None
    if tls is not None:
        tcp = stream
        with trio.move_on_after(HANDSHAKE_TIMEOUT):
            stream = await secure(tcp, tls, server_side=False)
        if stream is tcp:
            await tcp.aclose()
            raise ConnectionLost(ErrorCode.TIMEOUT, f"{host}:{port} did not finish the handshake")
    if expect is not None and isinstance(stream, trio.SSLStream):
        who = certificate_name(stream)
        if who != expect:
            await stream.aclose()
            raise ConnectionLost(
                ErrorCode.FORBIDDEN, f"{host}:{port} is {who}, not {expect} as expected"
            )
    channel = Channel(stream, timeout=timeout)
    try:
        await channel.send(Hello(version=PROTOCOL_VERSION, name=name, port=listen_port))
    except BaseException:
        await channel.aclose()
        raise
    return channel
