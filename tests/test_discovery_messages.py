"""Discovery datagrams, network tags and join codes, without sockets."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.net.identity import SecurityError, network_tag
from reliablep2p.proto import LocalProtocolError
from reliablep2p.proto.codes import WORDS, is_current, new_join_code, parse_code
from reliablep2p.proto.discovery import (
    MAX_DATAGRAM,
    Announce,
    Query,
    decode_datagram,
    encode_datagram,
)
from reliablep2p.proto.tags import TAG_WORDS, split_code, tag_words, tagged_code

TAG = bytes(range(16))
ANNOUNCE = Announce(TAG, "alice-laptop", "192.168.1.20", 9000)


# --------------------------------------------------------------------------- datagrams


def test_announce_and_query_round_trip() -> None:
    for message in (ANNOUNCE, Query(), Query(TAG)):
        data = encode_datagram(message)
        assert data.startswith(b"rp2p\x01") and len(data) <= MAX_DATAGRAM
        assert decode_datagram(data) == message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"rp2p",
        b"M-SEARCH * HTTP/1.1\r\n",  # another program's traffic on the port
        b"rp2p\x02" + encode_datagram(ANNOUNCE)[5:],  # a newer version
        b"rp2p\x01\xff\xfe",  # not MessagePack
        b"rp2p\x01" + msgspec.msgpack.encode({"type": "announce", "tag": TAG}),  # fields missing
        b"rp2p\x01" + msgspec.msgpack.encode({"type": "hello", "version": 1}),  # not ours here
        encode_datagram(ANNOUNCE) + b"x" * MAX_DATAGRAM,  # over the cap
    ],
)
def test_garbage_is_ignored(data: bytes) -> None:
    assert decode_datagram(data) is None


@pytest.mark.parametrize(
    "bad",
    [
        Announce(b"short", "alice", "192.168.1.20", 9000),
        Announce(TAG, "", "192.168.1.20", 9000),
        Announce(TAG, "x" * 65, "192.168.1.20", 9000),
        Announce(TAG, "bell\x07", "192.168.1.20", 9000),
        Announce(TAG, "alice", "0.0.0.0", 9000),
        Announce(TAG, "alice", "224.0.0.1", 9000),
        Announce(TAG, "alice", "evil.example", 9000),
        Announce(TAG, "alice", "192.168.1.20", 0),
        Announce(TAG, "alice", "192.168.1.20", 70000),
        Query(b"short"),
    ],
)
def test_an_announcement_that_cannot_be_dialled_is_neither_sent_nor_believed(bad: object) -> None:
    with pytest.raises(LocalProtocolError):
        encode_datagram(bad)  # type: ignore[arg-type]
    forged = b"rp2p\x01" + msgspec.msgpack.encode(bad)
    assert decode_datagram(forged) is None


@given(st.binary(max_size=MAX_DATAGRAM + 8))
def test_no_datagram_makes_decoding_raise(data: bytes) -> None:
    decode_datagram(data)
    decode_datagram(b"rp2p\x01" + data)


# ------------------------------------------------------------------------- tags, codes


def test_the_tag_is_the_networks_public_key_so_two_networks_differ(tmp_path: Path) -> None:
    one = NetworkAuthority.load_or_create(tmp_path / "one")
    again = NetworkAuthority.load_or_create(tmp_path / "one")
    other = NetworkAuthority.load_or_create(tmp_path / "other")
    assert len(one.tag) == 16 and one.tag == again.tag == network_tag(one.ca_pem)
    assert one.tag != other.tag
    with pytest.raises(SecurityError):
        network_tag(b"not a certificate")


def test_the_tag_word_is_the_tags_first_eleven_bits_as_a_code_word() -> None:
    assert len(TAG_WORDS) == 2048 and TAG_WORDS == WORDS  # the invite's own list
    assert tag_words(bytes(16)) == (WORDS[0],)
    assert tag_words(b"\xff\xe0" + bytes(14)) == (WORDS[2047],)
    assert tag_words(b"\x00\x20" + bytes(14)) == (WORDS[1],)
    with pytest.raises(ValueError):
        tag_words(b"short")


def test_a_code_starts_with_its_networks_word_and_the_invite_is_its_password() -> None:
    invite = new_join_code(7)
    code = tagged_code(invite, TAG)
    assert code == f"{tag_words(TAG)[0]}-{invite}"
    parsed = split_code(code)
    assert parsed.words == tag_words(TAG) and parsed.invite == invite and str(parsed) == code
    assert parsed.matches(TAG) and not parsed.matches(b"\xff" * 16)
    assert parse_code(code) == parse_code(invite) == (7, invite.encode())
    assert is_current(code)


def test_codes_are_forgiving_of_spaces_case_and_a_missing_tag() -> None:
    word = tag_words(TAG)[0].upper()
    assert parse_code(f"  {word} 7 Orbit  lemon SAUSAGE ridge ") == (
        7,
        b"7-orbit-lemon-sausage-ridge",
    )
    old = split_code("7-orbit-lemon-sausage-ridge")  # from a host that did not tag its codes
    assert old.words == () and old.network == "" and old.matches(TAG) and old.matches(bytes(16))


@pytest.mark.parametrize(
    "text, why",
    [
        ("orbit-lemon-sausage-ridge", "is not a join code"),
        ("piano-ridge-7-orbit-lemon-sausage-ridge", "one word naming the network"),
        ("pianno-7-orbit-lemon-sausage-ridge", "'pianno' is not a word of join codes"),
    ],
)
def test_a_mistyped_code_gets_one_line(text: str, why: str) -> None:
    with pytest.raises(SecurityError, match=why):
        parse_code(text)
