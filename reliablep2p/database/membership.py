"""Who belongs to the network: joining with a code, and being thrown out (`kick`)."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable, Iterable

import trio

from ..net.channel import Channel, ConnectionLost, RemoteError
from ..net.enroll import Grant, serve_enrollment
from ..net.identity import ADMIN_NAME, DATABASE_NAME, SecurityError
from ..net.server import remote
from ..proto import (
    Enroll,
    ErrorCode,
    Hello,
    Kick,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    Revoked,
    check_version,
    name_problem,
)
from ..storage.sqlite import SqliteStore
from .authority import NetworkAuthority
from .guesses import GuessLimiter
from .pushes import Session

log = logging.getLogger("rp2p.db")


class Membership:
    """Enrolls players who bring a valid code; revokes players the host kicks out.

    Wrong codes never use up an invite; `guesses` makes every address wait longer after each
    try instead, so strangers can neither burn a code nor guess one.
    """

    def __init__(
        self,
        store: SqliteStore,
        authority: NetworkAuthority | None,
        revoked: set[str],
        sessions: Callable[[], Iterable[Session]],
        announce_revoked: Callable[[str], None],
        *,
        read_timeout: float,
    ) -> None:
        self.store = store
        self.authority = authority
        self.revoked = revoked
        self.sessions = sessions
        self.announce_revoked = announce_revoked
        self.read_timeout = read_timeout
        self.guesses = GuessLimiter()

    async def serve_enrollment(self, stream: trio.SocketStream) -> None:
        """A new player joins with a code (see `net/enroll.py`); one short conversation."""
        async with Channel(stream, timeout=self.read_timeout) as channel:
            host = remote(channel)
            try:
                hello = await channel.receive_message(Hello)
                check_version(hello)
                request = await channel.receive_message(Enroll)
                name = await serve_enrollment(
                    channel, request, functools.partial(self._invite_password, host),
                    functools.partial(self._grant, host, request.number),
                )  # fmt: skip
                log.info("%s joined the network with a code", name)
            except (ConnectionLost, RemoteError) as exc:
                log.info("enrollment from %s ended: %s", host, exc.detail)
            except ProtocolError as exc:
                level = logging.DEBUG if exc.code == ErrorCode.BUSY else logging.INFO
                log.log(level, "enrollment from %s refused: %s", host, exc.detail)
                await channel.send_error(exc.code, exc.detail)

    async def _invite_password(self, host: str, number: int) -> bytes | None:
        """The invite's code, if `host` may try one now (a try is counted from here on)."""
        password = await trio.to_thread.run_sync(self.store.invite_password, number)
        if password is not None and (wait := self.guesses.try_now(host, trio.current_time())):
            raise LocalProtocolError(
                ErrorCode.BUSY,
                f"too many join tries from {host}; wait {math.ceil(wait)} s and try again",
            )
        return password

    async def _grant(self, host: str, number: int, name: str, public_key: bytes) -> Grant:
        assert self.authority is not None
        self.guesses.forget(host)  # the code proved right
        if problem := name_problem(name):
            raise RemoteProtocolError(ErrorCode.BAD_NAME, f"player name {name!r} {problem}")
        if name in (DATABASE_NAME, ADMIN_NAME):
            raise RemoteProtocolError(ErrorCode.NAME_TAKEN, f"{name} is reserved")
        if not await trio.to_thread.run_sync(self.store.enroll_member, name, number):
            raise RemoteProtocolError(ErrorCode.NAME_TAKEN, f"player name {name} is taken")
        try:
            certificate = self.authority.issue(name, public_key)
        except (SecurityError, ValueError) as exc:
            raise RemoteProtocolError(ErrorCode.MALFORMED, f"bad public key: {exc}") from None
        return Grant(certificate, self.authority.ca_pem)

    async def serve_kick(self, channel: Channel, hello: Hello, request: Kick) -> None:
        """Revoke a player at once: refuse its certificate and end its session everywhere."""
        if self.authority is None or hello.name != ADMIN_NAME:
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may kick")
        await trio.to_thread.run_sync(self.store.revoke, request.name)
        self.revoked.add(request.name)
        for session in list(self.sessions()):
            if session.peer.name == request.name:
                with trio.move_on_after(1), contextlib.suppress(ProtocolError):
                    await session.channel.send(Revoked([request.name]))  # tell it why
                session.scope.cancel()
        self.announce_revoked(request.name)
        log.info("%s was kicked out of the network", request.name)
        await channel.send(Revoked([request.name]))
