"""Sets of chunk indices as bitfields: what a peer still fetching a file can serve, and the
resume record beside a partial file.

Chunk `i` is bit ``7 - i % 8`` of byte ``i // 8`` (the first chunk is the high bit of the first
byte, as in BitTorrent); a field for `count` chunks is exactly ``ceil(count / 8)`` bytes and its
spare bits are zero, so every set has one encoding.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ErrorCode, RemoteProtocolError


def bitfield_size(count: int) -> int:
    return (count + 7) // 8


def to_bitfield(indices: Iterable[int], count: int) -> bytes:
    """The bitfield of `indices` (each in ``range(count)``)."""
    field = bytearray(bitfield_size(count))
    for index in indices:
        if not 0 <= index < count:
            raise ValueError(f"chunk {index} is not in a file of {count} chunks")
        field[index >> 3] |= 0x80 >> (index & 7)
    return bytes(field)


def from_bitfield(field: bytes, count: int) -> set[int]:
    """The chunk indices set in `field`; a field of the wrong size, or with a spare bit set, is
    `RemoteProtocolError(MALFORMED)`."""
    if len(field) != bitfield_size(count):
        raise RemoteProtocolError(
            ErrorCode.MALFORMED, f"a bitfield of {len(field)} bytes for {count} chunks"
        )
    indices: set[int] = set()
    for position, byte in enumerate(field):
        if byte:
            base = position << 3
            indices.update(base + bit for bit in range(8) if byte & (0x80 >> bit))
    if indices and max(indices) >= count:
        raise RemoteProtocolError(ErrorCode.MALFORMED, "a bitfield with bits past the last chunk")
    return indices


def check_indices(indices: Iterable[int], count: int) -> None:
    """Refuse a chunk index outside the file (`RemoteProtocolError(MALFORMED)`)."""
    for index in indices:
        if not 0 <= index < count:
            raise RemoteProtocolError(
                ErrorCode.MALFORMED, f"chunk {index} is not in a file of {count} chunks"
            )
