"""What database peers on one PostgreSQL say to each other over the bus (`database/cluster.py`).

Every message names its sender (a random id per process); one meant for one database peer
names it in `to` (the others ignore it). Each database peer keeps its own players' sessions;
the bus carries what the others' players must hear (the peer list, the catalog, revocations),
and, between the round host and the others (relays), the game: relays send their players'
game messages to the host, the host sends back answers, treasure and the game's state.
"""

from __future__ import annotations

import msgspec

from .game import Challenge, Lobby, MapEntry, PlayerStats, Proof, RoundState, Scored
from .messages import FileInfo, PeerInfo


class BusMessage(msgspec.Struct, tag_field="k"):
    sender: str


class Alive(BusMessage, tag="alive"):
    """Every second: I am here (and whether I host the rounds)."""

    hosting: bool


class Arrived(BusMessage, tag="arrived"):
    """I just came (or came back to the bus): tell me who is online at yours."""


class PeerJoined(BusMessage, tag="joined"):
    peer: PeerInfo


class PeerLeft(BusMessage, tag="left"):
    peer: PeerInfo


class Cataloged(BusMessage, tag="cataloged"):
    files: list[FileInfo]


class Dug(BusMessage, tag="dug"):
    """Expired treasure left the catalog and the vault (when round `number` started)."""

    files: list[FileInfo]
    number: int


class Erased(BusMessage, tag="erased"):
    """The host removed files (`rp2p-db remove`) from the catalog and the vault."""

    files: list[FileInfo]


class Kicked(BusMessage, tag="kicked"):
    name: str
    wait: float = 0.0
    """The kick waits this long for the players to refuse the name: each database peer answers
    `KickHeard` before then, naming its players who refuse it and those who did not say so."""


class KickHeard(BusMessage, tag="kick_heard"):
    """The answer to `Kicked`: which of my players refuse `name` now, and which did not say."""

    to: str
    name: str
    told: list[str]
    not_told: list[str]


class SettingsChanged(BusMessage, tag="settings"):
    """I kept these game settings in the store (`rp2p-db set`, or my command line at start)."""

    values: dict[str, str]


# ------------------------------------------------------------------ a relay to the host


class PlayerIn(BusMessage, tag="player_in"):
    """A player of mine joined the game (or the host changed: here it is again)."""

    peer: PeerInfo


class PlayerHolds(BusMessage, tag="holds"):
    """What a player of mine publishes: the catalog names it seeds, the hashes it just
    said it holds, and whether it was its session's first publish."""

    peer: PeerInfo
    holdings: list[str]
    held: list[bytes]
    first: bool


class PlayerOut(BusMessage, tag="player_out"):
    name: str


class PlayerReady(BusMessage, tag="ready"):
    name: str


class MapReports(BusMessage, tag="maps"):
    """The players' latest maps since the last `MapReports` (a few a second at most, however
    many players report)."""

    maps: dict[str, list[MapEntry]]


class VaultServed(BusMessage, tag="served"):
    player: str
    name: str
    offset: int
    sent: int


class Ask(BusMessage, tag="ask"):
    """A player's claim (`found`) or proof, answered by `Answer` with the same `ask`."""

    ask: int
    player: str
    found: str = ""
    proof: Proof | None = None


# ------------------------------------------------------------------ the host to relays


class Answer(BusMessage, tag="answer"):
    to: str
    ask: int
    challenge: Challenge | None = None
    scored: Scored | None = None


class Planted(BusMessage, tag="planted"):
    to: str
    player: str
    names: list[str]


class GameState(BusMessage, tag="game"):
    """The lobby, the round (its targets per relayed player) and the scoreboard, whenever
    one of them changed at the host."""

    lobby: Lobby
    round: RoundState | None
    targets: dict[str, list[str]]
    board: list[PlayerStats] | None = None
    """None: unchanged since the last `GameState`."""


Message = (
    Alive | Arrived | PeerJoined | PeerLeft | Cataloged | Dug | Erased | Kicked | KickHeard
    | SettingsChanged | PlayerIn | PlayerHolds | PlayerOut | PlayerReady | MapReports
    | VaultServed | Ask | Answer | Planted | GameState
)  # fmt: skip

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)


def encode(message: BusMessage) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes) -> Message:
    """Raises `msgspec.DecodeError`/`ValidationError` for what is not a bus message."""
    return _decoder.decode(data)
