"""The database peer on the LAN: the extra listener for join codes, and the announcements."""

from __future__ import annotations

import functools
import logging

import trio

from ..net.discovery import Beacon, lan_interfaces
from ..net.identity import DATABASE_NAME
from ..net.server import Server
from .membership import Membership

log = logging.getLogger("rp2p.db")


async def start_enrollment(
    nursery: trio.Nursery, membership: Membership, host: str, port: int, read_timeout: float
) -> int:
    """Players join with a code on a port of its own (as asked): the port it got."""
    enrollment = Server(
        {}, plaintext=membership.plaintext_handlers(), tls=None, revoked=(),
        read_timeout=read_timeout,
    )  # fmt: skip
    enrollment.name = DATABASE_NAME
    port = await enrollment.listen(nursery, host, port)
    log.info("players may also join with a code on port %d", port)
    return port


async def start_announcing(
    nursery: trio.Nursery, tag: bytes, network_name: str, host: str, port: int, udp_port: int
) -> Beacon | None:
    """Announce the network on the LAN; None if we cannot (players then need --db)."""
    find = functools.partial(lan_interfaces, host)
    beacon = Beacon(tag, network_name, port, find, port=udp_port)
    try:
        await nursery.start(beacon.run)
    except OSError as exc:
        log.warning("cannot announce on UDP port %d (%s): players need --db",
                    udp_port, exc.strerror or exc)  # fmt: skip
        return None
    log.info("announcing network %s on UDP port %d (%s)", network_name, udp_port,
             ", ".join(i.address for i in beacon.interfaces) or "nowhere")  # fmt: skip
    return beacon
