"""The database peers a player knows of, and the one it is on.

A network may have several database peers on one shared store. The player is given some
(`--db`, its profile, discovery) and told the live ones by the one it joins (`welcome`, then
`database_peers` whenever one starts or stops). When its database peer goes away, the session
tries the next one here, in turn, so a player moves by itself to one that still runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .peerlist import Addr


def _unique(addresses: Iterable[Addr]) -> list[Addr]:
    return list(dict.fromkeys(addresses))


class DatabaseList:
    """Known database peers: those the player was given (always kept: the player's own say)
    and those the network last listed (its live ones); `current` is tried first."""

    def __init__(self, given: Sequence[Addr]) -> None:
        self.given = _unique(given)
        self.listed: list[Addr] = []
        self.current: Addr | None = self.given[0] if self.given else None

    @property
    def all(self) -> list[Addr]:
        """Every known one: the current one, then the network's list, then the given ones."""
        first = [self.current] if self.current is not None else []
        return _unique([*first, *self.listed, *self.given])

    def listed_now(self, addresses: Sequence[Addr]) -> bool:
        """The network's list as a database peer told it; True if what we know changed."""
        before = self.all
        self.listed = _unique(addresses)
        return self.all != before

    def move_on(self) -> Addr | None:
        """Make the next known one current (the first again after the last), and return it."""
        known = self.all
        if self.current is None or len(known) < 2:
            return self.current
        order = _unique([*self.listed, *self.given]) or known
        if self.current in order:
            self.current = order[(order.index(self.current) + 1) % len(order)]
        else:
            self.current = order[0]
        return self.current
