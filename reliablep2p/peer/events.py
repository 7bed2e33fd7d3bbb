"""What a node tells the outside world (the CLI log, the TUI): plain immutable values.

Events carry data, never sentences: the CLI and the TUI put them into words
(`reliablep2p.app.words`), and no control flow compares text. Subscribe with
`Node.subscribe(callback)`; callbacks run in the node's trio thread and must not block.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from ..proto import EveningRow, FileInfo, Lobby, PeerInfo, PlayerStats, RoundState


class Event(msgspec.Struct, frozen=True):
    """Base of every event: frozen msgspec Structs, not dataclasses, because some thirty
    dataclasses took ~20 ms to make at every start (their methods are compiled from source)."""


class Joined(Event, frozen=True):
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


class DatabasesChanged(Event, frozen=True):
    """The database peers we know of changed (the network listed its live ones)."""

    addresses: tuple[tuple[str, int], ...]


class SessionLost(Event, frozen=True):
    """The session with the database peer dropped. Told once: the node reconnects by itself,
    quietly, until `Joined` (again) says it is back. A running round is paused meanwhile."""

    host: str
    port: int
    round: int = 0
    """The round that is paused (0: none was running)."""
    seconds_left: float = 0.0
    """The time that round had left when the session dropped."""


class NotReachable(Event, frozen=True):
    """The database peer could not call us back where we listen: nobody can fetch from us."""

    host: str
    port: int


NO_ANSWER, HANDSHAKE, BROKEN, REFUSED = "no-answer", "handshake", "broken", "refused"
NAME_TAKEN = "name-taken"
"""Why the database peer could not be joined: nothing answered at its address, the TLS
handshake failed, the connection broke, it refused us (`detail` has its words), or it refused
our name: another player online has it."""


class DatabaseUnreachable(Event, frozen=True):
    """Joining the database peer failed. Told once; the node keeps trying, quietly, until
    `Joined` (or `SessionLost`, if that was how it began: then this is not told at all)."""

    host: str
    port: int
    cause: str
    """`NO_ANSWER`, `HANDSHAKE`, `BROKEN` or `REFUSED`."""
    detail: str = ""
    """The database peer's own words, when it refused us."""


class VersionRefused(Event, frozen=True):
    """The database peer speaks another protocol version: one side must be updated. Final:
    the node stops trying."""

    host: str
    port: int
    theirs: int
    """Its version (0: it did not say, an older node)."""
    ours: int


class Left(Event, frozen=True):
    """We said goodbye to the network and stopped."""


class Renamed(Event, frozen=True):
    """Our defaulted name was online already (`taken`, in the order tried): we play as `name`
    (`peer/naming.py`). Told once, before `Joined`."""

    taken: tuple[str, ...]
    name: str


class NamesTaken(Event, frozen=True):
    """Every name a defaulted name may become was online already. Final: the node stops
    trying (the player must choose one)."""

    names: tuple[str, ...]


class JoinRefused(Event, frozen=True):
    """The database peer refuses us for good, in its words (`detail`): a player without a
    certificate at a host with them. Final: the node stops trying."""

    host: str
    port: int
    detail: str


class Kicked(Event, frozen=True):
    """The host threw us out of the network: our certificate is refused from now on. Final:
    the node stops trying."""


class OthersKicked(Event, frozen=True):
    """The host threw these players out; we refuse their certificates too."""

    names: tuple[str, ...]


class PeersChanged(Event, frozen=True):
    joined: tuple[PeerInfo, ...]
    left: tuple[PeerInfo, ...]


class CatalogChanged(Event, frozen=True):
    added: tuple[FileInfo, ...]


class CatalogEntryIgnored(Event, frozen=True):
    """The database peer sent a catalog entry that does not hang together; we skipped it."""

    reason: str


class MapChanged(Event, frozen=True):
    size: int


class SeedingChanged(Event, frozen=True):
    names: tuple[str, ...]
    """Everything we seed now."""
    fetched: str | None = None
    """The file a download just added, if that is what changed."""


class TransferProgress(Event, frozen=True):
    name: str
    source: str
    done: int
    total: int


VAULT = "vault"
"""The source the database peer's vault is named as, in `TransferProgress`, `TransferDone` and a
`get`'s result (a player is named by its player name)."""


class TransferDone(Event, frozen=True):
    name: str
    source: str
    size: int
    probes: int
    resumed_at: int = 0
    """Bytes already verified on disk from an earlier, interrupted get."""
    sources: tuple[tuple[str, int], ...] = ()
    """Who sent how many bytes, as `GetResult.sources` (`source`: the one that sent most)."""
    planted: bool = False
    """Treasure the host hid with us, fetched unasked (`TreasurePlanted` tells it once)."""


class TransferFailed(Event, frozen=True):
    name: str
    reason: str


class BackedUp(Event, frozen=True):
    """The database peer holds a copy of one of our files in its vault."""

    name: str
    failed_tries: int = 0
    """Uploads of it that failed before this one (each streak is told once, `BackupFailed`)."""


class BackupFailed(Event, frozen=True):
    """An upload for the vault failed; it is tried again less and less often, without a word
    until it works (`BackedUp`)."""

    name: str
    reason: str


class NotShared(Event, frozen=True):
    """A file in our share is not shared (told once while it stays): `kind` says why, as
    `storage.share.Skipped` does ("link", "folder", "special", "name" with `problem`)."""

    name: str
    kind: str
    problem: str = ""


class PublishRefused(Event, frozen=True):
    """The database peer will not take one of our files (a name clash, a bad name)."""

    name: str
    reason: str


class Scoreboard(Event, frozen=True):
    """The live scoreboard as the database peer shows it to us: its top rows, whoever found
    something this round, and our own row (every player, in a small game)."""

    players: tuple[PlayerStats, ...]


class RoundChanged(Event, frozen=True):
    """A round started, a target was found, or the round ended (then `round.winner` is set);
    or, with `resumed`, the round goes on after our session with the host was down."""

    round: RoundState
    resumed: bool = False


class FindScored(Event, frozen=True):
    """The database peer credited one of our finds."""

    name: str
    points: int
    verdict: str
    """The host's own words for it."""


class FindRefused(Event, frozen=True):
    """The database peer gave no points for a find; `reason` is the host's words."""

    name: str
    reason: str


class LobbyChanged(Event, frozen=True):
    """Between rounds: the countdown to the next, who is ready, or the host's settings."""

    lobby: Lobby


class TreasurePlanted(Event, frozen=True):
    """The host hid fresh treasure with us: we fetched it from the vault and seed it."""

    names: tuple[str, ...]


class TreasureExpired(Event, frozen=True):
    """Treasure whose time was up left the catalog (and our share, where we had it)."""

    names: tuple[str, ...]


class FilesRemoved(Event, frozen=True):
    """The host removed files from the network: we no longer offer them (our copy stays)."""

    names: tuple[str, ...]


class EveningOver(Event, frozen=True):
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
