"""Who plays right now, as the host's rounds ask it: a snapshot of the names, each player's
`Online` made only when asked.

The host's countdown asks at every join and every publish how many play and whether all are
ready: making every player's `Online` (its holdings, its map's size) each time was O(N) per
join, O(N^2) for a join storm, a quarter of the database peer's CPU at N = 2,000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from ..game.host import Online
from ..proto import PeerInfo
from .sessions import Session


class Elsewhere(Protocol):
    """A player of another database peer that published (the host's `RemotePlayer`)."""

    @property
    def peer(self) -> PeerInfo: ...

    @property
    def holdings(self) -> frozenset[str] | None: ...


class OnlineNow(Mapping[str, Online]):
    """The players in the game when it was made, by name; `Online` worked out on first look."""

    __slots__ = ("_holdings", "_made", "_map_size", "_players")

    def __init__(
        self,
        players: Mapping[str, Session | Elsewhere],
        holdings: Callable[[Session], frozenset[str]],
        map_size: Callable[[str], int],
    ) -> None:
        self._players = players
        self._holdings = holdings
        self._map_size = map_size
        self._made: dict[str, Online] = {}

    def __getitem__(self, name: str) -> Online:
        made = self._made.get(name)
        if made is None:
            player = self._players[name]
            if isinstance(player, Session):
                holdings = self._holdings(player)
            else:
                holdings = player.holdings or frozenset()
            made = self._made[name] = Online(player.peer, holdings, self._map_size(name))
        return made

    def __contains__(self, name: object) -> bool:
        return name in self._players

    def __iter__(self) -> Iterator[str]:
        return iter(self._players)

    def __len__(self) -> int:
        return len(self._players)
