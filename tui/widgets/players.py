"""Players: the top of the scoreboard, this round's finders and you (highlighted), the
database peer as host; this round's points and the total, ranked as the round's standings are."""

from __future__ import annotations

from rich.text import Text

from ..model import Player
from .table import Cell, SyncedTable


class PlayersTable(SyncedTable):
    BORDER_TITLE = "Players"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none")
        self.add_column("player", key="player")
        self.add_column("round", key="round")
        self.add_column("total", key="total")
        self.add_column("map", key="map")
        self.add_column("", key="online")

    def show(self, players: list[Player], online: int) -> None:
        """`players`: the rows to show; `online`: how many play (more than the rows, in a crowd)."""
        self.sync({p.name: _cells(p) for p in players})
        self.border_subtitle = f"{online} online"


def _cells(player: Player) -> list[Cell]:
    if player.host:
        return [Text("⌂ vault (host)", style="bold cyan"), "", "", "",
                _online(player.online)]  # fmt: skip
    style = "bold reverse" if player.me else ("" if player.online else "dim")
    label = ("▶ " if player.me else "  ") + player.name + (" (you)" if player.me else "")
    if player.wins:
        label += f" ♛{player.wins}"
    return [
        Text(label, style=style),
        Text(str(player.round_points), style=style, justify="right"),
        Text(str(player.score), style=style, justify="right"),
        Text(str(player.map_size), style=style, justify="right"),
        _online(player.online),
    ]


def _online(online: bool) -> Text:
    return Text("●", style="green") if online else Text("○", style="dim")
