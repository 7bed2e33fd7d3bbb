"""A welcome's peer list compressed once for every welcome of a push round (`proto/prezipped.py`):
what goes out is the same message, as an ordinary zlib stream, and a list over the cap is still
refused by its sender."""

from __future__ import annotations

import zlib
from typing import cast

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliablep2p.proto import (
    MAX_MESSAGE_BODY,
    FileInfo,
    LocalProtocolError,
    PeerInfo,
    Welcome,
    decode_body,
    encode_raw,
    encode_welcome,
    prezipped,
)
from reliablep2p.proto.frames import KIND_MESSAGE, KIND_ZIPPED

from .test_protocol import crowd


def welcome(peers: object, you: PeerInfo) -> Welcome:
    catalog = [FileInfo(name="a.txt", size=3, hash=b"\x01" * 32, chunks=[b"\x01" * 32])]
    return Welcome(you=you, peers=cast("list[PeerInfo]", peers), peers_version=7,
                   catalog=catalog, revoked=["mallory"], databases=[("10.0.0.1", 9000)])  # fmt: skip


def test_welcomes_carry_a_list_compressed_once_and_decode_as_ever() -> None:
    """Each welcome's frame holds the list's deflate piece byte for byte (compressed once, not
    per welcome: O(N) a join), and decodes, as any zlib stream, to the very same message."""
    peers = crowd(2000)
    piece = prezipped.Piece(encode_raw(peers[1:]))
    for you in peers[:3]:
        frame = encode_welcome(welcome(piece.raw, you), piece)
        assert frame[4:5] == KIND_ZIPPED and piece.block in frame
        assert decode_body(frame[4:]) == welcome(peers[1:], you)
        assert zlib.decompress(frame[5:]) == msgspec.msgpack.encode(welcome(peers[1:], you))
        assert len(frame) < len(msgspec.msgpack.encode(welcome(peers[1:], you))) / 3


def test_a_welcome_with_a_short_list_stays_plain() -> None:
    peers = crowd(3)
    piece = prezipped.Piece(encode_raw(peers[1:]))
    frame = encode_welcome(welcome(piece.raw, peers[0]), piece)
    assert frame[4:5] == KIND_MESSAGE
    assert decode_body(frame[4:]) == welcome(peers[1:], peers[0])


def test_a_welcome_over_the_cap_is_refused_by_its_sender() -> None:
    peers = [PeerInfo("p" * 60, "127.0.0.1", 7000)] * (MAX_MESSAGE_BODY // 60)
    piece = prezipped.Piece(encode_raw(peers))
    with pytest.raises(LocalProtocolError):
        encode_welcome(welcome(piece.raw, peers[0]), piece)


@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_adler32_of_two_pieces_combines_as_zlib_computes_it_whole(a: bytes, b: bytes) -> None:
    assert prezipped.combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
