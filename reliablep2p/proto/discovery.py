"""LAN discovery datagrams, without I/O: the database peer's `Announce` and a player's `Query`.

A datagram is ``rp2p`` (4 bytes), a version byte, then one MessagePack message, at most
`MAX_DATAGRAM` bytes in all. The port is open to the whole LAN, so `decode_datagram` never
raises: anything that is not a well-formed message of our version (another program's traffic,
a stranger's garbage, a newer version) is `None`, to be ignored. `net/discovery.py` moves them.
"""

from __future__ import annotations

import ipaddress

import msgspec

from .errors import ErrorCode, LocalProtocolError
from .tags import TAG_BYTES

MAGIC = b"rp2p"
DISCOVERY_VERSION = 1
MAX_DATAGRAM = 512
"""Well under any LAN's MTU: an announcement is never fragmented."""
MAX_NETWORK_NAME = 64
"""Bytes of a network's name (the host's machine name, by default)."""
DISCOVERY_PORT = 9000
"""UDP, the same number as the database peer's default TCP port."""
DISCOVERY_TIMEOUT = 2.0
"""How long a player waits for any host to answer before it gives up."""

Addr = tuple[str, int]


class Host(msgspec.Struct):
    """A database peer that answered: its network, its name, the addresses it was heard at.

    Here, not in `net/discovery.py`, so a player that joins where it did before (no asking on
    the LAN) starts without importing the sockets part."""

    tag: bytes
    name: str
    addresses: list[Addr] = msgspec.field(default_factory=list)

    def add(self, address: Addr) -> None:
        """Another address; ones other machines can reach come before this machine's own."""
        if address not in self.addresses:
            self.addresses.append(address)
            self.addresses.sort(key=lambda a: ipaddress.IPv4Address(a[0]).is_loopback)

    @property
    def address(self) -> Addr:
        return self.addresses[0]


class Announce(msgspec.Struct, frozen=True, tag="announce"):
    """A database peer says: network `tag`, called `name`, takes players at `host:port` (TCP)."""

    tag: bytes
    name: str
    host: str
    port: int


class Query(msgspec.Struct, frozen=True, tag="query"):
    """A player asks every database peer (or only those of network `tag`) to announce at once."""

    tag: bytes = b""


Datagram = Announce | Query

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Datagram] = msgspec.msgpack.Decoder(Datagram)
_HEADER = MAGIC + bytes([DISCOVERY_VERSION])


def encode_datagram(message: Datagram) -> bytes:
    """The bytes of one datagram; our own oversized or invalid message is a local error."""
    problem = datagram_problem(message)
    if problem:
        raise LocalProtocolError(ErrorCode.MALFORMED, f"cannot announce this: {problem}")
    data = _HEADER + _encoder.encode(message)
    if len(data) > MAX_DATAGRAM:
        raise LocalProtocolError(ErrorCode.TOO_LARGE, f"datagram of {len(data)} bytes")
    return data


def decode_datagram(data: bytes) -> Datagram | None:
    """The message in a datagram, or None for anything we should ignore."""
    if len(data) > MAX_DATAGRAM or not data.startswith(_HEADER):
        return None
    try:
        message = _decoder.decode(data[len(_HEADER) :])
    except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
        return None
    return None if datagram_problem(message) else message


def datagram_problem(message: Datagram) -> str | None:
    """Why a message is not one to send or believe, or None."""
    if isinstance(message, Query):
        return None if len(message.tag) in (0, TAG_BYTES) else "a tag has 16 bytes"
    if len(message.tag) != TAG_BYTES:
        return "a tag has 16 bytes"
    if not 0 < message.port < 65536:
        return f"port {message.port} is out of range"
    if not message.name or len(message.name.encode()) > MAX_NETWORK_NAME:
        return f"a network's name has 1 to {MAX_NETWORK_NAME} bytes"
    if not message.name.isprintable():
        return "a network's name is printable text"
    try:
        address = ipaddress.IPv4Address(message.host)
    except ValueError:
        return f"{message.host!r} is not an IPv4 address"
    if address.is_unspecified or address.is_multicast:
        return f"{message.host} is not an address to dial"
    return None
