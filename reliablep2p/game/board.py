"""The scoreboard as data: its order, how a push changes it, and the host's log of changes."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..proto import PlayerStats, Scoreboard, ScoreboardChanged


def ranked(rows: Iterable[PlayerStats]) -> list[PlayerStats]:
    """The scoreboard's order: most points first, then by name."""
    return sorted(rows, key=lambda row: (-row.score, row.name))


def apply_scoreboard(
    board: list[PlayerStats], push: Scoreboard | ScoreboardChanged
) -> list[PlayerStats]:
    """The scoreboard after a push: a whole `Scoreboard`, or changed rows merged by name."""
    if isinstance(push, Scoreboard):
        return push.players
    rows = {row.name: row for row in board}
    rows.update((row.name, row) for row in push.players)
    for name in push.gone:
        rows.pop(name, None)
    return ranked(rows.values())


class BoardLog:
    """The scoreboard as last built, numbered by `tick`, with the rows each recent tick changed.

    A session that saw an earlier tick is sent only the rows changed since (`ScoreboardChanged`);
    a new session, or one further behind than the log reaches, gets the whole board. Messages are
    built once per tick and shared by every session at the same tick.
    """

    KEEP = 16

    def __init__(self) -> None:
        self.rows: dict[str, PlayerStats] = {}
        self.tick = 0
        self._changes: deque[dict[str, PlayerStats | None]] = deque(maxlen=self.KEEP)
        self._messages: dict[int, Scoreboard | ScoreboardChanged] = {}

    def update(self, board: Iterable[PlayerStats]) -> bool:
        """Take a freshly built board; False if no row changed."""
        rows = {row.name: row for row in board}
        change: dict[str, PlayerStats | None] = {
            name: row for name, row in rows.items() if self.rows.get(name) != row
        }
        change.update(dict.fromkeys(self.rows.keys() - rows.keys()))
        if not change:
            return False
        self.rows = rows
        self.tick += 1
        self._changes.append(change)
        self._messages.clear()
        return True

    def since(self, tick: int) -> Scoreboard | ScoreboardChanged | None:
        """What a session that has seen `tick` (-1: nothing yet) needs; None if it is current."""
        if tick == self.tick:
            return None
        message = self._messages.get(tick)
        if message is None:
            behind = self.tick - tick
            if tick < 0 or behind > len(self._changes):
                message = Scoreboard(ranked(self.rows.values()))
            else:
                merged: dict[str, PlayerStats | None] = {}
                for change in list(self._changes)[-behind:]:
                    merged.update(change)
                changed = ranked(row for row in merged.values() if row is not None)
                message = ScoreboardChanged(changed, [n for n, r in merged.items() if r is None])
            self._messages[tick] = message
        return message
