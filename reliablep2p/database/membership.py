"""Who belongs to the network: joining with a code, and being thrown out (`kick`).

A player name follows the rules of file names (`name_problem`), and may not look like another
player's name or a reserved one (same UTS #39 skeleton): that would be an impersonation.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable

import trio

from ..net.channel import Channel, ConnectionLost, RemoteError
from ..net.enroll import Grant, serve_enrollment
from ..net.identity import ADMIN_NAME, DATABASE_NAME, SecurityError
from ..proto import (
    Enroll,
    ErrorCode,
    Hello,
    Kick,
    ProtocolError,
    RemoteProtocolError,
    Revoked,
    check_version,
    name_problem,
    taken_by,
)
from ..storage.sqlite import SqliteStore
from .authority import NetworkAuthority
from .pushes import Session

log = logging.getLogger("rp2p.db")


class Membership:
    """Enrolls players who bring a valid code; revokes players the host kicks out."""

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

    async def serve_enrollment(self, stream: trio.SocketStream) -> None:
        """A new player joins with a code (see `net/enroll.py`); one short conversation."""
        async with Channel(stream, timeout=self.read_timeout) as channel:
            try:
                hello = await channel.receive_message(Hello)
                check_version(hello)
                request = await channel.receive_message(Enroll)
                name = await serve_enrollment(
                    channel, request, self._invite_password, self._invite_failed,
                    functools.partial(self._grant, request.number),
                )  # fmt: skip
                log.info("%s joined the network with a code", name)
            except (ConnectionLost, RemoteError) as exc:
                log.info("enrollment from %s ended: %s", channel.remote_host, exc.detail)
            except ProtocolError as exc:
                log.info("enrollment from %s refused: %s", channel.remote_host, exc.detail)
                await channel.send_error(exc.code, exc.detail)

    async def _invite_password(self, number: int) -> bytes | None:
        return await trio.to_thread.run_sync(self.store.invite_password, number)

    async def _invite_failed(self, number: int) -> None:
        await trio.to_thread.run_sync(self.store.invite_failed, number)

    async def _grant(self, number: int, name: str, public_key: bytes) -> Grant:
        assert self.authority is not None
        if problem := name_problem(name):
            raise RemoteProtocolError(ErrorCode.BAD_NAME, f"player name {name!r} {problem}")
        if (reserved := taken_by(name, (DATABASE_NAME, ADMIN_NAME))) == name:
            raise RemoteProtocolError(ErrorCode.NAME_TAKEN, f"{name} is reserved")
        if reserved is not None:
            raise RemoteProtocolError(
                ErrorCode.NAME_TAKEN, f"player name {name!r} looks like the reserved {reserved!r}"
            )
        taken = await trio.to_thread.run_sync(self.store.enroll_member, name, number)
        if taken == name:
            raise RemoteProtocolError(ErrorCode.NAME_TAKEN, f"player name {name} is taken")
        if taken is not None:
            raise RemoteProtocolError(
                ErrorCode.NAME_TAKEN, f"player name {name!r} looks like the player {taken!r}"
            )
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
