"""Frames, without I/O: a length prefix, then a body that says its kind.

Frame layout: 4-byte big-endian body length, then the body. The body's first byte says its kind:
``M`` (a MessagePack `Message`), ``Z`` (the same, zlib-compressed: the peer list, which every
player learns whole, is most of a join storm's bytes) or ``D`` (raw file bytes, at most one
chunk). `FrameDecoder` turns
any byte stream into frames and any malformed input into a single `RemoteProtocolError`; nothing
here touches a socket, so all of it is tested by feeding bytes.
"""

from __future__ import annotations

import struct
import zlib

import msgspec

from . import prezipped
from .errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from .messages import MAX_DATA_BODY, MAX_MESSAGE_BODY, Message, UpdatePeers, Welcome

_LENGTH = struct.Struct(">I")
KIND_MESSAGE = b"M"
KIND_ZIPPED = b"Z"
KIND_DATA = b"D"
_KINDS = (KIND_MESSAGE, KIND_ZIPPED, KIND_DATA)

COMPRESSED = (Welcome, UpdatePeers)
"""Messages that carry peer lists (names and addresses repeat): zlib'd when over `ZIP_OVER`.
Catalogs are mostly SHA-256 hashes, which do not compress; they stay plain otherwise."""
ZIP_OVER = 1024
ZIP_LEVEL = 1
"""zlib's fastest level: a peer list shrinks about as much as at the default, at a fraction of
the database peer's CPU (it compresses a welcome for every join)."""

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


# ---------------------------------------------------------------------------------- frames


def encode_message(message: Message) -> bytes:
    """One complete frame carrying `message` (a big peer list compressed)."""
    body = KIND_MESSAGE + _encoder.encode(message)
    if len(body) > MAX_MESSAGE_BODY:  # unpacked too: a receiver unpacks no more than the cap
        raise LocalProtocolError(
            ErrorCode.TOO_LARGE, f"message of {len(body)} bytes exceeds the frame cap"
        )
    if len(body) > ZIP_OVER and isinstance(message, COMPRESSED):
        zipped = KIND_ZIPPED + zlib.compress(memoryview(body)[1:], ZIP_LEVEL)
        if len(zipped) < len(body):
            body = zipped
    return _LENGTH.pack(len(body)) + body


def encode_welcome(message: Welcome, piece: prezipped.Piece) -> bytes:
    """The frame of a welcome carrying `piece`'s list (compressed once for all its welcomes)."""
    around = msgspec.structs.replace(message, peers=prezipped.mark())
    head, tail = prezipped.split(_encoder.encode(around))
    length = 1 + len(head) + len(piece.raw) + len(tail)
    if length > MAX_MESSAGE_BODY:
        raise LocalProtocolError(
            ErrorCode.TOO_LARGE, f"message of {length} bytes exceeds the frame cap"
        )
    body = b""
    if length > ZIP_OVER:
        body = KIND_ZIPPED + prezipped.zipped(head, piece, tail)
    if not body or len(body) >= length:
        body = b"".join((KIND_MESSAGE, head, bytes(piece.raw), tail))
    return _LENGTH.pack(len(body)) + body


def encode_raw(value: object) -> msgspec.Raw:
    """`value` as MessagePack, to go inside messages as it is: a peer list many welcomes carry
    is encoded once for all of them."""
    return msgspec.Raw(_encoder.encode(value))


def data_frame_header(length: int) -> bytes:
    """The bytes that go before `length` bytes of file data (send the data right after)."""
    if not 0 <= length < MAX_DATA_BODY:
        raise LocalProtocolError(
            ErrorCode.TOO_LARGE, f"data frame of {length} bytes exceeds one chunk"
        )
    return _LENGTH.pack(length + 1) + KIND_DATA


def decode_body(body: bytes | bytearray | memoryview) -> Message | bytes:
    """A frame body as a `Message`, or as raw `bytes` for a data frame."""
    if not body:
        raise RemoteProtocolError(ErrorCode.MALFORMED, "empty frame")
    kind = bytes(body[:1])
    if kind == KIND_DATA:
        return bytes(body[1:])
    if kind == KIND_ZIPPED:
        return _decode_message(_unzip(memoryview(body)[1:]))
    if kind != KIND_MESSAGE:
        raise RemoteProtocolError(ErrorCode.MALFORMED, f"unknown frame kind {kind!r}")
    return _decode_message(memoryview(body)[1:])


def _unzip(payload: bytes | memoryview) -> bytes:
    """A compressed message's MessagePack, never more than the frame cap (no zip bomb)."""
    unzip = zlib.decompressobj()
    try:
        plain = unzip.decompress(payload, MAX_MESSAGE_BODY)
    except zlib.error as exc:
        raise RemoteProtocolError(ErrorCode.MALFORMED, f"undecodable compression: {exc}") from None
    if unzip.unconsumed_tail:
        raise RemoteProtocolError(
            ErrorCode.TOO_LARGE, f"compressed message over the {MAX_MESSAGE_BODY}-byte cap"
        )
    if not unzip.eof or unzip.unused_data:
        raise RemoteProtocolError(ErrorCode.MALFORMED, "compressed message cut short or padded")
    return plain


def _decode_message(payload: bytes | memoryview) -> Message:
    try:
        message: Message = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(ErrorCode.MALFORMED, f"invalid message: {exc}") from None
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError(ErrorCode.MALFORMED, f"undecodable message: {exc}") from None
    except UnicodeDecodeError:  # msgspec raises it for a string that is not UTF-8
        raise RemoteProtocolError(
            ErrorCode.MALFORMED, "a string in the message is not UTF-8"
        ) from None
    return message


class FrameDecoder:
    """Accumulates received bytes and yields complete frame bodies.

    Rejects a length prefix over the caps as soon as the 4 prefix bytes arrive, so an absurd
    length costs nothing. `data_allowed` is False until the conversation expects file bytes.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def _frame_end(self) -> int | None:
        """Where the frame at the head of the buffer ends, once it is all here; checks caps."""
        if len(self._buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer)
        if length == 0:
            raise RemoteProtocolError(ErrorCode.MALFORMED, "empty frame")
        if length > max(MAX_MESSAGE_BODY, MAX_DATA_BODY):
            raise RemoteProtocolError(
                ErrorCode.TOO_LARGE, f"frame of {length} bytes is over the cap"
            )
        if len(self._buffer) < _LENGTH.size + 1:
            return None
        kind = self._buffer[_LENGTH.size : _LENGTH.size + 1]
        if kind == KIND_DATA and length > MAX_DATA_BODY:
            raise RemoteProtocolError(
                ErrorCode.TOO_LARGE, f"data frame of {length} bytes is over a chunk"
            )
        if kind not in _KINDS:
            raise RemoteProtocolError(ErrorCode.MALFORMED, f"unknown frame kind {bytes(kind)!r}")
        end = _LENGTH.size + length
        return end if len(self._buffer) >= end else None

    def missing(self) -> int:
        """Bytes still to come before the frame at the head is whole (its header first)."""
        end = self._frame_end()
        if end is not None:
            return 0
        if len(self._buffer) < _LENGTH.size + 1:
            return _LENGTH.size + 1 - len(self._buffer)
        (length,) = _LENGTH.unpack_from(self._buffer)
        return _LENGTH.size + length - len(self._buffer)

    def data_length(self) -> int | None:
        """The payload size of the data frame at the head, -1 if a message is at the head, or
        None while its length and kind are not all here yet (caps are checked as for frames)."""
        self._frame_end()
        if len(self._buffer) < _LENGTH.size + 1:
            return None
        if self._buffer[_LENGTH.size] != KIND_DATA[0]:
            return -1
        length: int = _LENGTH.unpack_from(self._buffer)[0]
        return length - 1

    def take_data(self, into: memoryview) -> int:
        """Begin the data frame at the head: drop its header and move the payload bytes already
        buffered (at most ``len(into)``) into `into`; returns how many. The caller reads the
        rest of the payload from the stream itself, straight into its own buffer."""
        start = _LENGTH.size + 1
        count = min(len(self._buffer) - start, len(into))
        into[:count] = self._buffer[start : start + count]
        del self._buffer[: start + count]
        return count

    def next_body(self) -> bytearray | None:
        """The next complete frame body, or None if more bytes are needed."""
        end = self._frame_end()
        if end is None:
            return None
        body = self._buffer[_LENGTH.size : end]
        del self._buffer[:end]
        return body

    def next_frame(self) -> Message | bytes | None:
        """The next complete frame, decoded (`decode_body` of `next_body`, with fewer copies)."""
        end = self._frame_end()
        if end is None:
            return None
        kind = self._buffer[_LENGTH.size]
        with memoryview(self._buffer) as view, view[_LENGTH.size + 1 : end] as payload:
            if kind == KIND_DATA[0]:
                frame: Message | bytes = bytes(payload)
            elif kind == KIND_ZIPPED[0]:
                frame = _decode_message(_unzip(payload))
            else:
                frame = _decode_message(payload)
        del self._buffer[:end]
        return frame
