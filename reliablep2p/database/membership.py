"""Who belongs to the network: joining with a code, and being thrown out (`kick`)."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable

import trio

from ..net.channel import Channel
from ..net.enroll import Grant, serve_enrollment
from ..net.identity import ADMIN_NAME, DATABASE_NAME, SecurityError
from ..net.server import Handler
from ..proto import (
    AskNetwork,
    Enroll,
    ErrorCode,
    Hello,
    Kick,
    NetworkInfo,
    ProtocolError,
    RemoteProtocolError,
    Revoked,
    name_problem,
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
        network_name: str,
    ) -> None:
        self.store = store
        self.authority = authority
        self.revoked = revoked
        self.sessions = sessions
        self.announce_revoked = announce_revoked
        self.network_name = network_name
        """What the network is called in announcements and answers (the host's machine name)."""

    def plaintext_handlers(self) -> dict[type, Handler]:
        """What a caller with no certificate may ask, in plaintext: which network, and to join."""
        if self.authority is None:
            return {}
        return {AskNetwork: self.serve_ask_network, Enroll: self.serve_enrollment}

    async def serve_ask_network(self, channel: Channel, hello: Hello, request: AskNetwork) -> None:
        """Say which network this is, so a code is never tried on another network's host."""
        assert self.authority is not None
        await channel.send(NetworkInfo(self.authority.tag, self.network_name))

    async def serve_enrollment(self, channel: Channel, hello: Hello, request: Enroll) -> None:
        """A new player joins with a code (see `net/enroll.py`); one short conversation.

        A refusal (`ProtocolError`) is logged and told to the player by the server."""
        name = await serve_enrollment(
            channel, request, self._invite_password, self._invite_failed,
            functools.partial(self._grant, request.number),
        )  # fmt: skip
        log.info("%s joined the network with a code", name)

    async def _invite_password(self, number: int) -> bytes | None:
        return await trio.to_thread.run_sync(self.store.invite_password, number)

    async def _invite_failed(self, number: int) -> None:
        await trio.to_thread.run_sync(self.store.invite_failed, number)

    async def _grant(self, number: int, name: str, public_key: bytes) -> Grant:
        assert self.authority is not None
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
