"""What the database peer keeps of each player's session, and the logs its pushes read from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import trio

from ..net.channel import Channel
from ..peer.versioned import Versioned
from ..proto import PeerInfo, PlayerStats

T = TypeVar("T")


class Log(Generic[T]):
    """Append-only, read by position; what every session has been sent is dropped, so an
    evening of treasure planted and expired does not pile up."""

    def __init__(self) -> None:
        self.start = 0
        self._items: list[T] = []

    @property
    def end(self) -> int:
        return self.start + len(self._items)

    def extend(self, items: Iterable[T]) -> None:
        self._items.extend(items)

    def since(self, position: int) -> list[T]:
        return self._items[max(0, position - self.start) :]

    def trim(self, oldest: int) -> None:
        """Every reader is at `oldest` or later."""
        if oldest > self.start:
            del self._items[: oldest - self.start]
            self.start = oldest


@dataclass(eq=False)
class Session:
    """One player's session, as the database peer keeps it."""

    peer: PeerInfo
    channel: Channel
    peers_version: int
    catalog_sent: int
    pushes_seen: int
    """The announcer's push count when this session last pushed."""
    round_version: int = -1
    lobby_version: int = -1
    board_tick: int = -1
    board_row: PlayerStats | None = None
    """This player's own row as last pushed (the view always has it)."""
    revoked_sent: int = 0
    expired_sent: int = 0
    databases_sent: int = 0
    """The version of the database peers' list this player was last told."""
    removed_sent: int = 0
    told_unreachable: bool = False
    """It was sent its own entry unreachable in `updated`, as a step of no version: when it
    was found unreachable before its first push, that push lists it in `joined`, where an
    older player (of this protocol) skips its own entry without a look."""
    published: Versioned[str, bytes] = field(default_factory=Versioned)
    """Name -> content of what it published (every change counted: `holdings` caches by it)."""
    held: tuple[tuple[int, int], frozenset[str]] | None = None
    """Its holdings as last worked out, by (published, catalog) version (`Play.holdings`)."""
    publishes: int = 0
    """Publishes read on this session (the first tells what the player brought)."""
    plays: bool = True
    """False for a one-off fetcher: in the network, not in the game."""
    plants: list[str] = field(default_factory=list)
    """Treasure handed to this player, not yet pushed."""
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    refusing: set[str] = field(default_factory=set)
    """Kicked names this peer said it refuses now (its answers to `revoked`)."""
    over: bool = False
    sent_at_ping: int = 0
    """What the channel had sent at the player's last `ping`: one that heard us since (a push,
    the welcome) is not answered `pong` (a join storm's players ping, being pushed to all along;
    our own `keep_alive` pings a player we have not spoken to)."""
    _news: trio.Event = field(default_factory=trio.Event)

    def heard(self, names: list[str]) -> None:
        """The peer answered `refusing`."""
        self.refusing.update(names)
        self._wake()

    def end(self) -> None:
        self.over = True
        self._wake()

    async def refuses(self, name: str) -> bool:
        """Wait until the peer said it refuses `name` (True) or its session ended (False)."""
        while name not in self.refusing and not self.over:
            await self._news.wait()
        return name in self.refusing

    def _wake(self) -> None:
        self._news.set()
        self._news = trio.Event()
