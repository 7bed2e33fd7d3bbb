"""What a node tells the outside world (the CLI log, the TUI): plain immutable values.

Subscribe with `Node.subscribe(callback)`; callbacks run in the node's trio thread and must not
block. Every event has a one-line human `text`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import FileInfo, PeerInfo, PlayerStats, RoundState


@dataclass(frozen=True)
class Event:
    text: str


@dataclass(frozen=True)
class Joined(Event):
    """We are in the network: the database peer sent the peer list and the catalog."""


@dataclass(frozen=True)
class SessionLost(Event):
    """The session with the database peer dropped; the node reconnects by itself (then `Joined`)."""


@dataclass(frozen=True)
class PeersChanged(Event):
    joined: tuple[PeerInfo, ...]
    left: tuple[PeerInfo, ...]


@dataclass(frozen=True)
class CatalogChanged(Event):
    added: tuple[FileInfo, ...]


@dataclass(frozen=True)
class MapChanged(Event):
    size: int


@dataclass(frozen=True)
class SeedingChanged(Event):
    names: tuple[str, ...]


@dataclass(frozen=True)
class TransferProgress(Event):
    name: str
    source: str
    done: int
    total: int


@dataclass(frozen=True)
class TransferDone(Event):
    name: str
    source: str
    size: int
    probes: int


@dataclass(frozen=True)
class TransferFailed(Event):
    name: str
    reason: str


@dataclass(frozen=True)
class Notice(Event):
    """Anything else worth one line in a log or an event feed."""

    level: str = "info"


@dataclass(frozen=True)
class Scoreboard(Event):
    """The live scoreboard: every player the database peer knows, online or not."""

    players: tuple[PlayerStats, ...]


@dataclass(frozen=True)
class RoundChanged(Event):
    """A round started, a target was found, or the round ended (then `round.winner` is set)."""

    round: RoundState


@dataclass(frozen=True)
class FindScored(Event):
    """The database peer's verdict on one of our finds."""

    name: str
    points: int
