"""The wire protocol, without I/O: message types, frame codec, limits and validation.

Everything a node says or hears is one of the `Message` structs below, encoded as MessagePack
inside a length-prefixed frame. File bytes travel in *data frames* (one chunk each) so that a
receiver can verify every chunk against the catalog as it arrives. `FrameDecoder` turns any byte
stream into frames and any malformed input into a single `ProtocolError`; nothing here touches a
socket, so all of it is tested by feeding bytes.

Frame layout: 4-byte big-endian body length, then the body. The body's first byte says its kind:
``M`` (a MessagePack `Message`) or ``D`` (raw file bytes, at most one chunk).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

import msgspec

PROTOCOL_VERSION = 1
CHUNK_SIZE = 1024 * 1024
"""Files are hashed, verified and sent in chunks of 1 MiB (the last one may be shorter)."""

MAX_MESSAGE_BODY = 16 * 1024 * 1024
"""Cap on a message frame: a catalog of ~500,000 chunk hashes fits, an absurd length does not."""

MAX_DATA_BODY = CHUNK_SIZE + 1
MAX_NAME_BYTES = 255
HASH_BYTES = 32

_LENGTH = struct.Struct(">I")
KIND_MESSAGE = b"M"
KIND_DATA = b"D"


class ProtocolError(Exception):
    """The remote side broke the protocol; `code` is one of the `ErrorCode` values."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ErrorCode:
    """The `code` values an `Error` message carries; docs/protocol.md describes each."""

    MALFORMED = "malformed"
    TOO_LARGE = "too-large"
    VERSION = "version"
    UNEXPECTED = "unexpected"
    BAD_NAME = "bad-name"
    NOT_IN_CATALOG = "not-in-catalog"
    NAME_TAKEN = "name-taken"
    BAD_CONTENT = "bad-content"
    BUSY = "busy"
    TIMEOUT = "timeout"
    NOT_DATABASE = "not-database"
    WRONG_CODE = "wrong-code"
    FORBIDDEN = "forbidden"
    INTERNAL = "internal"


# ---------------------------------------------------------------------------------- values


class PeerInfo(msgspec.Struct, frozen=True, gc=False):
    """A live node as the peer list knows it: where to reach it and what to call it.

    `gc=False` (here and in `PlayerStats`): only strings and ints, so no cycles; a join storm
    decodes N^2 of these and the cycle collector need not scan them.
    """

    name: str
    host: str
    port: int

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)


class FileInfo(msgspec.Struct, frozen=True):
    """A catalog entry: a file's name, size and content identity.

    `chunks` holds the SHA-256 of every `CHUNK_SIZE` piece; `hash` is the SHA-256 of those chunk
    hashes concatenated (the scheme Dropbox's content hash uses), so it is cheap to derive and a
    receiver can check each chunk on arrival and the whole file at the end.
    """

    name: str
    size: int
    hash: bytes
    chunks: list[bytes]


# -------------------------------------------------------------------------------- messages


class Hello(msgspec.Struct, tag="hello"):
    """First frame of every connection, from the side that opened it."""

    version: int
    name: str
    port: int
    """The port the sender listens on (0 if it does not listen)."""


class Connect(msgspec.Struct, tag="connect"):
    """Join the network: sent to the database peer, keeps the connection open as a session."""


class Welcome(msgspec.Struct, tag="welcome"):
    """The database peer's answer to `Connect`: who is online and which files are trusted."""

    you: PeerInfo
    peers: list[PeerInfo]
    peers_version: int
    catalog: list[FileInfo]


class UpdatePeers(msgspec.Struct, tag="update_peers"):
    """What changed in the peer list since version `base`; applying it gives version `version`."""

    base: int
    version: int
    joined: list[PeerInfo] = []
    left: list[PeerInfo] = []


class CatalogAdded(msgspec.Struct, tag="catalog_added"):
    """New trusted files, pushed by the database peer to every session."""

    files: list[FileInfo]


class Publish(msgspec.Struct, tag="publish"):
    """A peer announces files it seeds, so the database peer can back them up and trust them."""

    files: list[FileInfo]


class Need(msgspec.Struct, tag="need"):
    """The database peer's answer to `Publish`: the names whose bytes it lacks."""

    names: list[str]


class Rejected(msgspec.Struct, tag="rejected"):
    """Published files the database peer will not catalog, with the reason for each."""

    names: list[str]
    reasons: list[str]


class Upload(msgspec.Struct, tag="upload"):
    """Opens a backup upload: data frames with every chunk of `file` follow, then `Stored`."""

    file: FileInfo


class Stored(msgspec.Struct, tag="stored"):
    """The database peer holds the bytes durably and has cataloged the file."""

    name: str


class Ping(msgspec.Struct, tag="ping"):
    """Keeps an idle session alive; the other side answers `Pong`."""


class Pong(msgspec.Struct, tag="pong"):
    """Answer to `Ping`."""


class Disconnect(msgspec.Struct, tag="disconnect"):
    """The sender is leaving the network; drop it from the peer list and the address book."""


class Bye(msgspec.Struct, tag="bye"):
    """Acknowledges a `Disconnect`."""


class Get(msgspec.Struct, tag="get"):
    """Ask for a file, from byte `offset` (a multiple of `CHUNK_SIZE`) on."""

    name: str
    offset: int = 0


class File(msgspec.Struct, tag="file"):
    """Answer to `Get` from a holder: data frames with the bytes from `offset` to `size` follow."""

    name: str
    size: int
    hash: bytes
    offset: int = 0


class MapRequest(msgspec.Struct, tag="map_request"):
    """Ask a peer for its address book alone."""


class Map(msgspec.Struct, tag="map"):
    """An address book: for each file name, the peers known to hold it."""

    holders: dict[str, list[PeerInfo]]


class PlayerStats(msgspec.Struct, frozen=True, gc=False):
    """One row of the scoreboard."""

    name: str
    host: str
    port: int
    score: int
    files_found: int
    map_size: int
    online: bool
    wins: int = 0


class FoundBy(msgspec.Struct, frozen=True):
    """A credited find in the current round."""

    player: str
    target: str
    points: int
    from_vault: bool
    first: bool


class RoundState(msgspec.Struct, frozen=True):
    """The current (or just finished) round, pushed to every session when it changes."""

    number: int
    targets: list[str]
    seconds_left: float
    finds: list[FoundBy]
    over: bool = False
    winner: str = ""


class Stats(msgspec.Struct, tag="stats"):
    """A peer tells the database peer how big its map has grown (for the scoreboard)."""

    map_size: int


class Scoreboard(msgspec.Struct, tag="scoreboard"):
    """Every player the database peer knows: a session's first scoreboard push."""

    players: list[PlayerStats]


class ScoreboardChanged(msgspec.Struct, tag="scoreboard_changed"):
    """The rows that changed since the last push (merge by name; `gone` rows are removed).

    Later pushes carry only these, so a join costs each of N players one row, not N rows.
    """

    players: list[PlayerStats]
    gone: list[str] = []


def ranked(rows: Iterable[PlayerStats]) -> list[PlayerStats]:
    """The scoreboard's order: most points first, then by name."""
    return sorted(rows, key=lambda row: (-row.score, row.name))


def apply_scoreboard(
    board: list[PlayerStats], push: Scoreboard | ScoreboardChanged
) -> list[PlayerStats]:
    """The scoreboard after a push: a whole `Scoreboard`, or changed rows merged by name."""
    if isinstance(push, Scoreboard):
        return push.players
    rows = {row.name: row for row in board}
    rows.update((row.name, row) for row in push.players)
    for name in push.gone:
        rows.pop(name, None)
    return ranked(rows.values())


class Round(msgspec.Struct, tag="round"):
    """The round state, pushed to every session when it changes."""

    state: RoundState


class Found(msgspec.Struct, tag="found"):
    """A player claims it fetched a round target; the database peer answers `Challenge`."""

    name: str


class Challenge(msgspec.Struct, tag="challenge"):
    """Prove you hold `name`: answer SHA-256(nonce + the file's bytes)."""

    name: str
    nonce: bytes


class Proof(msgspec.Struct, tag="proof"):
    """Answer to `Challenge`."""

    name: str
    nonce: bytes
    digest: bytes


class Scored(msgspec.Struct, tag="scored"):
    """The verdict on a claimed find: the points (0 if refused) and why."""

    name: str
    points: int
    message: str


class Revoked(msgspec.Struct, tag="revoked"):
    """Players kicked out of the network: refuse their certificates from now on."""

    names: list[str]


class Kick(msgspec.Struct, tag="kick"):
    """From the host's admin tool to the running database peer: revoke a player at once."""

    name: str


class Enroll(msgspec.Struct, tag="enroll"):
    """Join with a code: the invite's number and our SPAKE2 message for the code."""

    number: int
    spake: bytes


class EnrollChallenge(msgspec.Struct, tag="enroll_challenge"):
    """The database peer's SPAKE2 message for the same code."""

    spake: bytes


class Sealed(msgspec.Struct, tag="sealed"):
    """A payload encrypted and authenticated with the key both sides derived from the code."""

    nonce: bytes
    box: bytes


class Error(msgspec.Struct, tag="error"):
    """A request failed: a machine-readable `code` and a sentence for people."""

    code: str
    message: str


Message = (
    Hello
    | Connect
    | Welcome
    | UpdatePeers
    | CatalogAdded
    | Publish
    | Need
    | Rejected
    | Upload
    | Stored
    | Ping
    | Pong
    | Disconnect
    | Bye
    | Get
    | File
    | MapRequest
    | Map
    | Stats
    | Scoreboard
    | ScoreboardChanged
    | Round
    | Found
    | Challenge
    | Proof
    | Scored
    | Revoked
    | Kick
    | Enroll
    | EnrollChallenge
    | Sealed
    | Error
)

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


# ---------------------------------------------------------------------------------- frames


def encode_message(message: Message) -> bytes:
    """One complete frame carrying `message`."""
    body = KIND_MESSAGE + _encoder.encode(message)
    if len(body) > MAX_MESSAGE_BODY:
        raise ValueError(f"message of {len(body)} bytes exceeds the frame cap")
    return _LENGTH.pack(len(body)) + body


def data_frame_header(length: int) -> bytes:
    """The bytes that go before `length` bytes of file data (send the data right after)."""
    if not 0 <= length < MAX_DATA_BODY:
        raise ValueError(f"data frame of {length} bytes exceeds one chunk")
    return _LENGTH.pack(length + 1) + KIND_DATA


def decode_body(body: bytes | bytearray | memoryview) -> Message | bytes:
    """A frame body as a `Message`, or as raw `bytes` for a data frame."""
    if not body:
        raise ProtocolError(ErrorCode.MALFORMED, "empty frame")
    kind = bytes(body[:1])
    if kind == KIND_DATA:
        return bytes(body[1:])
    if kind != KIND_MESSAGE:
        raise ProtocolError(ErrorCode.MALFORMED, f"unknown frame kind {kind!r}")
    return _decode_message(memoryview(body)[1:])


def _decode_message(payload: bytes | memoryview) -> Message:
    try:
        message: Message = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"invalid message: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"undecodable message: {exc}") from None
    except UnicodeDecodeError:  # msgspec raises it for a string that is not UTF-8
        raise ProtocolError(ErrorCode.MALFORMED, "a string in the message is not UTF-8") from None
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
            raise ProtocolError(ErrorCode.MALFORMED, "empty frame")
        if length > max(MAX_MESSAGE_BODY, MAX_DATA_BODY):
            raise ProtocolError(ErrorCode.TOO_LARGE, f"frame of {length} bytes is over the cap")
        if len(self._buffer) < _LENGTH.size + 1:
            return None
        kind = self._buffer[_LENGTH.size : _LENGTH.size + 1]
        if kind == KIND_DATA and length > MAX_DATA_BODY:
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"data frame of {length} bytes is over a chunk"
            )
        if kind not in (KIND_DATA, KIND_MESSAGE):
            raise ProtocolError(ErrorCode.MALFORMED, f"unknown frame kind {bytes(kind)!r}")
        end = _LENGTH.size + length
        return end if len(self._buffer) >= end else None

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
        data = self._buffer[_LENGTH.size] == KIND_DATA[0]
        with memoryview(self._buffer) as view, view[_LENGTH.size + 1 : end] as payload:
            frame = bytes(payload) if data else _decode_message(payload)
        del self._buffer[:end]
        return frame


# ------------------------------------------------------------------------------ validation


def check_name(name: str) -> None:
    """Refuse any file name that could escape the shared folder or hide in it.

    Raises `ProtocolError(BAD_NAME)` for names that are empty, too long, contain a path
    separator, NUL or control characters, start with a dot (also covers ``.`` and ``..``)
    or end with a space.
    """
    reason = name_problem(name)
    if reason:
        raise ProtocolError(ErrorCode.BAD_NAME, f"refused file name {name!r}: {reason}")


def name_problem(name: str) -> str | None:
    """Why `name` is not an acceptable file name, or None if it is."""
    if not name:
        return "empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains NUL or a control character"
    if name.startswith("."):
        return "starts with a dot"
    if name != name.strip():
        return "starts or ends with white space"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid text"
    return None


def check_file_info(info: FileInfo) -> None:
    """Refuse a catalog entry whose name, size or hashes do not hang together."""
    check_name(info.name)
    if info.size < 0:
        raise ProtocolError(ErrorCode.MALFORMED, f"{info.name}: negative size")
    if len(info.chunks) != chunk_count(info.size):
        raise ProtocolError(ErrorCode.MALFORMED, f"{info.name}: chunk list does not match size")
    if any(len(h) != HASH_BYTES for h in info.chunks) or info.hash != content_hash(info.chunks):
        raise ProtocolError(ErrorCode.MALFORMED, f"{info.name}: hashes do not match")


def check_version(hello: Hello) -> None:
    if hello.version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.VERSION,
            f"protocol version {hello.version} is not supported (this node speaks "
            f"{PROTOCOL_VERSION})",
        )


# -------------------------------------------------------------------------------- hashing


def chunk_count(size: int) -> int:
    return -(-size // CHUNK_SIZE)


def chunk_hash(data: bytes | bytearray | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


def content_hash(chunks: Iterable[bytes]) -> bytes:
    """The file's identity: SHA-256 over its chunk hashes in order."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.digest()


def iter_chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_SIZE):
        yield data[start : start + CHUNK_SIZE]


def describe_bytes(data: bytes, name: str) -> FileInfo:
    """The `FileInfo` for in-memory content (tests and small files)."""
    chunks = [chunk_hash(piece) for piece in iter_chunks(data)]
    return FileInfo(name=name, size=len(data), hash=content_hash(chunks), chunks=chunks)


def short_hash(digest: bytes) -> str:
    return digest.hex()[:12]
