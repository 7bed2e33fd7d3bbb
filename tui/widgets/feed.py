"""The event feed: joins, leaves, finds, errors; one line each, newest last."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import RichLog

STYLES = {
    "join": "green",
    "leave": "yellow",
    "find": "bold magenta",
    "got": "cyan",
    "round": "bold",
    "error": "bold red",
    "command": "dim",
    "info": "",
}


class Feed(RichLog):
    BORDER_TITLE = "Events"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(max_lines=500, min_width=20, wrap=True, markup=False, id=id)
        self.can_focus = False

    def add(self, text: str, kind: str = "info") -> None:
        line = Text(time.strftime("%H:%M:%S "), style="dim")
        line.append(text, style=STYLES.get(kind, ""))
        self.write(line)
