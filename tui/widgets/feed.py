"""The event feed: joins, leaves, finds, errors; one line each, newest last.

The feed keeps its lines as text and writes them again when its width changes, so they wrap to
the new width, and it keeps following the newest line.
"""

from __future__ import annotations

import collections
import time

from rich.text import Text
from textual import events
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
KEEP = 500


class Feed(RichLog):
    BORDER_TITLE = "Events"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(max_lines=KEEP, min_width=20, wrap=True, markup=False, id=id)
        self.can_focus = False
        self.entries: collections.deque[Text] = collections.deque(maxlen=KEEP)
        self._width = 0

    def add(self, text: str, kind: str = "info") -> None:
        line = Text(time.strftime("%H:%M:%S "), style="dim")
        line.append(text, style=STYLES.get(kind, ""))
        self.entries.append(line)
        self.write(line)

    def on_resize(self, event: events.Resize) -> None:
        width = event.size.width
        if width != self._width:
            self._width = width
            self.clear()
            for line in self.entries:
                self.write(line, scroll_end=False)
            self.scroll_end(animate=False, immediate=True)
