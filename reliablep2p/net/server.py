"""The listener every node runs: connection caps, TLS and the caller's name, then one request.

A connection is counted against a global cap and a per-address cap until it ends; over a cap it
is told `busy` (inside TLS, when TLS is on) and closed. With TLS the caller's certificate names
it, and a revoked name is refused before any message is read. Then `Hello` and one request,
which the handler table maps to the code that serves it; the node owning the server decides
what is in the table.

A TLS server may also serve a few requests in plaintext on the same port (the database peer's
enrollment: a newcomer has no certificate yet). The first byte decides: a TLS ClientHello starts
with 0x16 (a handshake record), a frame with its 4-byte length, whose first byte is 0 or 1 under
the 16 MiB cap. It is peeked, not read, so TLS starts on an untouched stream; a plaintext
connection reaches only the `plaintext` table, never a handler that trusts a certificate.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from typing import Any

import msgspec
import trio

from ..proto import ErrorCode, Hello, ProtocolError, RemoteProtocolError, check_version
from .channel import READ_TIMEOUT, Channel, ConnectionLost, RemoteError, certificate_name, secure

log = logging.getLogger("rp2p.node")

MAX_CONNECTIONS = 512
MAX_PER_HOST = 128
"""Connections one address may hold open at once (long-lived sessions are not counted)."""
TLS_HANDSHAKE = 0x16
"""The first byte of a TLS connection: the record type of its ClientHello."""

Handler = Callable[[Channel, Hello, Any], Awaitable[None]]
"""Serves one request: the channel, the caller's `Hello` (its name verified under TLS), the
request message."""


class Server:
    """Accepts connections and hands each one's request to its handler."""

    def __init__(
        self,
        handlers: Mapping[type, Handler],
        *,
        tls: ssl.SSLContext | None,
        revoked: Collection[str],
        long_lived: Collection[type] = (),
        plaintext: Mapping[type, Handler] | None = None,
        read_timeout: float = READ_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        max_per_host: int = MAX_PER_HOST,
    ) -> None:
        self.handlers = handlers
        self.tls = tls
        self.revoked = revoked
        """Names whose certificates are refused (a live view: the owner adds to it)."""
        self.long_lived = long_lived
        """Requests that open a session: not counted against the caps once they start."""
        self.plaintext = plaintext or {}
        """Requests served without TLS on a TLS server (the caller has no certificate yet)."""
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.max_per_host = max_per_host
        self.name = ""
        """Who we are, for the log."""
        self._connections = 0
        self._per_host: collections.Counter[str] = collections.Counter()

    async def listen(self, nursery: trio.Nursery, host: str, port: int) -> int:
        """Start serving on `host:port`; returns the port (the one picked, for port 0)."""
        serve = functools.partial(trio.serve_tcp, self.serve, port, host=host)
        listeners = await nursery.start(serve)
        bound: int = listeners[0].socket.getsockname()[1]
        return bound

    async def serve(self, stream: trio.SocketStream) -> None:
        channel = Channel(stream, timeout=self.read_timeout)
        host = remote(channel)
        try:
            if self._connections >= self.max_connections or self._per_host[host] >= (
                self.max_per_host
            ):
                with trio.move_on_after(2):
                    if not await self.speaks_plaintext(channel):
                        await self.authenticate(channel)  # busy is said inside TLS, if TLS is on
                    await channel.send_error(ErrorCode.BUSY, "too many connections; try again")
                return
            with self._counted(host) as release:
                plaintext = await self.speaks_plaintext(channel)
                who = None if plaintext else await self.authenticate(channel)
                hello = await channel.receive_message(Hello)
                check_version(hello)
                if who is not None:
                    hello = msgspec.structs.replace(hello, name=who)
                request = await channel.receive()
                handler = (self.plaintext if plaintext else self.handlers).get(type(request))
                if handler is None:
                    what = "file data" if isinstance(request, bytes) else type(request).__name__
                    raise RemoteProtocolError(ErrorCode.UNEXPECTED, f"{what} is not a request here")
                if type(request) in self.long_lived:
                    release()  # a session lives long; the peer registry, not this cap, bounds it
                await handler(channel, hello, request)
        except (ConnectionLost, RemoteError) as exc:
            level = logging.INFO if exc.code == ErrorCode.FORBIDDEN else logging.DEBUG
            log.log(level, "%s: connection from %s ended: %s", self.name, host, exc.detail)
        except ProtocolError as exc:
            log.info("%s: refused a request from %s: %s", self.name, remote(channel), exc.detail)
            await channel.send_error(exc.code, exc.detail)
        except Exception:
            log.exception("%s: internal error while serving %s", self.name, remote(channel))
            await channel.send_error(ErrorCode.INTERNAL, "internal error; see the node's log")
        finally:
            await channel.aclose()

    async def speaks_plaintext(self, channel: Channel) -> bool:
        """On a TLS server with plaintext requests: does this caller start without TLS?"""
        if self.tls is None or not self.plaintext:
            return False
        assert isinstance(channel.stream, trio.SocketStream)
        with trio.move_on_after(self.read_timeout):
            try:
                first = await channel.stream.socket.recv(1, socket.MSG_PEEK)
            except OSError as exc:
                raise ConnectionLost(ErrorCode.INTERNAL, f"connection lost: {exc}") from None
            return bool(first) and first[0] != TLS_HANDSHAKE
        raise ConnectionLost(ErrorCode.TIMEOUT, f"nothing received for {self.read_timeout:g} s")

    async def authenticate(self, channel: Channel) -> str | None:
        """With TLS on, the verified name of who is calling; before any message is read."""
        if self.tls is None:
            return None
        assert isinstance(channel.stream, trio.SocketStream)
        with trio.move_on_after(self.read_timeout) as scope:
            channel.stream = await secure(channel.stream, self.tls, server_side=True)
        if scope.cancelled_caught:
            raise ConnectionLost(ErrorCode.FORBIDDEN, "TLS handshake timed out")
        who = certificate_name(channel.stream)
        if who in self.revoked:
            raise ConnectionLost(ErrorCode.FORBIDDEN, f"{who} was kicked out of the network")
        return who

    @contextlib.contextmanager
    def _counted(self, host: str) -> Iterator[Callable[[], None]]:
        """Count a connection against the caps until it ends (or `release()` is called)."""
        self._connections += 1
        self._per_host[host] += 1
        counted = True

        def release() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._connections -= 1
                self._per_host[host] -= 1
                if not self._per_host[host]:
                    del self._per_host[host]

        try:
            yield release
        finally:
            release()


def remote(channel: Channel) -> str:
    """The caller's address for the log, even when its socket is already gone."""
    try:
        return channel.remote_host
    except OSError:
        return "a vanished peer"
