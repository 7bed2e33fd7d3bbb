"""The scoreboard as data: its order, how a push changes it, and the host's log of changes.

A player is sent a view of the host's board, not all of it: the top rows, whoever found something
in the current round, and itself (`BoardFeed`). A big LAN party's join storm would otherwise send
every player every row, again and again as rows change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable

from ..proto import PlayerStats, Scoreboard, ScoreboardChanged


def ranked(rows: Iterable[PlayerStats]) -> list[PlayerStats]:
    """The scoreboard's order: most points first, then by name."""
    return sorted(rows, key=lambda row: (-row.score, row.name))


def apply_scoreboard(
    board: list[PlayerStats], push: Scoreboard | ScoreboardChanged
) -> list[PlayerStats]:
    """The scoreboard after a push: a whole `Scoreboard`, or changed rows merged by name (the
    `gone` names left the host's board or the view we are sent)."""
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


TOP_ROWS = 20
"""The rows every player is sent from the top of the board (a players table shows about so many)."""


class BoardFeed:
    """The host's board as each player is sent it: the top rows, the round's finders, itself.

    The shared part (the top `top` rows and the `featured` names) goes through one `BoardLog`, so
    its messages are built once per tick for every session; a session's own row, when it is not
    in the shared part or changed, is added to that message for it alone. A change far down the
    board (a join, a map that grew) costs one row to one player, not a row to every player.
    """

    def __init__(self, top: int = TOP_ROWS) -> None:
        self.top = top
        self.rows: dict[str, PlayerStats] = {}
        """Every row of the host's board, by name."""
        self.shared = BoardLog()

    @property
    def tick(self) -> int:
        return self.shared.tick

    def update(self, board: Iterable[PlayerStats], featured: Collection[str] = ()) -> None:
        """Take a freshly built board; `featured`: names shown to everyone wherever they rank."""
        order = ranked(board)
        self.rows = {row.name: row for row in order}
        self.shared.update(
            order[: self.top] + [row for row in order[self.top :] if row.name in featured]
        )

    def since(
        self, tick: int, name: str, mine: PlayerStats | None
    ) -> Scoreboard | ScoreboardChanged | None:
        """What the session of player `name` needs, if it has the shared part up to `tick` (-1:
        nothing yet) and `mine` as its own row; None if it is current. Afterwards it has
        `self.tick` and `self.rows.get(name)`."""
        shared = self.shared.since(tick)
        own = self.rows.get(name)
        if isinstance(shared, Scoreboard):
            if own is None or own.name in self.shared.rows:
                return shared
            return Scoreboard(ranked([*shared.players, own]))
        if shared is None:
            if own == mine:
                return None
            return ScoreboardChanged([own]) if own is not None else ScoreboardChanged([], [name])
        if own == mine and name not in shared.gone:
            return shared
        players = shared.players
        if own is not None and own != mine and own.name not in self.shared.rows:
            players = ranked([*players, own])
        gone = [n for n in shared.gone if n != name or own is None]
        if own is None and mine is not None and name not in gone:
            gone.append(name)
        return ScoreboardChanged(players, gone)
