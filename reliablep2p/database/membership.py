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
    KickReport,
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

KICK_WAIT_LIMIT = 60.0
"""The longest a kick waits for the online peers to say they refuse the kicked name."""


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
        """Revoke a player at once, and answer only once every other online peer said it
        refuses the name too (or `request.wait` is over: the report names who did not say so).

        The revocation is stored first, so it holds across restarts; a peer that joins later
        hears it in its `welcome`.
        """
        if self.authority is None or hello.name != ADMIN_NAME:
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may kick")
        if not 0 <= request.wait <= KICK_WAIT_LIMIT:
            raise RemoteProtocolError(
                ErrorCode.MALFORMED, f"a kick waits 0 to {KICK_WAIT_LIMIT:g} s for the peers"
            )
        name = request.name
        if not await trio.to_thread.run_sync(self.store.revoke, name):
            raise RemoteProtocolError(
                ErrorCode.NOT_A_MEMBER, f"nobody called {name!r} is a member of this network"
            )
        self.revoked.add(name)
        self.announce_revoked(name)  # every other session's pusher sends `revoked`
        sessions = list(self.sessions())
        others = [s for s in sessions if s.peer.name != name]
        for session in sessions:
            if session.peer.name == name:
                with trio.move_on_after(1), contextlib.suppress(ProtocolError):
                    await session.channel.send(Revoked([name]))  # tell it why
                session.scope.cancel()
        with trio.move_on_after(request.wait):
            async with trio.open_nursery() as nursery:
                for session in others:
                    nursery.start_soon(session.refuses, name)
        told = sorted(s.peer.name for s in others if name in s.refusing)
        not_told = sorted(s.peer.name for s in others if name not in s.refusing)
        log.info("%s was kicked out of the network; %d online peers refuse it now%s", name,
                 len(told), f", not told: {', '.join(not_told)}" if not_told else "")  # fmt: skip
        await channel.send(KickReport(name, told, not_told))
