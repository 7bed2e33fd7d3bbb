"""What a node tells the outside world (the CLI log, the TUI): plain immutable values.

Events carry data, never sentences: the CLI and the TUI put them into words
(`reliablep2p.app.words`), and no control flow compares text. Subscribe with
`Node.subscribe(callback)`; callbacks run in the node's trio thread and must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..proto import EveningRow, FileInfo, Lobby, PeerInfo, PlayerStats, RoundState


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
    """True when this was a reconnection after `SessionLost` (we are back)."""
    host: str = ""
    port: int = 0
    """The database peer's address."""
    gone_host: str = ""
    gone_port: int = 0
    """The database peer of our last session, when we moved to another (it went away)."""


@dataclass(frozen=True)
class DatabasesChanged(Event):
    """The database peers we know of changed (the network listed its live ones)."""

    addresses: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SessionLost(Event):
    """The session with the database peer dropped. Told once: the node reconnects by itself,
    quietly, until `Joined` (again) says it is back. A running round is paused meanwhile."""

    host: str
    port: int
    round: int = 0
    """The round that is paused (0: none was running)."""
    seconds_left: float = 0.0
    """The time that round had left when the session dropped."""


@dataclass(frozen=True)
class NotReachable(Event):
    """The database peer could not call us back where we listen: nobody can fetch from us."""

    host: str
    port: int


NO_ANSWER, HANDSHAKE, BROKEN, REFUSED = "no-answer", "handshake", "broken", "refused"
"""Why the database peer could not be joined: nothing answered at its address, the TLS
handshake failed, the connection broke, or it refused us (`detail` has its words)."""


@dataclass(frozen=True)
class DatabaseUnreachable(Event):
    """Joining the database peer failed. Told once; the node keeps trying, quietly, until
    `Joined` (or `SessionLost`, if that was how it began: then this is not told at all)."""

    host: str
    port: int
    cause: str
    """`NO_ANSWER`, `HANDSHAKE`, `BROKEN` or `REFUSED`."""
    detail: str = ""
    """The database peer's own words, when it refused us."""


@dataclass(frozen=True)
class VersionRefused(Event):
    """The database peer speaks another protocol version: one side must be updated. Final:
    the node stops trying."""

    host: str
    port: int
    theirs: int
    """Its version (0: it did not say, an older node)."""
    ours: int


@dataclass(frozen=True)
class Left(Event):
    """We said goodbye to the network and stopped."""


@dataclass(frozen=True)
class Kicked(Event):
    """The host threw us out of the network: our certificate is refused from now on. Final:
    the node stops trying."""


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
    """A round started, a target was found, or the round ended (then `round.winner` is set);
    or, with `resumed`, the round goes on after our session with the host was down."""

    round: RoundState
    resumed: bool = False


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


@dataclass(frozen=True)
class LobbyChanged(Event):
    """Between rounds: the countdown to the next, who is ready, or the host's settings."""

    lobby: Lobby


@dataclass(frozen=True)
class TreasurePlanted(Event):
    """The host hid fresh treasure with us: we fetched it from the vault and seed it."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class TreasureExpired(Event):
    """Treasure whose time was up left the catalog (and our share, where we had it)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class FilesRemoved(Event):
    """The host removed files from the network: we no longer offer them (our copy stays)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class EveningOver(Event):
    """The host stopped the game: everyone's evening, best first."""

    players: tuple[EveningRow, ...]


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
