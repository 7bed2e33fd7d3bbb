"""Who may open a session: not a kicked name, not a name online already, not another's address,
and, on a network with certificates, nobody without one."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from ..net.channel import Channel
from ..peer.peerlist import Addr, PeerRegistry
from ..proto import Connect, ErrorCode, Hello, PeerInfo, RemoteProtocolError
from .sessions import Session

PLAINTEXT_JOIN = ("this network's players have certificates: join it with a code from its host "
                  "(rp2p-tui --code CODE), without --insecure-lan")  # fmt: skip
"""Why a `connect` in plaintext is refused: a player started with --insecure-lan. It read
"Connect is not a request here", and tried again and again."""


async def refuse_plaintext_join(channel: Channel, hello: Hello, request: Connect) -> None:
    """A `connect` without TLS, at a database peer with certificates (its plaintext table)."""
    raise RemoteProtocolError(ErrorCode.NOT_A_MEMBER, PLAINTEXT_JOIN)


def admit(
    peer: PeerInfo,
    sessions: MutableMapping[Addr, Session],
    registry: PeerRegistry,
    revoked: set[str],
    addr_of: Mapping[str, Addr],
) -> None:
    """Refuse a kicked name, a name online elsewhere and another player's address (the
    address is tied to the name: nobody displaces someone else's session); a player that
    joins again from its own address ends its stale session. `addr_of`: where each online
    player's session is, by name (a join storm checks its name in O(1))."""
    if peer.name in revoked:  # kicked while its connection was being set up
        raise RemoteProtocolError(ErrorCode.FORBIDDEN, f"{peer.name} was kicked out")
    if addr_of.get(peer.name, peer.addr) != peer.addr:
        raise RemoteProtocolError(
            ErrorCode.NAME_TAKEN, f"player name {peer.name} is already online"
        )
    old = sessions.get(peer.addr)
    if old is None:
        return
    if old.peer.name != peer.name:
        raise RemoteProtocolError(
            ErrorCode.ADDRESS_TAKEN,
            f"{peer.host}:{peer.port} is {old.peer.name}'s address; connect with your own port",
        )
    del sessions[peer.addr]
    old.scope.cancel()
    registry.leave(peer.addr)
