"""How a node calls another: one place for our `Hello`, TLS and whom the other end must be.

A call to a node called before resumes that TLS 1.3 session (the ticket it sent then): no
certificates are signed or checked again, a handshake's dearest part, and a flash crowd's
fetchers call each other for every file. The other end's name is still the one its
certificate gave when the session began, and it is checked against the revoked names on every
call, resumed or not, at both ends (`net/server.py` refuses a kicked caller likewise).
"""

from __future__ import annotations

import ssl
from collections.abc import Collection

from ..net.channel import (
    DATABASE_HANDSHAKE_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    Channel,
    ConnectionLost,
    certificate_name,
    open_channel,
)
from ..net.identity import DATABASE_NAME
from ..net.tls import TLSStream
from ..proto import ErrorCode, PeerInfo
from .peerlist import Addr, PeerList

SESSIONS = 256
"""TLS sessions kept to resume, one per node called (the oldest goes first)."""


class Dialer:
    """Opens channels as this node: ``async with await dialer.open(peer) as channel: ...``.

    Over TLS the other end's certificate must name the peer we think we are calling (if the peer
    list knows it), and a certificate the host revoked is refused, whoever presents it.
    """

    def __init__(
        self,
        *,
        name: str,
        port: int,
        tls: ssl.SSLContext | None,
        peers: PeerList,
        revoked: Collection[str],
        database: Addr | None,
    ) -> None:
        self.name = name
        self.port = port
        self.tls = tls
        self.peers = peers
        self.revoked = revoked
        self.database = database
        self._sessions: dict[tuple[str, int, str | None], ssl.SSLSession] = {}

    async def open(self, peer: PeerInfo) -> Channel:
        """Call a peer; over TLS its certificate must name it, if we know its name."""
        return await self.open_address(peer.host, peer.port)

    async def open_address(self, host: str, port: int) -> Channel:
        known = self.peers.peers.get((host, port))
        return await self.connect(host, port, known.name if known else None)

    async def open_database(self) -> Channel:
        assert self.database is not None
        return await self.connect(
            *self.database, DATABASE_NAME, handshake_timeout=DATABASE_HANDSHAKE_TIMEOUT
        )

    async def connect(
        self,
        host: str,
        port: int,
        expect: str | None,
        *,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ) -> Channel:
        key = (host, port, expect)
        channel = await open_channel(
            host, port, name=self.name, listen_port=self.port, tls=self.tls, expect=expect,
            handshake_timeout=handshake_timeout, session=self._sessions.pop(key, None),
        )  # fmt: skip
        if self.tls is not None:
            who = certificate_name(channel.stream)
            if who in self.revoked:
                await channel.aclose()
                raise ConnectionLost(ErrorCode.FORBIDDEN, f"{who} was kicked out of the network")
            if isinstance(channel.stream, TLSStream):
                channel.stream.on_close = lambda session: self._keep(key, session)
        return channel

    def _keep(self, key: tuple[str, int, str | None], session: ssl.SSLSession) -> None:
        self._sessions.pop(key, None)
        self._sessions[key] = session
        while len(self._sessions) > SESSIONS:
            del self._sessions[next(iter(self._sessions))]
