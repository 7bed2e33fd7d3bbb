"""The listener every node runs: connection caps, TLS and the caller's name, then one request.

A connection is counted against a global cap and a per-address cap until it ends. Until it has
passed TLS and said `Hello` it is *pending*, and when the global cap is full a newcomer takes
the place of the oldest pending connection of the address holding the most of them: strangers
holding connections open never keep a player out. Over the per-address cap, or with every place
taken by callers past `Hello`, a newcomer is told `busy` (inside TLS, when TLS is on) and
closed. With TLS the caller's certificate names it, and a revoked name is refused before any
message is read. Then `Hello` and one request, which the handler table maps to the code that
serves it; the node owning the server decides what is in the table.

A TLS server may also serve a few requests in plaintext on the same port (the database peer's
enrollment: a newcomer has no certificate yet). The first byte decides: a TLS ClientHello starts
with 0x16 (a handshake record), a frame with its 4-byte length, whose first byte is 0 or 1 under
the 16 MiB cap. It is peeked, not read, so TLS starts on an untouched stream; a plaintext
connection reaches only the `plaintext` table, never a handler that trusts a certificate.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import resource
import socket
import ssl
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from typing import Any

import msgspec
import trio

from ..proto import (
    UPDATE_COMMAND,
    ErrorCode,
    Hello,
    ProtocolError,
    RemoteProtocolError,
    VersionMismatch,
    check_version,
)
from .channel import READ_TIMEOUT, Channel, ConnectionLost, RemoteError, certificate_name, secure
from .identity import DATABASE_NAME

log = logging.getLogger("rp2p.node")

ACCEPT_LATER = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
"""Out of file descriptors or memory: wait a moment and accept again (as `trio.serve_tcp`)."""
SHED_AFTER = 1.0
"""With every place taken, how long a waiting caller is left in the backlog before it is let in
to shed the oldest silent one (a storm's callers clear sooner; strangers holding places do not)."""
SHED_AT_ONCE = 8
"""...and how many of the callers waiting then are let in at once: one a second kept a player
queued behind the strangers ahead of it in the backlog past its patience (3 s)."""
MAX_CONNECTIONS = 512
MAX_PER_HOST = 128
"""Connections one address may hold open at once (long-lived sessions are not counted)."""
HANDSHAKES_AT_ONCE = 256
"""TLS handshakes worked on at once; the other callers wait their turn (first come, first
served) with the handshake's own deadline not yet running: all at once, each finishes later
(120 at once against a 1 s deadline all outlived it, each then to be done again). Not fewer:
each handshake needs a few passes of the event loop, which a storm's sessions slow down: at
32 at once a 2,000-player TLS storm waited on its handshakes, and it converged in 6.3 s at
128, 5.6 s at 256 (5.4 s at 512, the connection cap)."""
HANDSHAKES_PER_HOST = 4
"""...of which one address may hold this many: a stranger stalling handshakes from one address
slows the others' turns, never stops them."""
OPEN_FILES_WANTED = 65536
"""The soft limit on open files asked for where the hard one is unlimited."""
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
        self.address = ("", 0)
        """Where we listen (host and port as bound), once `listen` has run."""
        self.caps = ConnectionCaps(max_connections, max_per_host)
        self._room = trio.Event()
        """Set when a place under the caps frees (the accept loop may wait for one)."""
        self._starting = 0
        """Connections accepted whose `serve` has not taken its place yet."""
        self._handshakes = trio.Semaphore(HANDSHAKES_AT_ONCE)
        self.handshakes_per_host = HANDSHAKES_PER_HOST
        self._handshaking: dict[str, tuple[trio.Semaphore, list[None]]] = {}
        """By address, its share of the handshakes and who waits on it (to drop it after)."""

    async def listen(self, nursery: trio.Nursery, host: str, port: int) -> int:
        """Start serving on `host:port`; returns the port (the one picked, for port 0)."""
        open_files_as_allowed()
        sockets = [
            socket.socket(fileno=listener.socket.detach())
            for listener in await trio.open_tcp_listeners(port, host=host)
        ]
        for listening in sockets:
            listening.setblocking(False)
            nursery.start_soon(self._accept, listening, nursery)
        host, bound = sockets[0].getsockname()[:2]
        self.address = (host, bound)
        return int(bound)

    async def _accept(self, listening: socket.socket, nursery: trio.Nursery) -> None:
        """Take every connection waiting, each time the socket says some are.

        `trio.serve_tcp` accepts one per pass of the scheduler, and a pass grows with the tasks
        running: in a join storm the backlog then outlived the players' patience, each retry
        left a dead connection in it, and the database peer stalled accepting those.
        """
        with listening:
            while True:
                await trio.lowlevel.wait_readable(listening)
                room = self._room_left()
                if room <= 0:  # all places taken: one may free before a newcomer sheds a caller
                    self._room = trio.Event()
                    with trio.move_on_after(SHED_AFTER) as waited:
                        await self._room.wait()
                    room = self._room_left()
                    if waited.cancelled_caught:  # none freed for that long: a few waiting
                        room = max(SHED_AT_ONCE, room)  # each shed the oldest silent caller
                    elif room <= 0:  # (not when one just freed: each shed frees a place, and
                        continue  # in a TLS storm that chain hung up on hundreds a second)
                for _ in range(room):  # the rest wait in the backlog: no caller sheds another
                    try:
                        connection, _ = listening.accept()
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        if exc.errno not in ACCEPT_LATER:
                            raise
                        log.error("%s: cannot accept (%s); retrying", self.name, exc.strerror)
                        await trio.sleep(0.1)
                        break
                    stream = trio.SocketStream(trio.socket.from_stdlib_socket(connection))
                    self._starting += 1
                    nursery.start_soon(self.serve, stream)

    def _room_left(self) -> int:
        return self.caps.max_connections - self.caps.count - self._starting

    async def serve(self, stream: trio.abc.Stream) -> None:
        channel = Channel(stream, timeout=self.read_timeout)
        host = remote(channel)
        shed = trio.CancelScope()
        slot = self.caps.admit(host, shed.cancel)
        self._starting = max(0, self._starting - 1)  # (serve may be handed a stream directly)
        caller = "a caller"
        try:
            if slot is None:
                with trio.move_on_after(2):
                    if not await self.speaks_plaintext(channel):
                        await self.authenticate(channel)  # busy is said inside TLS, if TLS is on
                    await channel.send_error(ErrorCode.BUSY, "too many connections; try again")
                return
            try:
                with shed:
                    plaintext = await self.speaks_plaintext(channel)
                    who = None if plaintext else await self.authenticate(channel)
                    hello = await channel.receive_message(Hello)
                    if plaintext:  # a stranger: still the first to go, until it has asked
                        request = await channel.receive()
                    else:
                        self.caps.introduced(slot)
                if slot.shed:
                    log.debug("%s: hung up on %s, silent, to make room", self.name, host)
                    return
                caller = who or hello.name or caller
                check_version(hello)
                if who is not None:
                    hello = msgspec.structs.replace(hello, name=who)
                if not plaintext:
                    request = await channel.receive()
                if who is not None and who in self.revoked:  # kicked since its handshake
                    raise RemoteProtocolError(ErrorCode.FORBIDDEN, f"{who} was kicked out")
                handler = (self.plaintext if plaintext else self.handlers).get(type(request))
                if handler is None:
                    what = "file data" if isinstance(request, bytes) else type(request).__name__
                    raise RemoteProtocolError(ErrorCode.UNEXPECTED, f"{what} is not a request here")
                if plaintext or type(request) in self.long_lived:
                    self._release(slot)  # a session's registry, or the handler, bounds it
                await handler(channel, hello, request)
            finally:
                self._release(slot)
        except VersionMismatch as exc:
            log.warning("%s: refused %s at %s: %s", self.name, caller, host,
                        self._version_words(caller, exc))  # fmt: skip
            await channel.refuse(exc.code, exc.detail, speaks=exc.ours)
        except (ConnectionLost, RemoteError) as exc:
            level = logging.INFO if exc.code == ErrorCode.FORBIDDEN else logging.DEBUG
            log.log(level, "%s: connection from %s ended: %s", self.name, host, exc.detail)
        except ProtocolError as exc:
            log.info("%s: refused a request from %s: %s", self.name, remote(channel), exc.detail)
            if exc.code == ErrorCode.FORBIDDEN:  # kicked out: it must hear it, not a reset
                await channel.refuse(exc.code, exc.detail)
            else:
                await channel.send_error(exc.code, exc.detail)
        except OSError as exc:
            if exc.errno not in ACCEPT_LATER:
                log.exception("%s: internal error while serving %s", self.name, remote(channel))
                await channel.send_error(ErrorCode.INTERNAL, "internal error; see the node's log")
                return
            log.warning("%s: cannot serve %s now: %s", self.name, remote(channel), exc.strerror)
            await channel.send_error(ErrorCode.BUSY, f"too busy ({exc.strerror}); try again")
        except Exception:
            log.exception("%s: internal error while serving %s", self.name, remote(channel))
            await channel.send_error(ErrorCode.INTERNAL, "internal error; see the node's log")
        finally:
            await channel.aclose()

    def _release(self, slot: Slot) -> None:
        self.caps.release(slot)
        self._room.set()

    async def speaks_plaintext(self, channel: Channel) -> bool:
        """Is this a caller without TLS, for the `plaintext` table? (With TLS on, the first
        byte says; a server with no TLS and a `plaintext` table serves only that.)"""
        if not self.plaintext:
            return False
        if self.tls is None:
            return True
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
        with self._turn(channel) as turn:
            async with turn, self._handshakes:  # (one gone meanwhile fails at once)
                with trio.move_on_after(self.read_timeout) as scope:
                    channel.stream = await secure(channel.stream, self.tls, server_side=True)
        if scope.cancelled_caught:
            raise ConnectionLost(ErrorCode.FORBIDDEN, "TLS handshake timed out")
        who = certificate_name(channel.stream)
        if who in self.revoked:  # told inside TLS, so it knows it was removed (not a glitch)
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, f"{who} was kicked out of the network")
        return who

    @contextlib.contextmanager
    def _turn(self, channel: Channel) -> Iterator[trio.Semaphore]:
        """The caller's address's share of the handshakes (`handshakes_per_host`)."""
        host = remote(channel)
        share, users = self._handshaking.setdefault(
            host, (trio.Semaphore(self.handshakes_per_host), [])
        )
        users.append(None)
        try:
            yield share
        finally:
            users.pop()
            if not users:
                del self._handshaking[host]

    def _version_words(self, caller: str, exc: VersionMismatch) -> str:
        """Which side must update, in one line for the log of whoever runs this node."""
        me = "rp2p-db" if self.name == DATABASE_NAME else "rp2p-peer"
        said = f"it speaks protocol {exc.theirs}, this {me} speaks {exc.ours}"
        if exc.theirs > exc.ours:
            return f"{said}: update {me} on this machine ({UPDATE_COMMAND})"
        return f"{said}: {caller} must update its rp2p-peer ({UPDATE_COMMAND})"


class Slot:
    """One connection's place under the caps."""

    __slots__ = ("counted", "hang_up", "host", "shed")

    def __init__(self, host: str, hang_up: Callable[[], None]) -> None:
        self.host = host
        self.hang_up = hang_up
        self.counted = True
        self.shed = False
        """Hung up on while pending, to make room for a newcomer."""


class ConnectionCaps:
    """How many connections are open, in all and per address, and which are still pending
    (not yet past TLS and `Hello`): those are shed first when the global cap is full."""

    def __init__(self, max_connections: int, max_per_host: int) -> None:
        self.max_connections = max_connections
        self.max_per_host = max_per_host
        self.count = 0
        self.per_host: collections.Counter[str] = collections.Counter()
        self.pending: dict[str, dict[Slot, None]] = {}
        """By address, its pending connections, oldest first."""
        self.pending_count = 0
        """Pending connections in all: callers still in their TLS handshake or before `Hello`."""

    def admit(self, host: str, hang_up: Callable[[], None]) -> Slot | None:
        """A place for a new connection from `host` (`hang_up` ends it if it is shed), or
        None: `host` is over its cap, or every place is taken by callers past `Hello`."""
        if self.per_host[host] >= self.max_per_host:
            return None
        if self.count >= self.max_connections:
            if not self.pending:
                return None
            crowd = max(self.pending.values(), key=len)  # the address holding the most
            oldest = next(iter(crowd))
            self.release(oldest)
            oldest.shed = True
            oldest.hang_up()
        slot = Slot(host, hang_up)
        self.count += 1
        self.per_host[host] += 1
        self.pending.setdefault(host, {})[slot] = None
        self.pending_count += 1
        return slot

    def introduced(self, slot: Slot) -> None:
        """`slot`'s caller passed TLS and said `Hello`: it is never shed."""
        self._unpend(slot)

    def release(self, slot: Slot) -> None:
        """`slot` no longer counts (its connection ended, or became a session); idempotent."""
        if not slot.counted:
            return
        slot.counted = False
        self._unpend(slot)
        self.count -= 1
        self.per_host[slot.host] -= 1
        if not self.per_host[slot.host]:
            del self.per_host[slot.host]

    def _unpend(self, slot: Slot) -> None:
        waiting = self.pending.get(slot.host, {})
        if slot in waiting:
            del waiting[slot]
            self.pending_count -= 1
        if not waiting:
            self.pending.pop(slot.host, None)


def open_files_as_allowed() -> None:
    """Raise this process's soft limit on open files to its hard one: a database peer holds a
    socket per player, and a LAN party has more players than the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, OPEN_FILES_WANTED) if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def remote(channel: Channel) -> str:
    """The caller's address for the log, even when its socket is already gone."""
    try:
        return channel.remote_host
    except OSError:
        return "a vanished peer"
