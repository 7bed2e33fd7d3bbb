"""A peer list compressed once for every welcome that carries it.

Each `welcome` is compressed (a `Z` frame), and most of it is the peer list, the same for every
welcome of a push round: compressing each whole cost the database peer O(N) per join, O(N^2)
for a storm (a fifth of its CPU in a plain storm of 2,000). A zlib stream may be put together
from deflate pieces compressed apart, each ended by a full flush (it refers to nothing before
it): the welcome's own head and tail are compressed per welcome, the list's piece once, and the
checksum (Adler-32) is combined from the pieces'. What goes on the wire is an ordinary zlib
stream: receivers decode it as ever.
"""

from __future__ import annotations

import os
import zlib

import msgspec

LEVEL = 1
"""zlib's fastest level, as for every compressed frame."""
_BASE = 65521
"""Adler-32's modulus."""
_HEADER = b"\x78\x01"
"""A zlib stream's header for level 1 (32 KiB window, no dictionary)."""
_MARK = msgspec.Raw(b"\xc4\x10" + os.urandom(16))
"""Stands in for the list while the rest of a welcome is encoded (16 random bytes as
MessagePack: found once in what surrounds it, never by chance)."""


class Piece:
    """A list's MessagePack (`raw`, to go inside messages as it is) and its deflate piece
    (full-flushed) and checksum: made once a push round, handed to every welcome's encoding."""

    __slots__ = ("adler", "block", "raw")

    def __init__(self, raw: msgspec.Raw) -> None:
        self.raw = raw
        self.block = _deflate(bytes(raw), zlib.Z_FULL_FLUSH)
        self.adler = zlib.adler32(bytes(raw))


def mark() -> msgspec.Raw:
    """What to encode in the list's place (then `split` around it)."""
    return _MARK


def split(encoded: bytes) -> tuple[bytes, bytes]:
    """The MessagePack before and after the mark."""
    at = encoded.index(bytes(_MARK))
    return encoded[:at], encoded[at + len(bytes(_MARK)) :]


def zipped(head: bytes, piece: Piece, tail: bytes) -> bytes:
    """The zlib stream of head + the piece's list + tail, compressing only head and tail."""
    adler = combine(zlib.adler32(head), piece.adler, len(bytes(piece.raw)))
    adler = combine(adler, zlib.adler32(tail), len(tail))
    return b"".join(
        (
            _HEADER,
            _deflate(head, zlib.Z_FULL_FLUSH),
            piece.block,
            _deflate(tail, zlib.Z_FINISH),
            adler.to_bytes(4, "big"),
        )
    )


def combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from theirs (zlib's
    `adler32_combine`, which Python does not offer)."""
    rem = second_length % _BASE
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % _BASE
    sum1 = (sum1 + (second & 0xFFFF) + _BASE - 1) % _BASE
    sum2 = (sum2 + (first >> 16) + (second >> 16) + _BASE - rem) % _BASE
    return sum1 | (sum2 << 16)


def _deflate(data: bytes, end: int) -> bytes:
    """Raw deflate of `data`, ended by a full flush (more may follow) or a finish."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(end)
