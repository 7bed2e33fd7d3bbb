"""Can the others reach a player where it says it listens? The database peer calls it back.

A player is listed at the address it listens on, which it tells in `connect` (or, listening on
every interface, the address the database peer sees it call from). The database peer calls that
address once: over TLS the answer must come from the player's own certificate. An address the
player does not call from is checked before it is listed there, briefly, so nobody can be listed
at another's address; the address it calls from is listed at once and checked after the welcome,
so a join storm's joins wait for no call back. A player that cannot be reached back is listed as
unreachable (or marked so by a later `update_peers`), and the others skip it instead of timing
out on it.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable

import trio

from ..net.channel import open_channel
from ..net.identity import DATABASE_NAME
from ..proto import ErrorCode, PeerInfo, ProtocolError, RemoteProtocolError

REACH_BACK_TIMEOUT = 2.0
"""How long the call back may take while the join waits for it; a LAN answers in milliseconds."""
LATER_TIMEOUT = 10.0
"""How long it may take after the welcome: nobody waits, and a database peer busy with a join
storm answers late (a player is not marked unreachable for the host's own backlog)."""
AT_ONCE = 32
"""Calls back after welcomes in flight at once: a storm's checks queue instead of flooding."""
LATER_TRIES = 2
"""Calls back after a welcome before a silent player is marked unreachable."""
DEFER_LIMIT = 30.0
"""A call back after the welcome waits while the host is busy letting players in (a join
storm's handshakes come first), but no longer than this."""


def listen_address(told: str, seen: str) -> str:
    """The address a player listens on: the one it told in `connect`, or where it calls from."""
    if not told:
        return seen
    try:
        address = ipaddress.ip_address(told)
    except ValueError:
        address = None
    if address is None or address.is_unspecified or address.is_multicast:
        raise RemoteProtocolError(
            ErrorCode.MALFORMED, "connect: host must be the IP address you listen on, or empty"
        )
    return str(address)


class ReachBack:
    """Calls a joining player back, as the database peer (with its certificate, over TLS)."""

    def __init__(
        self,
        tls: ssl.SSLContext | None,
        *,
        timeout: float = REACH_BACK_TIMEOUT,
        later_timeout: float = LATER_TIMEOUT,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.tls = tls
        self.timeout = timeout
        self.later_timeout = later_timeout
        self.busy = busy
        """True while the host is letting players in: calls back after welcomes wait."""
        self._at_once = trio.CapacityLimiter(AT_ONCE)

    async def problem(self, peer: PeerInfo, seen: str, *, later: bool = False) -> str | None:
        """Why `peer` cannot be reached at its address (`seen`: where it called from), or None;
        `later`: after its welcome (nobody waits, so the call may take longer)."""
        listens, calls = ipaddress.ip_address(peer.host), ipaddress.ip_address(seen)
        if listens.is_loopback and not calls.is_loopback:
            return f"it listens on {peer.host}, its own machine only"
        if not later:
            return (await self._call(peer, self.timeout))[0]
        for _ in range(LATER_TRIES):  # silence may be the host's own backlog: ask once more
            async with self._at_once:  # a storm's checks queue; the timeout starts at their turn
                with trio.move_on_after(DEFER_LIMIT):
                    while self.busy():  # noqa: ASYNC110 - the host's load, which its server keeps
                        await trio.sleep(0.1)
                problem, silent = await self._call(peer, self.later_timeout)
            if not silent:
                break
        return problem

    async def _call(self, peer: PeerInfo, timeout: float) -> tuple[str | None, bool]:
        """The problem (None: it answered), and whether it was silence (a timeout)."""
        with trio.move_on_after(timeout):
            try:
                channel = await open_channel(
                    peer.host, peer.port, name=DATABASE_NAME, listen_port=0,
                    tls=self.tls, expect=peer.name if self.tls else None,
                )  # fmt: skip
            except ProtocolError as exc:
                return exc.detail, exc.code == ErrorCode.TIMEOUT
            await channel.aclose()
            return None, False
        return f"{peer.host}:{peer.port} did not answer within {timeout:g} s", True
