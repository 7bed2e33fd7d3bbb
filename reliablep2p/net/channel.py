"""Frames over a trio Stream: every read under a timeout, every frame under a size cap.

`Channel` is the only place that touches sockets for the protocol; it turns transport trouble
(refused, reset, closed, too slow) into `ProtocolError` subclasses so callers catch one type.
A channel is an async context manager: ``async with await open_channel(...) as channel:``
closes it however the conversation ends.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import ssl
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import trio

from ..proto import (
    PROTOCOL_VERSION,
    ErrorCode,
    FrameDecoder,
    Hello,
    Message,
    Ping,
    ProtocolError,
    RemoteProtocolError,
    encode_message,
)
from ..proto import Error as ErrorMessage
from .dataframes import ConnectionLost, DataFrameSender, connection_errors
from .identity import common_name
from .sockets import LowWater, recv_into
from .tls import TLSStream

READ_TIMEOUT = 15.0
"""Seconds a frame may take to arrive, whole. A silent or slow (slowloris) sender is cut off."""

CONNECT_TIMEOUT = 5.0
"""Seconds a TCP connection may take to open."""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds the TLS handshake may take after that: a busy host (hundreds of peers joining at
once) finishes handshakes late, and one cut off would start over from nothing."""
DATABASE_HANDSHAKE_TIMEOUT = 60.0
"""...and with the database peer, which a whole LAN party joins at once: it works through
thousands of handshakes, and a player that gives up and calls again only adds one more (the
same allowance for its `welcome`: the host's machine took the connection, so it is there). At
30 s, a 2,000-player TLS storm on a busy machine gave up 1,395 times and never converged."""
RECEIVE_SIZE = 256 * 1024
IDLE_SLACK = 8
"""With `idle`, a read moves the silence deadline only once it would move by more than this
part of the timeout (a silence is then cut after 7/8 to all of it): each move is a trip
through trio's deadline heap, and a chunk takes many reads."""
PING_INTERVAL = 5.0
"""A session side that has sent nothing for this long sends `Ping`."""
SESSION_TIMEOUT = 20.0
"""A session that hears nothing (not even `Pong`) for this long is dead."""
DATA_HEADER = 5
"""Bytes before a data frame's payload (length and kind): read alone, so the payload is not."""
LOOKAHEAD = 64
"""Bytes an exact read (`receive(exact=True)`) takes at least: a `chunk` message and the header
of the data frame after it, and a few payload bytes (moved into the chunk's buffer)."""

M = TypeVar("M")
BROKEN = (ssl.SSLError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)
"""What `connection_errors` turns into `ConnectionLost`: caught first, so that the usual
send or read enters no context manager (one per message, on both ends of every session)."""


class RemoteError(RemoteProtocolError):
    """The other side answered with an `Error` message (`speaks`: its version, on `version`)."""

    def __init__(self, code: str, detail: str, *, speaks: int = 0) -> None:
        super().__init__(code, detail)
        self.speaks = speaks


class Channel(DataFrameSender):
    """One framed conversation. Sends are serialized, so two tasks may share a channel."""

    def __init__(self, stream: trio.abc.Stream, *, timeout: float = READ_TIMEOUT) -> None:
        self.stream = stream
        self.timeout = timeout
        self._decoder = FrameDecoder()
        self._send_lock = trio.Lock()
        self.bytes_sent = 0
        self._low_water = LowWater(stream.socket) if isinstance(stream, trio.SocketStream) else None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def remote_host(self) -> str:
        """The remote IP address, for naming peers by where they really are."""
        stream = self.stream
        if isinstance(stream, TLSStream):
            stream = stream.transport_stream
        socket = getattr(stream, "socket", None)
        if socket is None:
            return "127.0.0.1"
        return str(socket.getpeername()[0])

    def send(self, message: Message, *, frame: bytes | None = None) -> Coroutine[Any, Any, None]:
        """Awaited as ``await channel.send(message)``; `frame`: `message` encoded already (a
        push's bytes, shared by many sessions). A plain function handing back the send's own
        coroutine: an `async def` here was one more coroutine for every message sent."""
        return self._send_bytes(encode_message(message) if frame is None else frame)

    def send_many(
        self, messages: Sequence[tuple[Message, bytes | None]]
    ) -> Coroutine[Any, Any, None]:
        """Several messages (each with its frame, if encoded already) in one write: one TLS
        record, one system call and one wake-up at the other end, not one each."""
        frames = [encode_message(m) if frame is None else frame for m, frame in messages]
        return self._send_bytes(b"".join(frames))

    async def _send_bytes(self, frame: bytes) -> None:
        lock = self._send_lock
        if lock.locked():
            await lock.acquire()
        else:  # nobody is sending: the send itself is the checkpoint, not the lock as well
            lock.acquire_nowait()
        try:
            await self.stream.send_all(frame)
        except BROKEN:
            with connection_errors():
                raise
        finally:
            lock.release()
        self.bytes_sent += len(frame)

    async def receive(
        self, timeout: float | None = None, *, exact: bool = False
    ) -> Message | bytes:
        """The next message or data chunk; raises `ProtocolError` on anything else.

        With `exact`, at most `LOOKAHEAD` bytes past that frame are read: a data frame after a
        message (a source link's `chunk`) stays (nearly) whole on the stream for
        `receive_data_into`, and the message and the frame's header come in one read.
        """
        if self._decoder.missing() == 0:  # read with the one before (a push's messages come
            await trio.lowlevel.checkpoint_if_cancelled()  # in one read): no deadline to set,
            frame = self._decoder.next_frame()  # and taken only once not cancelled
            assert frame is not None
            return frame
        limit = self.timeout if timeout is None else timeout
        if limit == math.inf:  # the caller watches the time (a source link): no scope of ours
            return await self._next_frame(exact)
        with trio.move_on_after(limit):
            return await self._next_frame(exact)
        raise ConnectionLost(ErrorCode.TIMEOUT, f"nothing received for {limit:g} s")

    async def _next_frame(self, exact: bool) -> Message | bytes:
        while (frame := self._decoder.next_frame()) is None:
            await self._fill(max(self._decoder.missing(), LOOKAHEAD) if exact else RECEIVE_SIZE)
        return frame

    async def receive_data_into(
        self, buffer: bytearray | memoryview, timeout: float | None = None, *, idle: bool = False
    ) -> int:
        """The next frame, which must be file data, written into `buffer`; returns its length.

        The payload goes from the socket straight into `buffer` (`recv_into` on plain TCP),
        not through the frame decoder: no copies and no allocation per chunk. A message
        instead (an `Error` included) raises as `receive_data` does. With `idle`, `timeout`
        bounds each silence rather than the whole frame: a slow sender (a capped upload) that
        keeps sending is never cut off, a silent one is.
        """
        limit = self.timeout if timeout is None else timeout
        slack = limit / IDLE_SLACK
        with trio.move_on_after(limit) as scope:
            while (length := self._decoder.data_length()) is None:
                await self._fill(DATA_HEADER)  # no more: the payload is read into `buffer`
            if length < 0:
                await self.receive_data(timeout)  # a message: raises what it says
                raise AssertionError("receive_data returned a message")
            if length > len(buffer):
                raise RemoteProtocolError(ErrorCode.TOO_LARGE, f"data frame of {length} bytes")
            view = memoryview(buffer)
            got = self._decoder.take_data(view[:length])
            try:
                while got < length:
                    got += await self._read_into(view[got:length])
                    if idle and (now := trio.current_time()) + limit - scope.deadline > slack:
                        scope.deadline = now + limit  # moved by a good part, not every read
            finally:
                if self._low_water is not None:  # TLS puts its own back at the next message
                    self._low_water.expect(0)
            return length
        raise ConnectionLost(ErrorCode.TIMEOUT, f"nothing received for {limit:g} s")

    async def _fill(self, max_bytes: int) -> None:
        """Feed the decoder what the stream has (at most `max_bytes`)."""
        try:
            data = await self.stream.receive_some(max_bytes)
        except BROKEN:
            with connection_errors():
                raise
        if not data:
            raise ConnectionLost(ErrorCode.INTERNAL, "connection closed by the other side")
        self._decoder.feed(data)

    async def _read_into(self, view: memoryview) -> int:
        """Read what the stream has (at most ``len(view)`` bytes, all of which are coming: a
        frame's rest) into `view`."""
        stream = self.stream
        try:  # no context manager per read: this runs many times a chunk
            if isinstance(stream, TLSStream):
                count = await stream.receive_into(view, coming=True)
            elif isinstance(stream, trio.SocketStream):
                count = await recv_into(stream.socket, view, self._low_water)
            else:
                data = await stream.receive_some(len(view))
                count = len(data)
                view[:count] = data
        except BROKEN:
            with connection_errors(tls_failure="TLS failed"):
                raise
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
            raise RemoteError(frame.code, frame.message, speaks=frame.speaks)
        if not isinstance(frame, expected):
            what = "file data" if isinstance(frame, bytes) else type(frame).__name__
            wanted = " or ".join(t.__name__ for t in expected)
            raise RemoteProtocolError(ErrorCode.UNEXPECTED, f"expected {wanted}, got {what}")
        return frame

    async def receive_data(self, timeout: float | None = None) -> bytes:
        frame = await self.receive(timeout)
        if isinstance(frame, ErrorMessage):
            raise RemoteError(frame.code, frame.message, speaks=frame.speaks)
        if not isinstance(frame, bytes):
            raise RemoteProtocolError(
                ErrorCode.UNEXPECTED, f"expected file data, got {type(frame)}"
            )
        return frame

    async def send_error(self, code: str, message: str, *, speaks: int = 0) -> None:
        """Best effort: tell the other side why we are hanging up, without waiting long."""
        with trio.move_on_after(1), contextlib.suppress(ProtocolError):
            await self.send(ErrorMessage(code=code, message=message, speaks=speaks))

    async def refuse(self, code: str, message: str, *, speaks: int = 0) -> None:
        """Send an error, then read and drop what the other side still sends until it hangs
        up (1 s at most): closing with bytes unread makes TCP reset the connection, and a
        reset can overtake our error, which the other side would then never read."""
        await self.send_error(code, message, speaks=speaks)
        with trio.move_on_after(1), contextlib.suppress(ProtocolError):
            while True:
                await self._fill(RECEIVE_SIZE)
                self._decoder = FrameDecoder()  # dropped: nothing it says is read now

    async def aclose(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()


async def secure(
    stream: trio.SocketStream,
    context: ssl.SSLContext,
    *,
    server_side: bool,
    session: ssl.SSLSession | None = None,
) -> TLSStream:
    """TLS over `stream`, handshake done (resuming `session`, if given and the server still
    takes it); a failed handshake is `ConnectionLost(FORBIDDEN)`."""
    tls = TLSStream(stream, context, server_side=server_side, session=session)
    try:
        await tls.do_handshake()
    except BaseException as exc:  # cancelled too (a probe's deadline): no socket left open
        await trio.aclose_forcefully(tls)
        if not isinstance(exc, trio.BrokenResourceError):
            raise
        cause = exc.__cause__ or exc
        reason = getattr(cause, "reason", None) or str(cause) or "handshake failed"
        raise ConnectionLost(ErrorCode.FORBIDDEN, f"TLS refused: {reason}") from None
    return tls


def certificate_name(stream: trio.abc.Stream) -> str:
    """The verified name in the other end's certificate."""
    der = stream.getpeercert(binary_form=True) if isinstance(stream, TLSStream) else None
    if not der:
        raise ConnectionLost(ErrorCode.FORBIDDEN, "the other end has no certificate")
    from cryptography import x509  # here: a player on an --insecure-lan network never needs it

    return common_name(x509.load_der_x509_certificate(der).subject)


REFUSED = "connection refused"
"""`ConnectionLost.cause` when nothing listens at the address."""
NO_ANSWER = "did not answer"
"""...and when nothing came back in time."""


def unreachable(host: str, port: int, exc: OSError) -> ConnectionLost:
    """Why a connection to `host:port` failed, as a player reads it. trio says "all attempts
    to connect to A failed" and keeps each attempt's error in the cause: those say what
    happened."""
    tried = exc.__cause__
    errors = [e for e in tried.exceptions if isinstance(e, OSError)] if isinstance(
        tried, BaseExceptionGroup) else []  # fmt: skip
    codes = [e.errno for e in errors or [exc] if e.errno]
    where = f"{host}:{port}"
    if codes and all(code == errno.ECONNREFUSED for code in codes):
        cause, detail = REFUSED, f"nothing answers at {where} ({REFUSED})"
    else:
        cause = os.strerror(codes[0]) if codes else str(exc.strerror or exc)
        detail = f"cannot reach {where}: {cause}"
    return ConnectionLost(ErrorCode.INTERNAL, detail, address=(host, port), cause=cause)


async def open_channel(
    host: str,
    port: int,
    *,
    name: str,
    listen_port: int,
    timeout: float = READ_TIMEOUT,
    tls: ssl.SSLContext | None = None,
    expect: str | None = None,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
    session: ssl.SSLSession | None = None,
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
        raise ConnectionLost(ErrorCode.TIMEOUT, f"{host}:{port} {NO_ANSWER}", address=(host, port),
                             cause=NO_ANSWER) from None  # fmt: skip
    except OSError as exc:
        raise unreachable(host, port, exc) from None
    if tls is not None:
        tcp = stream
        with trio.move_on_after(handshake_timeout):
            stream = await secure(tcp, tls, server_side=False, session=session)
        if stream is tcp:
            await tcp.aclose()
            raise ConnectionLost(ErrorCode.TIMEOUT, f"{host}:{port} did not finish the handshake")
    if expect is not None and isinstance(stream, TLSStream):
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


async def keep_alive(channel: Channel) -> None:
    """Send `Ping` whenever a session has been quiet for `PING_INTERVAL`."""
    while True:
        sent = channel.bytes_sent
        await trio.sleep(PING_INTERVAL)
        if channel.bytes_sent == sent:
            await channel.send(Ping())
