"""How a node calls another: one place for our `Hello`, TLS and whom the other end must be."""

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
from ..proto import ErrorCode, PeerInfo
from .peerlist import Addr, PeerList


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
        channel = await open_channel(
            host, port, name=self.name, listen_port=self.port, tls=self.tls, expect=expect,
            handshake_timeout=handshake_timeout,
        )  # fmt: skip
        if self.tls is not None:
            who = certificate_name(channel.stream)
            if who in self.revoked:
                await channel.aclose()
                raise ConnectionLost(ErrorCode.FORBIDDEN, f"{who} was kicked out of the network")
        return channel
