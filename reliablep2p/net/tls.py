"""TLS 1.3 over a trio `SocketStream`, on public APIs only (`SSLContext.wrap_bio`, `MemoryBIO`).

Why not `trio.SSLStream`: its `receive_some` passes through the scheduler once per 16 KiB record
and reads the socket 64 KiB at a time, which held TLS downloads to about 200 MiB/s; going faster
through its private attributes breaks whenever trio renames them. `TLSStream.receive_into`
decrypts every record already buffered straight into the caller's buffer and reads the socket a
megabyte at a time into one buffer the stream owns.

It relies on TLS 1.3 (all `identity.py` allows; the handshake refuses any other version): no
renegotiation, so a write never needs a read and `send_all` never touches the receive side.
Bytes TLS writes while receiving (an alert; OpenSSL answers a key update with its next write)
go out under the `StrictFIFOLock` that `send_all` holds, so records reach the wire in order.
"""

from __future__ import annotations

import contextlib
import errno
import ssl
from collections.abc import Callable, Sequence
from typing import Literal, cast

import trio

from .sockets import LowWater, try_read, try_write

RECEIVE_SIZE = 1024 * 1024
"""Bytes read from the socket at once, at most: many records per read, decrypted in one go."""
RECEIVE_START = 64 * 1024
"""...and at first (four full records): the read buffer grows (x4) only while reads fill it, so
a session that carries small messages holds 64 KiB, not a megabyte (a host of 2,000 sessions
held 2 GiB)."""
SEND_PIECE = 256 * 1024
"""`send_all` encrypts and sends this much at a time, so a large write is never copied whole."""
RECEIVE_SOME_SIZE = 64 * 1024  # receive_some() without a size
RECORD_ROOM = 2**14 + 256 + 5
"""The largest TLS 1.3 record on the wire: what TLS may hold of the next one, half read, when a
read has to wait. The socket is sure to bring a frame's rest less this (its low-water mark)."""


class _OneAtATime:
    """Raises `trio.BusyResourceError` for a second task doing the same thing at once."""

    def __init__(self, doing: str) -> None:
        self._doing = doing
        self._busy = False

    def __enter__(self) -> None:
        if self._busy:
            raise trio.BusyResourceError(f"another task is already {self._doing} on this stream")
        self._busy = True

    def __exit__(self, *exc_info: object) -> None:
        self._busy = False


class TLSStream(trio.abc.Stream):
    """A TLS 1.3 stream over a `trio.SocketStream`; see the module docstring for why it exists.

    One task may receive while another sends (full duplex); two receivers, or two senders, at
    once raise `trio.BusyResourceError`. Every receive and send is a checkpoint. TLS trouble (a
    corrupt record, an alert, a truncated stream) and socket errors raise
    `trio.BrokenResourceError`; any use after `aclose` raises `trio.ClosedResourceError`.
    """

    def __init__(
        self,
        transport_stream: trio.SocketStream,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        session: ssl.SSLSession | None = None,
    ) -> None:
        self.transport_stream = transport_stream
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, session=session
        )
        self._buffer = bytearray(RECEIVE_START)  # the socket is read into this, always
        self._view = memoryview(self._buffer)
        self._low_water = LowWater(transport_stream.socket)
        self._send_lock = trio.StrictFIFOLock()
        self._handshake_lock = trio.Lock()
        self._receiving = _OneAtATime("receiving")
        self._sending = _OneAtATime("sending")
        self._handshaken = False
        self._tickets = b""  # a server's session tickets, held back until its first send
        self._ended = False  # the other side's close_notify arrived
        self._broken: BaseException | None = None
        self._closed = False
        self.on_close: Callable[[ssl.SSLSession], None] | None = None
        """Handed the session to resume (`session`) when the stream closes, if it has one."""

    def _check(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("this TLS stream was closed")
        if self._broken is not None:
            raise trio.BrokenResourceError(f"TLS stream broken: {self._broken!r}") from self._broken

    async def do_handshake(self) -> None:
        """Run the TLS handshake, once; later calls (or concurrent ones) just wait for it.

        It also runs by itself before the first send or receive. A failed or cancelled handshake
        leaves the stream broken.
        """
        async with self._handshake_lock:
            self._check()
            if self._handshaken:
                return
            try:
                await self._handshake()
            except BaseException as exc:
                self._broken = self._broken or exc
                raise
            self._handshaken = True

    async def _handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                self._broken = exc
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    async with self._send_lock:
                        await self._flush()  # best effort: the alert says why, not a bare reset
                raise trio.BrokenResourceError(f"TLS handshake failed: {exc}") from exc
            else:
                if self._tls.version() != "TLSv1.3":
                    raise trio.BrokenResourceError(f"TLS 1.3 needed, not {self._tls.version()}")
                if self._tls.server_side:
                    # OpenSSL writes its TLS 1.3 session tickets during the server's last
                    # handshake step. Sent now, they reach a client that may never read (it only
                    # sends, then closes with them unread, and its kernel answers with a reset
                    # that can destroy data still in flight), and a send that blocks here can
                    # deadlock against a client already sending (trio issue #819, OpenSSL
                    # #7948). They cannot be dropped either: records are numbered. So, as trio
                    # does, they wait and go out just before whatever this side sends first.
                    self._tickets = self._outgoing.read()
                else:
                    async with self._send_lock:
                        await self._flush()  # the client's Finished
                return
            async with self._send_lock:
                await self._flush()
            await self._receive_records()

    @property
    def session(self) -> ssl.SSLSession | None:
        """A client's TLS 1.3 session to resume with next time (a ticket the server sent, read
        with its first reply), else None."""
        session = None if self._tls.server_side else self._tls.session
        return session if session is not None and session.has_ticket else None

    @property
    def resumed(self) -> bool:
        """The handshake resumed an earlier session (no certificates sent; the other end's
        is the one verified when that session began)."""
        return self._tls.session_reused

    def getpeercert(self, binary_form: Literal[True] = True) -> bytes | None:
        """The other end's certificate (DER), as `trio.SSLStream.getpeercert(True)` gives it."""
        return self._tls.getpeercert(binary_form)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to `max_bytes` decrypted bytes; b"" at the other side's close_notify."""
        # at most RECEIVE_SOME_SIZE: a caller asking for more (a message channel asks 256 KiB
        # for every small message) gets what fits, without a big zeroed buffer each time
        buffer = bytearray(min(RECEIVE_SOME_SIZE, max_bytes or RECEIVE_SOME_SIZE))
        count = await self.receive_into(buffer)
        return bytes(memoryview(buffer)[:count])

    async def receive_into(self, buffer: memoryview | bytearray, *, coming: bool = False) -> int:
        """Decrypt into `buffer`; the count, or 0 at the other side's close_notify.

        `coming`: the other side is sure to send all of `buffer` (a frame's rest), so the kernel
        may hold the wake-up until a good part of it is queued (`sockets.LowWater`); else it
        wakes on every byte.

        Every record already received is decrypted in one go, straight into `buffer`; only when
        none is, the socket is read. A socket that ends without close_notify (a truncated
        stream) raises `trio.BrokenResourceError`, never 0: an end of stream is a clean end only
        if TLS says so. Records decrypted before a failure are returned first; the failure is
        raised by the next call.
        """
        view = memoryview(buffer).cast("B")
        if not view:
            raise ValueError("the buffer must not be empty")
        with self._receiving:
            await trio.lowlevel.checkpoint_if_cancelled()
            self._check()
            yielded = not self._handshaken
            if yielded:
                await self.do_handshake()
            self._low_water.expect(len(view) - RECORD_ROOM if coming else 0)
            count = 0
            while not self._ended:
                count = self._decrypt(view)
                if self._outgoing.pending:
                    yielded = await self._answer() or yielded
                if count:
                    break
                self._check()  # a record that failed with nothing before it
                if not self._ended:
                    yielded = await self._receive_records() or yielded
            if not yielded:  # decrypted data is in `buffer`: this checkpoint must not cancel
                await trio.lowlevel.cancel_shielded_checkpoint()
            return count

    def _decrypt(self, view: memoryview) -> int:
        """Decrypt what the incoming BIO holds into `view`, as much as fits (no awaits)."""
        count, size = 0, len(view)
        read = cast("Callable[[int, memoryview], int]", self._tls.read)  # a count, given a buffer
        try:
            while count < size:
                got = read(size - count, view[count:])
                if not got:
                    self._ended = True  # close_notify
                    break
                count += got
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:  # a corrupt record, an alert, EOF without close_notify
            self._broken = self._broken or exc
        return count

    async def _answer(self) -> bool:
        """Send what TLS wrote while receiving; whether we awaited.

        If a sender holds the send lock, it sends these bytes itself before it lets go (see
        `_flush`), so a receiver never waits on a sender blocked by the other side's backpressure.
        """
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            return False
        failed = self._broken is not None  # then it is an alert: best effort, TLS's error wins
        try:
            await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            if not failed:
                raise
        finally:
            self._send_lock.release()
        return True

    async def _receive_records(self) -> bool:
        """Read what the socket has into the stream's own buffer, and hand it to TLS; whether
        it had to wait (a checkpoint) for the socket to have something."""
        waited = False
        while (got := self._read_socket()) is None:
            await self._low_water.wait_readable()
            waited = True
        if got:
            self._incoming.write(self._view[:got])
            if got == len(self._buffer) < RECEIVE_SIZE:  # a bulk transfer: read more at once
                self._buffer = bytearray(min(4 * got, RECEIVE_SIZE))
                self._view = memoryview(self._buffer)
        else:
            self._incoming.write_eof()  # TLS tells a clean end from a truncation
        return waited

    def _read_socket(self) -> int | None:
        """The system call itself (trio's `recv_into` is a trip through the scheduler): the
        count read into our buffer, None if nothing has arrived."""
        try:
            return try_read(self.transport_stream.socket, self._buffer)
        except OSError as exc:
            if self._closed or exc.errno in (errno.EBADF, errno.ENOTSOCK):
                raise trio.ClosedResourceError("this TLS stream was closed") from None
            self._broken = self._broken or exc
            raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt `data` and send it. A failed or cancelled send leaves the stream broken:
        how much of it reached the wire is unknown."""
        await self.send_parts([data])

    async def send_parts(self, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        """`send_all` of the parts one after the other, in one go: a frame's header and its
        data leave in the same system call, not the header in a record and a write of its own."""
        with self._sending:
            self._check()
            if not self._handshaken:
                await self.do_handshake()
            async with self._send_lock:
                self._check()
                for part in parts:
                    view = memoryview(part).cast("B")
                    for start in range(0, len(view), SEND_PIECE):
                        try:
                            self._tls.write(view[start : start + SEND_PIECE])
                        except ssl.SSLError as exc:  # SSLWantReadError too: TLS 1.3 never needs it
                            self._broken = self._broken or exc
                            raise trio.BrokenResourceError(f"TLS failed: {exc}") from exc
                        if self._outgoing.pending >= SEND_PIECE:
                            await self._flush()
                await self._flush()

    async def _flush(self) -> None:
        """Send all TLS has written, the held-back tickets first. Only the send lock's holder
        calls it, and it loops until nothing is left, so it also sends what a receiver
        wrote meanwhile (`_answer`)."""
        while self._tickets or self._outgoing.pending:
            data = self._tickets + self._outgoing.read()
            self._tickets = b""
            try:
                await self._send_raw(data)
            except BaseException as exc:  # some unknown part of `data` went out
                self._broken = self._broken or exc
                raise

    async def _send_raw(self, data: bytes) -> None:
        """All of `data` to the socket, with the system call itself (as `_receive_records`),
        waiting only while the socket is full."""
        socket = self.transport_stream.socket
        with memoryview(data) as view:
            sent = 0
            while sent < len(view):
                count = self._write_socket(view[sent:])
                if count is None:  # full: wait outside the handler (no stale exception context)
                    await trio.lowlevel.wait_writable(socket)
                sent += count or 0

    def _write_socket(self, view: memoryview) -> int | None:
        """The system call itself: the count sent, None if the socket is full."""
        try:
            return try_write(self.transport_stream.socket, view)
        except OSError as exc:
            if self._closed or exc.errno in (errno.EBADF, errno.ENOTSOCK):
                raise trio.ClosedResourceError("this TLS stream was closed") from None
            raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc

    async def wait_send_all_might_not_block(self) -> None:
        with self._sending:
            self._check()
            async with self._send_lock:
                await self._flush()
                await self.transport_stream.wait_send_all_might_not_block()
                await self._flush()  # what a receiver wrote while we held the lock

    async def aclose(self) -> None:
        """Send close_notify if the stream is whole and no send is under way (best effort, no
        wait for the other side's), then close the socket. Closing again does nothing."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        if self.on_close is not None and (session := self.session) is not None:
            self.on_close(session)
        try:
            if self._handshaken and self._broken is None and not self._send_lock.locked():
                with contextlib.suppress(ssl.SSLError):  # SSLWantReadError: theirs is not awaited
                    self._tls.unwrap()
                self._send_lock.acquire_nowait()
                try:
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await self._flush()
                finally:
                    self._send_lock.release()
        finally:
            self._closed = True
            await self.transport_stream.aclose()
