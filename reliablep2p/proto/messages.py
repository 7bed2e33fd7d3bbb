"""The messages of the wire protocol: plain msgspec Structs, one per message type.

Everything a node says or hears is one of the `Message` structs below, encoded as MessagePack
inside a frame (`frames.py`). File bytes travel in data frames of at most one chunk each.
"""

from __future__ import annotations

import msgspec

from .game import (
    Challenge,
    ChangeSetting,
    EveningOver,
    Expired,
    Found,
    Lobby,
    Plant,
    Proof,
    Ready,
    Round,
    Scoreboard,
    ScoreboardChanged,
    Scored,
    Settings,
    Stats,
)

PROTOCOL_VERSION = 2
"""2: a `PeerInfo` travels as an array, not a map (a peer list is half the bytes)."""
CHUNK_SIZE = 1024 * 1024
"""Files are hashed, verified and sent in chunks of 1 MiB (the last one may be shorter)."""

MAX_MESSAGE_BODY = 16 * 1024 * 1024
"""Cap on a message frame: a catalog of ~500,000 chunk hashes fits, an absurd length does not."""

MAX_DATA_BODY = CHUNK_SIZE + 1
MAX_NAME_BYTES = 255
MAX_DATABASE_PEERS = 64
"""Addresses of database peers a player is told at most."""
HASH_BYTES = 32


# ---------------------------------------------------------------------------------- values


class PeerInfo(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A live node as the peer list knows it: where to reach it and what to call it.

    `gc=False` (here and in `PlayerStats`): only strings, ints and bools, so no cycles; a join
    storm decodes N^2 of these and the cycle collector need not scan them. `array_like`: every
    player learns every other's entry, so an entry is `[name, host, port, reachable]` without
    field names (about 21 bytes, not 34, and quicker to decode).
    """

    name: str
    host: str
    port: int
    reachable: bool = True
    """False when the database peer could not call it back where it listens: nobody asks it."""

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

    host: str = ""
    """The address we listen on, when it is one address; empty: the one you see us call from."""
    play: bool = True
    """False for a one-off fetcher (`rp2p-peer --get`): in the network, not in the game."""


class Welcome(msgspec.Struct, tag="welcome"):
    """The database peer's answer to `Connect`: who is online and which files are trusted."""

    you: PeerInfo
    peers: list[PeerInfo]
    peers_version: int
    catalog: list[FileInfo]
    revoked: list[str] = []
    """Every player the host ever kicked out: a peer that joins late refuses them too."""
    databases: list[tuple[str, int]] = []
    """Where players reach every live database peer of the network, this one included (an
    older database peer sends none): where to go when this one dies."""
    removed: list[bytes] = []
    """The content of every file the host removed: never published again."""


class DatabasePeers(msgspec.Struct, tag="database_peers"):
    """The live database peers changed (one started, or stopped or died): where each is."""

    addresses: list[tuple[str, int]]


class UpdatePeers(msgspec.Struct, tag="update_peers"):
    """What changed in the peer list since version `base`; applying it gives version `version`."""

    base: int
    version: int
    joined: list[PeerInfo] = []
    left: list[PeerInfo] = []
    updated: list[PeerInfo] = []
    """Listed peers whose entry changed (found unreachable after their welcome): replace them.
    An older node ignores it and keeps the entry as it was."""


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


class Get(msgspec.Struct, tag="get", omit_defaults=True):
    """Ask for a file, from byte `offset` (a multiple of `CHUNK_SIZE`) on.

    With `swarm`, ask for a *source connection* instead: the answer is `file` with no data, and
    the connection then carries `chunks` requests (any chunks, many at once, pipelined).
    """

    name: str
    offset: int = 0
    swarm: bool = False
    want: list[int] = []
    """With `swarm`: chunks the asker would like at once (served right after `file`, those the
    source has): a small file arrives in one round trip."""


class File(msgspec.Struct, tag="file", omit_defaults=True):
    """Answer to `Get` from a holder: data frames with the bytes from `offset` to `size` follow.

    Answering a swarm `get`, no data follows; `have` is the bitfield of the chunks the sender
    can serve (empty: all of them; a peer still fetching the file serves what it verified), and
    `crowd` names other peers fetching or holding the file right now.
    """

    name: str
    size: int
    hash: bytes
    offset: int = 0
    have: bytes = b""
    crowd: list[PeerInfo] = []


class Chunks(msgspec.Struct, tag="chunks"):
    """On a source connection: send me these chunks (each answered `chunk` + one data frame)."""

    indices: list[int]


class Cancel(msgspec.Struct, tag="cancel"):
    """On a source connection: drop these requested chunks if you have not begun sending them."""

    indices: list[int]


class Chunk(msgspec.Struct, tag="chunk"):
    """On a source connection: the data frame that follows is chunk `index`."""

    index: int


class Have(msgspec.Struct, tag="have"):
    """On a source connection: the sender (still fetching the file) verified these chunks."""

    indices: list[int]


class Sent(msgspec.Struct, tag="sent"):
    """On a source link: other peers asked the sender for these chunks. A hint: they will soon
    be in the crowd, so ask this source for others first (its upload is what is scarce when
    everyone starts at once)."""

    indices: list[int]


class Crowd(msgspec.Struct, tag="crowd"):
    """On a source connection: more peers fetching or holding the file (peer exchange)."""

    peers: list[PeerInfo]


class MapRequest(msgspec.Struct, tag="map_request"):
    """Ask a peer for its address book alone."""


class Map(msgspec.Struct, tag="map", omit_defaults=True):
    """An address book: for each file name, the peers known to hold it.

    Answering a `get`, `crowd` also names the peers fetching or holding that file right now.
    """

    holders: dict[str, list[PeerInfo]]
    crowd: list[PeerInfo] = []


class Revoked(msgspec.Struct, tag="revoked"):
    """Players kicked out of the network: refuse their certificates from now on."""

    names: list[str]


class Refusing(msgspec.Struct, tag="refusing"):
    """A peer's answer to `Revoked` on its session: it refuses these certificates now."""

    names: list[str]


class Kick(msgspec.Struct, tag="kick"):
    """From the host's admin tool to the running database peer: revoke a player at once."""

    name: str
    wait: float = 5.0
    """How long to wait for the online peers to answer `refusing` before reporting."""


class KickReport(msgspec.Struct, tag="kick_report"):
    """The database peer's answer to `Kick`: which online peers refuse the name now, which did
    not answer in time (they learn it when they next join)."""

    name: str
    told: list[str]
    not_told: list[str]


class Remove(msgspec.Struct, tag="remove"):
    """From the host's admin tool: take a file out of the catalog and the vault for good."""

    name: str


class Removed(msgspec.Struct, tag="removed"):
    """Files the host removed (`hashes[i]` is `names[i]`'s content): out of the catalog; stop
    offering them and never publish that content again (the bytes on disk stay). Pushed on
    every session, and the answer to `remove`."""

    names: list[str]
    hashes: list[bytes]


class AskShared(msgspec.Struct, tag="ask_shared"):
    """Which catalog files did I ever publish? (`rp2p-peer restore`)"""


class SharedFiles(msgspec.Struct, tag="shared_files"):
    """The answer to `ask_shared`: the catalog entries the asker published."""

    files: list[FileInfo]


class Enroll(msgspec.Struct, tag="enroll"):
    """Join with a code: the invite's number and our SPAKE2 message for the code."""

    number: int
    spake: bytes


class EnrollChallenge(msgspec.Struct, tag="enroll_challenge"):
    """The database peer's SPAKE2 message for the same code."""

    spake: bytes


class AskNetwork(msgspec.Struct, tag="ask_network"):
    """Which network is this? Asked in plaintext on the database peer's port, before a code."""


class NetworkInfo(msgspec.Struct, tag="network_info"):
    """The database peer's network: its tag (see `tags.py`) and its name."""

    tag: bytes
    name: str


class Sealed(msgspec.Struct, tag="sealed"):
    """A payload encrypted and authenticated with the key both sides derived from the code."""

    nonce: bytes
    box: bytes


class Error(msgspec.Struct, tag="error", omit_defaults=True):
    """A request failed: a machine-readable `code` and a sentence for people."""

    code: str
    message: str
    speaks: int = 0
    """With code `version`: the protocol version the refusing side speaks (so the caller can
    say which side to update). `hello` and `error` keep their shape in every version."""


Message = (
    Hello
    | Connect
    | Welcome
    | DatabasePeers
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
    | Chunks
    | Cancel
    | Chunk
    | Have
    | Sent
    | Crowd
    | MapRequest
    | Map
    | Stats
    | Lobby
    | Ready
    | Plant
    | Expired
    | ChangeSetting
    | Settings
    | EveningOver
    | Scoreboard
    | ScoreboardChanged
    | Round
    | Found
    | Challenge
    | Proof
    | Scored
    | Revoked
    | Refusing
    | Kick
    | KickReport
    | Remove
    | Removed
    | AskShared
    | SharedFiles
    | Enroll
    | EnrollChallenge
    | AskNetwork
    | NetworkInfo
    | Sealed
    | Error
)
