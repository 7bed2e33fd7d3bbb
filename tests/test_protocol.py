"""The wire codec and the name rules, with no sockets: properties over every message and any bytes.

test_fuzz.py drives whole request handlers; this file pins down the layer under them: what
`FrameDecoder` makes of a byte stream however it is split, and that malformed input of any shape
ends in the one typed `ProtocolError`.
"""

from __future__ import annotations

import itertools
import struct
import typing
import unicodedata
import zlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reliablep2p.proto import (
    MAX_DATA_BODY,
    MAX_MESSAGE_BODY,
    MAX_NAME_BYTES,
    PROTOCOL_VERSION,
    ErrorCode,
    FrameDecoder,
    Hello,
    Message,
    PeerInfo,
    ProtocolError,
    UpdatePeers,
    Welcome,
    check_name,
    check_version,
    data_frame_header,
    decode_body,
    encode_message,
)
from reliablep2p.proto.frames import KIND_DATA, KIND_MESSAGE, KIND_ZIPPED

Frame = Message | bytes


# ------------------------------------------------------------------------ strategies


def strategy_for(info: msgspec.inspect.Type) -> st.SearchStrategy[typing.Any]:
    """Values of any type the messages use, derived from the structs themselves.

    Built from `msgspec.inspect`, so a message or field added later is covered without touching
    this file; a field of a kind not handled here fails loudly instead of being skipped.
    """
    if isinstance(info, msgspec.inspect.IntType):
        return st.integers(-(2**63), 2**64 - 1)  # the MessagePack range
    if isinstance(info, msgspec.inspect.FloatType):
        return st.floats(allow_nan=False)
    if isinstance(info, msgspec.inspect.BoolType):
        return st.booleans()
    if isinstance(info, msgspec.inspect.StrType):
        return st.text(max_size=20)
    if isinstance(info, msgspec.inspect.BytesType):
        return st.binary(max_size=40)
    if isinstance(info, msgspec.inspect.ListType):
        return st.lists(strategy_for(info.item_type), max_size=3)
    if isinstance(info, msgspec.inspect.TupleType):
        return st.tuples(*(strategy_for(item) for item in info.item_types))
    if isinstance(info, msgspec.inspect.DictType):
        return st.dictionaries(
            strategy_for(info.key_type), strategy_for(info.value_type), max_size=3
        )
    if isinstance(info, msgspec.inspect.StructType):
        fields = {field.name: strategy_for(field.type) for field in info.fields}
        return st.builds(info.cls, **fields)
    if isinstance(info, msgspec.inspect.UnionType):
        return st.one_of([strategy_for(member) for member in info.types])
    raise NotImplementedError(f"no strategy for {info!r}: extend strategy_for")


MESSAGE_TYPES = typing.get_args(Message)
messages: st.SearchStrategy[Message] = strategy_for(msgspec.inspect.type_info(Message))
chunks = st.binary(max_size=300)
frames = st.lists(st.one_of(messages, chunks), max_size=8)


def encode(frame: Frame) -> bytes:
    if isinstance(frame, bytes):
        return data_frame_header(len(frame)) + frame
    return encode_message(frame)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` in pieces, cut at the given offsets (taken modulo its length)."""
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def decode_stream(pieces: list[bytes]) -> list[Frame]:
    """Feed the pieces one at a time, draining every frame that is complete after each."""
    decoder = FrameDecoder()
    out: list[Frame] = []
    for piece in pieces:
        decoder.feed(piece)
        while (frame := decoder.next_frame()) is not None:
            out.append(frame)
    return out


cuts = st.lists(st.integers(0, 2**20), max_size=12)


# ------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("kind", MESSAGE_TYPES, ids=lambda kind: kind.__name__)
@settings(max_examples=40)
@given(data=st.data())
def test_every_message_type_survives_encode_and_decode(
    kind: type[Message], data: st.DataObject
) -> None:
    message = data.draw(strategy_for(msgspec.inspect.type_info(kind)))
    [decoded] = decode_stream([encode_message(message)])
    assert type(decoded) is kind and decoded == message


@settings(max_examples=300)
@given(sent=frames, cuts=cuts)
def test_a_stream_of_frames_decodes_the_same_however_it_is_split(
    sent: list[Frame], cuts: list[int]
) -> None:
    stream = b"".join(encode(f) for f in sent)
    received = decode_stream(split(stream, cuts))
    assert received == sent


@given(sent=frames, cut=st.integers(1, 2**20))
def test_a_truncated_stream_yields_the_whole_frames_and_waits_for_the_rest(
    sent: list[Frame], cut: int
) -> None:
    """A frame cut short is never mistaken for a message: the decoder waits for more bytes."""
    encoded = [encode(f) for f in sent]
    stream = b"".join(encoded)
    if not stream:
        return
    end = cut % len(stream)
    whole = sum(1 for i in range(len(encoded)) if len(b"".join(encoded[: i + 1])) <= end)
    received = decode_stream([stream[:end]])
    assert received == sent[:whole]


# ----------------------------------------------------------------------------- garbage


def message_frame(payload: bytes) -> bytes:
    """A well-formed frame around an arbitrary MessagePack payload."""
    body = KIND_MESSAGE + payload
    return struct.pack(">I", len(body)) + body


TAGS = [t.__struct_config__.tag for t in MESSAGE_TYPES]
msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text()
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip
lookalikes = st.builds(
    lambda tag, fields: {"type": tag, **fields},
    st.sampled_from(TAGS) | st.text(max_size=12),
    st.dictionaries(st.sampled_from(["version", "name", "port", "files", "file", "holders",
                                     "size", "hash", "chunks", "code", "you", "peers"]),
                    msgpack_values, max_size=4),
)  # fmt: skip


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buffer = bytearray(data)
    for position, value in edits:
        if buffer:
            buffer[position % len(buffer)] = value
    return bytes(buffer)


garbage = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(message_frame),
    msgpack_values.map(lambda v: message_frame(msgspec.msgpack.encode(v))),
    lookalikes.map(lambda v: message_frame(msgspec.msgpack.encode(v))),
    st.builds(
        mutate,
        frames.map(lambda fs: b"".join(encode(f) for f in fs)),
        st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4),
    ),
)


@settings(max_examples=1000)
@given(junk=garbage, cuts=cuts)
def test_garbage_in_gives_frames_or_one_protocol_error_never_another_exception(
    junk: bytes, cuts: list[int]
) -> None:
    try:
        received = decode_stream(split(junk, cuts))
    except ProtocolError as exc:
        assert exc.code in {ErrorCode.MALFORMED, ErrorCode.TOO_LARGE}
        return
    assert all(type(frame) is bytes or isinstance(frame, MESSAGE_TYPES) for frame in received)


@given(junk=garbage)
def test_both_decoding_paths_agree_on_any_input(junk: bytes) -> None:
    """`next_frame` (used by the channel) and `decode_body(next_body())` are the same decoder."""

    def run(step: typing.Callable[[FrameDecoder], Frame | None]) -> list[Frame] | str:
        decoder = FrameDecoder()
        decoder.feed(junk)
        out: list[Frame] = []
        try:
            while (frame := step(decoder)) is not None:
                out.append(frame)
        except ProtocolError as exc:
            return exc.code
        return out

    def via_body(decoder: FrameDecoder) -> Frame | None:
        body = decoder.next_body()
        return None if body is None else decode_body(body)

    assert run(FrameDecoder.next_frame) == run(via_body)


@given(length=st.integers(max(MAX_MESSAGE_BODY, MAX_DATA_BODY) + 1, 2**32 - 1))
def test_an_absurd_length_is_refused_from_its_four_bytes_alone(length: int) -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">I", length))
    with pytest.raises(ProtocolError) as caught:
        decoder.next_frame()
    assert caught.value.code == ErrorCode.TOO_LARGE


@given(length=st.integers(MAX_DATA_BODY + 1, MAX_MESSAGE_BODY))
def test_a_data_frame_longer_than_a_chunk_is_refused_before_its_body(length: int) -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">I", length) + KIND_DATA)
    with pytest.raises(ProtocolError) as caught:
        decoder.next_frame()
    assert caught.value.code == ErrorCode.TOO_LARGE


@given(kind=st.binary(min_size=1, max_size=1).filter(lambda k: k not in (b"M", b"Z", b"D")))
def test_an_unknown_frame_kind_is_malformed(kind: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">I", 10) + kind)  # refused before the rest of the body arrives
    with pytest.raises(ProtocolError) as caught:
        decoder.next_frame()
    assert caught.value.code == ErrorCode.MALFORMED


# ------------------------------------------------------------- peer lists (protocol 2)


def crowd(count: int) -> list[PeerInfo]:
    return [PeerInfo(f"player-{i}", f"10.0.{i // 250}.{i % 250 + 1}", 8001) for i in range(count)]


def test_a_peer_list_entry_travels_as_an_array_without_field_names() -> None:
    hidden = PeerInfo("bob", "10.0.0.3", 8002, reachable=False)
    update = UpdatePeers(base=0, version=2, joined=[PeerInfo("ann", "10.0.0.2", 8001), hidden])
    raw = msgspec.msgpack.decode(encode_message(update)[5:])
    assert raw["joined"] == [["ann", "10.0.0.2", 8001, True], ["bob", "10.0.0.3", 8002, False]]
    assert len(msgspec.msgpack.encode(PeerInfo("p1234", "127.0.0.1", 40123))) == 21


@pytest.mark.parametrize("kind", [UpdatePeers, Welcome])
def test_a_big_peer_list_is_compressed_and_decodes_the_same_however_it_is_split(
    kind: type[UpdatePeers | Welcome],
) -> None:
    peers = crowd(2000)
    if kind is UpdatePeers:
        message: Message = UpdatePeers(base=3, version=2003, joined=peers)
    else:
        message = Welcome(you=peers[0], peers=peers[1:], peers_version=7, catalog=[])
    frame = encode_message(message)
    assert frame[4:5] == KIND_ZIPPED
    plain = len(msgspec.msgpack.encode(message))
    assert len(frame) < plain / 3, (len(frame), plain)
    assert decode_stream([frame[i : i + 1000] for i in range(0, len(frame), 1000)]) == [message]
    assert decode_body(frame[4:]) == message


def test_a_small_peer_list_stays_plain() -> None:
    assert encode_message(UpdatePeers(base=0, version=1, joined=crowd(3)))[4:5] == KIND_MESSAGE


def zipped_frame(payload: bytes) -> bytes:
    body = KIND_ZIPPED + payload
    return struct.pack(">I", len(body)) + body


def test_a_compressed_message_over_the_cap_is_refused_without_unpacking_it_whole() -> None:
    bomb = zlib.compress(b"\x00" * (MAX_MESSAGE_BODY + 1000), 9)  # 16 KiB that unpack to 16 MiB
    assert len(bomb) < 20_000
    with pytest.raises(ProtocolError) as caught:
        decode_stream([zipped_frame(bomb)])
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_a_peer_list_that_would_unpack_over_the_cap_is_refused_by_its_sender() -> None:
    """It compresses below the cap, but no receiver would unpack it: it must not go out."""
    peers = [PeerInfo("p" * 60, "127.0.0.1", 7000)] * (MAX_MESSAGE_BODY // 60)
    with pytest.raises(ProtocolError) as caught:
        encode_message(UpdatePeers(base=0, version=1, joined=peers))
    assert caught.value.code == ErrorCode.TOO_LARGE


@given(garbage=st.binary(max_size=300))
def test_compressed_garbage_is_malformed(garbage: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_stream([zipped_frame(garbage)])
    assert caught.value.code == ErrorCode.MALFORMED


@given(cut=st.integers(1, 2**16))
def test_a_compressed_message_cut_short_or_padded_is_malformed(cut: int) -> None:
    payload = encode_message(UpdatePeers(base=0, version=1, joined=crowd(500)))[5:]
    for broken in (payload[: cut % len(payload)], payload + b"\x00"):
        with pytest.raises(ProtocolError) as caught:
            decode_stream([zipped_frame(broken)])
        assert caught.value.code == ErrorCode.MALFORMED


def test_an_empty_frame_is_malformed() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x00\x00\x00")
    with pytest.raises(ProtocolError) as caught:
        decoder.next_frame()
    assert caught.value.code == ErrorCode.MALFORMED


@given(tag=st.text(max_size=20).filter(lambda t: t not in TAGS), fields=msgpack_values)
def test_an_unknown_message_tag_is_malformed(tag: str, fields: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_stream([message_frame(msgspec.msgpack.encode({"type": tag, "x": fields}))])
    assert caught.value.code == ErrorCode.MALFORMED


@given(message=messages, cut=st.integers(1, 2**16))
def test_a_message_body_cut_short_inside_its_frame_is_malformed(message: Message, cut: int) -> None:
    """The length prefix says the frame is complete but the MessagePack inside is not."""
    payload = encode_message(message)[5:]
    end = cut % len(payload) if len(payload) > 1 else 0
    with pytest.raises(ProtocolError) as caught:
        decode_stream([message_frame(payload[:end])])
    assert caught.value.code == ErrorCode.MALFORMED


@given(version=st.integers(-(2**63), 2**64 - 1).filter(lambda v: v != PROTOCOL_VERSION))
def test_a_hello_with_another_version_decodes_and_is_refused_as_version(version: int) -> None:
    [hello] = decode_stream([encode_message(Hello(version=version, name="future", port=1))])
    assert isinstance(hello, Hello)
    with pytest.raises(ProtocolError) as caught:
        check_version(hello)
    assert caught.value.code == ErrorCode.VERSION


def test_the_current_version_is_accepted() -> None:
    check_version(Hello(version=PROTOCOL_VERSION, name="now", port=1))


# ------------------------------------------------------------------------------- names

ordinary = (
    st.text(
        st.characters(categories=["L", "N", "M"]) | st.sampled_from(" -_()[]!+,;=@~'&"),
        min_size=1,
        max_size=60,
    )
    .map(lambda n: unicodedata.normalize("NFC", n))  # the one form names travel in
    .filter(lambda n: n == n.strip())
)


def refused(name: str) -> str:
    with pytest.raises(ProtocolError) as caught:
        check_name(name)
    assert caught.value.code == ErrorCode.BAD_NAME
    return caught.value.detail


@given(name=ordinary, extension=st.sampled_from(["", ".txt", ".tar.gz", ".日本"]))
def test_ordinary_unicode_names_are_accepted(name: str, extension: str) -> None:
    check_name(name + extension)


@pytest.mark.parametrize(
    "name", ["naïve café.txt", "Ünïcödé", "日本語のファイル.md", "файл 2.pdf", "🎵 song.mp3",
             "a..b", "trailing.", "x" * MAX_NAME_BYTES],
)  # fmt: skip
def test_names_users_pick_are_accepted(name: str) -> None:
    check_name(name)


@given(
    before=ordinary,
    after=ordinary,
    bad=st.sampled_from(["/", "\\", "\x00", "/../", "\\..\\", "\n", "\x7f", "\x1b"]),
)
def test_a_separator_nul_or_control_character_anywhere_is_refused(
    before: str, after: str, bad: str
) -> None:
    refused(before + bad + after)


@given(rest=ordinary | st.just("") | st.just("."))
def test_a_leading_dot_is_refused_which_covers_dot_dot(rest: str) -> None:
    refused("." + rest)


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "..\\x", "/", "/etc/passwd", " x", "x "])
def test_known_tricks_are_refused(name: str) -> None:
    refused(name)


@given(name=ordinary.filter(lambda n: len(n.encode()) <= MAX_NAME_BYTES))
def test_a_name_over_the_byte_limit_is_refused(name: str) -> None:
    too_long = name * (MAX_NAME_BYTES // len(name.encode()) + 1)
    assert "longer than" in refused(too_long)


@pytest.mark.parametrize(
    "payload", [b"\x81\xa4type\xa1\x80", b"\x82\xa4type\xa5hello\xa4name\xa2\xc3\x28"]
)
def test_a_string_that_is_not_utf8_is_malformed(payload: bytes) -> None:
    """Found by the garbage property: msgspec raises UnicodeDecodeError for these, not DecodeError."""
    with pytest.raises(ProtocolError) as caught:
        decode_stream([message_frame(payload)])
    assert caught.value.code == ErrorCode.MALFORMED
