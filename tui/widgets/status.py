"""The status bar: your points this round (never read as a round's number) and in total,
files found, map size, the game's clock."""

from __future__ import annotations

from rich.text import Text

from ..model import Player
from .steady import SteadyStatic, text_key

CONNECTION_STYLES = {
    "joined": "green",
    "starting": "yellow",
    "joining": "yellow",
    "reconnecting…": "bold yellow",
}


class StatusBar(SteadyStatic):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.me: Player | None = None
        self.connection = "starting"
        self.clock = ""

    def show(self, me: Player, connection: str) -> None:
        self.me, self.connection = me, connection
        self._render_status()

    def tick(self, clock: str) -> None:
        """The countdown, once a second."""
        if clock != self.clock:
            self.clock = clock
            self._render_status()

    def on_resize(self) -> None:
        self._render_status()

    def _render_status(self) -> None:
        """Your name, points, clock and connection; on a narrow screen the least needed
        parts (wins, files found, the map: the players panel has them, then the words "this
        round") give way first, so the clock and the connection always show."""
        me = self.me
        if me is None:
            return
        parts = [
            ("points", Text(f"{me.round_points} pts this round · total {me.score}", style="bold")),
            ("found", Text(f"found {me.files_found}")),
            ("map", Text(f"map {me.map_size}")),
            ("wins", Text(f"wins {me.wins}") if me.wins else None),
            ("clock", Text(self.clock, style="bold cyan") if self.clock else None),
            (
                "connection",
                Text(self.connection, style=CONNECTION_STYLES.get(self.connection, "red")),
            ),
        ]
        shown = [(key, part) for key, part in parts if part is not None]
        width = self.size.width or 80
        for drop in ("wins", "found", "map", "this round"):
            if _line(me.name, shown).cell_len <= width:
                break
            if drop == "this round":
                short = Text(f"{me.round_points} pts · total {me.score}", style="bold")
                shown = [(key, short if key == "points" else part) for key, part in shown]
            shown = [(key, part) for key, part in shown if key != drop]
        line = _line(me.name, shown)
        self.paint((width, text_key([line])), line)


def _line(name: str, parts: list[tuple[str, Text]]) -> Text:
    text = Text()
    text.append(f" {name} ", style="bold reverse")
    text.append("  ")
    return text + Text(" · ").join(part for _, part in parts)
