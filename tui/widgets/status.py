"""The status bar: your score, files found and map size, always visible."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..model import Player

CONNECTION_STYLES = {
    "joined": "green",
    "starting": "yellow",
    "joining": "yellow",
    "reconnecting…": "bold yellow",
}


class StatusBar(Static):
    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.connection = "starting"

    def show(self, me: Player, online: int, connection: str) -> None:
        text = Text()
        text.append(f" {me.name} ", style="bold reverse")
        text.append(f"  score {me.score}", style="bold")
        text.append(f"  ·  found {me.files_found}  ·  map {me.map_size}")
        if me.wins:
            text.append(f"  ·  wins {me.wins}")
        text.append(f"  ·  {online} online  ·  ")
        style = CONNECTION_STYLES.get(connection, "red")
        text.append(connection, style=style)
        self.update(text)
