"""The host's count of each player's true map entries, kept true as holdings change.

An entry (file, holder) is true while the holder seeds the file (`rules.true_entries`). A map
reported before the players it names had published (all of them coming back to a restarted host
at once, in any order) would stay short until the player's map changed again, and players send
their map only when it changes: so the maps with entries not true yet are kept and counted again
after holdings changed, once per `RECHECK_SECONDS` at most.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from ..proto import MapEntry
from . import rules

RECHECK_SECONDS = 1.0
"""How often the maps waiting for their holders are counted again, at most."""


class Holder(Protocol):
    @property
    def holdings(self) -> frozenset[str]: ...


Online = Callable[[], Mapping[str, Holder]]


class MapCounts:
    """Each player's true entries; the maps that may grow once their holders publish."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        """Player -> how many entries of its last map are true (what the scoreboard shows)."""
        self._waiting: dict[str, list[MapEntry]] = {}
        """The last maps with entries not true (yet)."""
        self._truth: dict[str, set[str]] | None = None
        """File -> who holds it, built when a map needs it (None: holdings changed)."""
        self._stale = False

    def holdings_changed(self) -> None:
        self._truth = None
        self._stale = bool(self._waiting)

    def count(self, player: str, entries: list[MapEntry], online: Online) -> int:
        """The true entries of `player`'s map; `online()` only when holdings changed (a storm's
        empty maps must not each walk every player)."""
        true = rules.true_entries(entries, self._holders(online), reporter=player) if entries else 0
        if true < len(entries):
            self._waiting[player] = entries
        else:
            self._waiting.pop(player, None)
        self.sizes[player] = true
        return true

    def recount(self, online: Online) -> dict[str, int]:
        """The waiting maps counted again if holdings changed: those whose count changed."""
        if not self._stale:
            return {}
        self._stale = False
        present = online()
        changed = {}
        for player, entries in list(self._waiting.items()):
            if player not in present:
                del self._waiting[player]  # it reports its map again when it is back
                continue
            before = self.sizes.get(player, 0)
            if (true := self.count(player, entries, online)) != before:
                changed[player] = true
        return changed

    def _holders(self, online: Online) -> dict[str, set[str]]:
        if self._truth is None:
            self._truth = {}
            for name, here in online().items():
                for held in here.holdings:
                    self._truth.setdefault(held, set()).add(name)
        return self._truth
