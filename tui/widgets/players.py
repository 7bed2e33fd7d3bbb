"""Players: the top of the scoreboard, this round's finders and you (highlighted), the
database peer as host; this round's points and the total, ranked as the round's standings are."""

from __future__ import annotations

import functools

from rich.text import Text

from ..model import Player
from .linetable import Cell, LineTable


class PlayersTable(LineTable):
    BORDER_TITLE = "Players"
    COLUMNS = ("player", "round", "total", "map", "")  # the last: online or not
    GIVES_WAY = 0  # a long name is cut before a number or the online mark

    def __init__(self, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)

    def show(self, players: list[Player], online: int) -> None:
        """`players`: the rows to show; `online`: how many play (more than the rows, in a crowd)."""
        self.sync({p.name: _cells(p) for p in players})
        if self.border_subtitle != (subtitle := f"{online} online"):
            self.border_subtitle = subtitle  # setting it repaints, even to the same


@functools.lru_cache(maxsize=1024)
def _cells(player: Player) -> tuple[Cell, ...]:
    """A row's cells, made once per player's values: a scoreboard push changes few rows."""
    if player.host:
        return (Text("⌂ vault (host)", style="bold cyan"), "", "", "",
                _online(player.online))  # fmt: skip
    style = "bold reverse" if player.me else ("" if player.online else "dim")
    marked = player.me and player.name.casefold() != "you"  # a player named "you": not "you (you)"
    label = ("▶ " if player.me else "  ") + player.name + (" (you)" if marked else "")
    if player.wins:
        label += f" ♛{player.wins}"
    return (
        Text(label, style=style, overflow="ellipsis"),
        Text(str(player.round_points), style=style, justify="right"),
        Text(str(player.score), style=style, justify="right"),
        Text(str(player.map_size), style=style, justify="right"),
        _online(player.online),
    )


def _online(online: bool) -> Text:
    return Text("●", style="green") if online else Text("○", style="dim")
