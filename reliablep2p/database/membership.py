"""Who belongs to the network: joining with a code, and being thrown out (`kick`).

A player name follows the rules of file names (`name_problem`), and may not look like another
player's name or a reserved one (same UTS #39 skeleton): that would be an impersonation.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import trio

from ..net.channel import Channel
from ..net.enroll import Grant, serve_enrollment
from ..net.identity import ADMIN_NAME, DATABASE_NAME, SecurityError
from ..net.server import ConnectionCaps, Handler, Slot, remote
from ..proto import (
    AskNetwork,
    Connect,
    Enroll,
    ErrorCode,
    Hello,
    Kick,
    KickReport,
    LocalProtocolError,
    NetworkInfo,
    ProtocolError,
    RemoteProtocolError,
    Revoked,
    name_problem,
    taken_by,
)
from ..storage.interfaces import MetadataStore
from .admission import refuse_plaintext_join
from .authority import NetworkAuthority
from .guesses import GuessLimiter, source_of
from .kicks import refusals
from .sessions import Session

if TYPE_CHECKING:
    from ..storage.pgcluster import ClusterStore

log = logging.getLogger("rp2p.db")

KICK_WAIT_LIMIT = 60.0
"""The longest a kick waits for the online peers to say they refuse the kicked name."""
MAX_ENROLLING, MAX_ENROLLING_PER_HOST = 128, 16
"""Join conversations open at once, in all and from one address (one takes a fraction of a
second): strangers holding connections open on the enrollment port make room for newcomers,
as on the main port."""


class Membership:
    """Enrolls players who bring a valid code; revokes players the host kicks out.

    Wrong codes never use up an invite; `guesses` makes every address wait longer after each
    try instead, so strangers can neither burn a code nor guess one. One address tries one
    code at a time (several players on one machine joining at once take turns, and a right
    code frees the next turn at once). A conversation that has not yet proved its code is hung
    up on when a newcomer needs its place.
    """

    def __init__(
        self,
        store: MetadataStore,
        authority: NetworkAuthority | None,
        revoked: set[str],
        sessions: Callable[[], Iterable[Session]],
        announce_revoked: Callable[[str], None],
        *,
        read_timeout: float,
        network_name: str,
        shared: ClusterStore | None = None,
        elsewhere: Callable[[str, float], Awaitable[tuple[list[str], list[str]]]] | None = None,
    ) -> None:
        self.store = store
        self.authority = authority
        self.revoked = revoked
        self.sessions = sessions
        self.announce_revoked = announce_revoked
        self.read_timeout = read_timeout
        self.network_name = network_name
        """What the network is called in announcements and answers (the host's machine name)."""
        self.guesses = GuessLimiter()
        self.shared = shared
        """With several database peers on one PostgreSQL, the tries are counted there: a
        guesser gets no more by asking each of them (`guesses` then only sets the waits)."""
        self.elsewhere = elsewhere
        """With several database peers: a kick's refusals by their players (who did, who
        did not say so within the wait)."""
        self.conversations = ConnectionCaps(MAX_ENROLLING, MAX_ENROLLING_PER_HOST)
        self._turns: dict[str, trio.Lock] = {}
        """Per address, held by its conversation trying a code now."""

    def plaintext_handlers(self) -> dict[type, Handler]:
        """What a caller with no certificate may ask, in plaintext: which network, and to join
        (a `connect` is refused in words: a player started with --insecure-lan)."""
        if self.authority is None:
            return {}
        return {AskNetwork: self.serve_ask_network, Enroll: self.serve_enrollment,
                Connect: refuse_plaintext_join}  # fmt: skip

    async def serve_ask_network(self, channel: Channel, hello: Hello, request: AskNetwork) -> None:
        """Say which network this is, so a code is never tried on another network's host."""
        assert self.authority is not None
        await channel.send(NetworkInfo(self.authority.tag, self.network_name))

    async def serve_enrollment(self, channel: Channel, hello: Hello, request: Enroll) -> None:
        """A new player joins with a code (see `net/enroll.py`); one short conversation.

        It arrives in plaintext on the database peer's port (`Server` routes it here, past the
        server's caps); `conversations` bounds how many run at once. A refusal
        (`ProtocolError`) is logged and told to the player by the server."""
        host = remote(channel)
        shed = trio.CancelScope()
        slot = self.conversations.admit(host, shed.cancel)
        if slot is None:
            raise LocalProtocolError(
                ErrorCode.BUSY, f"too many join conversations from {host}; try again"
            )
        try:
            with shed:
                async with self._turn(host):
                    name = await serve_enrollment(
                        channel, request, functools.partial(self._invite_password, host),
                        functools.partial(self._grant, host, slot, request.number),
                    )  # fmt: skip
                log.info("%s joined the network with a code", name)
            if shed.cancelled_caught:
                log.debug("enrollment from %s hung up on, unproven, to make room", host)
        finally:
            self.conversations.release(slot)

    @contextlib.asynccontextmanager
    async def _turn(self, host: str) -> AsyncIterator[None]:
        """Wait until no other conversation from `host`'s address is trying a code."""
        who = source_of(host)
        turn = self._turns.setdefault(who, trio.Lock())
        try:
            async with turn:
                yield
        finally:
            if not turn.locked() and not turn.statistics().tasks_waiting:
                self._turns.pop(who, None)

    async def _invite_password(self, host: str, number: int) -> bytes | None:
        """The invite's code, if `host` may try one now (a try is counted from here on)."""
        password = await trio.to_thread.run_sync(self.store.invite_password, number)
        if password is not None and (wait := await self._try_now(host)):
            raise LocalProtocolError(
                ErrorCode.BUSY,
                f"too many join tries from {host}; wait {math.ceil(wait)} s and try again",
            )
        return password

    async def _try_now(self, host: str) -> float:
        if self.shared is None:
            return self.guesses.try_now(host, trio.current_time())
        return await trio.to_thread.run_sync(
            self.shared.try_join, source_of(host), time.time(), self.guesses.wait_after,
            self.guesses.forget_after,
        )  # fmt: skip

    async def _forget(self, host: str) -> None:
        if self.shared is None:
            self.guesses.forget(host)
        else:
            await trio.to_thread.run_sync(self.shared.forget_tries, source_of(host))

    async def _grant(
        self, host: str, slot: Slot, number: int, name: str, public_key: bytes
    ) -> Grant:
        assert self.authority is not None
        await self._forget(host)  # the code proved right:
        self.conversations.introduced(slot)  # never cut off between enrolling and answering
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
        """Revoke a player at once, and answer only once every other online peer (of every
        database peer) said it refuses the name too (or `request.wait` is over: the report
        names who did not say so).

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
        for session in sessions:
            if session.peer.name == name:
                with trio.move_on_after(1), contextlib.suppress(ProtocolError):
                    await session.channel.send(Revoked([name]))  # tell it why
                session.scope.cancel()
        told, not_told = [], []  # type: tuple[list[str], list[str]]

        async def count(refusing: Awaitable[tuple[list[str], list[str]]]) -> None:
            said, unsaid = await refusing
            told.extend(said)
            not_told.extend(unsaid)

        async with trio.open_nursery() as nursery:  # here, and at the other database peers
            nursery.start_soon(count, refusals(sessions, name, request.wait))
            if self.elsewhere is not None:
                nursery.start_soon(count, self.elsewhere(name, request.wait))
        told, not_told = sorted(set(told)), sorted(set(not_told) - set(told))
        log.info("%s was kicked out of the network; %d online peers refuse it now%s", name,
                 len(told), f", not told: {', '.join(not_told)}" if not_told else "")  # fmt: skip
        await channel.send(KickReport(name, told, not_told))
