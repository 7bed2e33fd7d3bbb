"""What a node tells the outside world (the CLI log, the TUI): plain immutable values.

Events carry data, never sentences: the CLI and the TUI put them into words
(`reliablep2p.app.words`), and no control flow compares text. Subscribe with
`Node.subscribe(callback)`; callbacks run in the node's trio thread and must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..proto import FileInfo, PeerInfo, PlayerStats, RoundState


@dataclass(frozen=True)
class Event:
    """Base of every event."""


@dataclass(frozen=True)
class Joined(Event):
    """We are in the network: the database peer sent the peer list and the catalog."""

    name: str
    peers: int
    files: int
    again: bool
    """True when this was a reconnection after `SessionLost`."""


@dataclass(frozen=True)
class SessionLost(Event):
    """The session with the database peer dropped; the node reconnects by itself (then `Joined`)."""


@dataclass(frozen=True)
class NotReachable(Event):
    """The database peer could not call us back where we listen: nobody can fetch from us."""

    host: str
    port: int


@dataclass(frozen=True)
class DatabaseUnreachable(Event):
    """A try to reach the database peer failed; the node tries again."""

    reason: str


@dataclass(frozen=True)
class Left(Event):
    """We said goodbye to the network and stopped."""


@dataclass(frozen=True)
class Kicked(Event):
    """The host threw us out of the network: our certificate is refused from now on."""


@dataclass(frozen=True)
class OthersKicked(Event):
    """The host threw these players out; we refuse their certificates too."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class PeersChanged(Event):
    joined: tuple[PeerInfo, ...]
    left: tuple[PeerInfo, ...]


@dataclass(frozen=True)
class CatalogChanged(Event):
    added: tuple[FileInfo, ...]


@dataclass(frozen=True)
class CatalogEntryIgnored(Event):
    """The database peer sent a catalog entry that does not hang together; we skipped it."""

    reason: str


@dataclass(frozen=True)
class MapChanged(Event):
    size: int


@dataclass(frozen=True)
class SeedingChanged(Event):
    names: tuple[str, ...]
    """Everything we seed now."""
    fetched: str | None = None
    """The file a download just added, if that is what changed."""


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
    resumed_at: int = 0
    """Bytes already verified on disk from an earlier, interrupted get."""


@dataclass(frozen=True)
class TransferFailed(Event):
    name: str
    reason: str


@dataclass(frozen=True)
class BackedUp(Event):
    """The database peer holds a copy of one of our files in its vault."""

    name: str
    failed_tries: int = 0
    """Uploads of it that failed before this one (each streak is told once, `BackupFailed`)."""


@dataclass(frozen=True)
class BackupFailed(Event):
    """An upload for the vault failed; it is tried again less and less often, without a word
    until it works (`BackedUp`)."""

    name: str
    reason: str


@dataclass(frozen=True)
class PublishRefused(Event):
    """The database peer will not take one of our files (a name clash, a bad name)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Scoreboard(Event):
    """The live scoreboard as the database peer shows it to us: its top rows, whoever found
    something this round, and our own row (every player, in a small game)."""

    players: tuple[PlayerStats, ...]


@dataclass(frozen=True)
class RoundChanged(Event):
    """A round started, a target was found, or the round ended (then `round.winner` is set)."""

    round: RoundState


@dataclass(frozen=True)
class FindScored(Event):
    """The database peer credited one of our finds."""

    name: str
    points: int
    verdict: str
    """The host's own words for it."""


@dataclass(frozen=True)
class FindRefused(Event):
    """The database peer gave no points for a find; `reason` is the host's words."""

    name: str
    reason: str


Listener = Callable[[Event], None]


class EventBus:
    """Hands every event to every subscriber, in order; one per node."""

    def __init__(self) -> None:
        self._subscribers: list[Listener] = []

    def subscribe(self, callback: Listener) -> None:
        self._subscribers.append(callback)

    def emit(self, event: Event) -> None:
        for callback in self._subscribers:
            callback(event)
