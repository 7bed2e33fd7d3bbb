"""The game's clock on any screen: the round's time left, or the countdown to the next one."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static


class CountdownLine(Static):
    """Shows what `clock()` says, twice a second."""

    def __init__(self, clock: Callable[[], str], id: str | None = None) -> None:
        super().__init__("", id=id, classes="countdown")
        self.clock = clock

    def on_mount(self) -> None:
        self.tick()
        self.set_interval(0.5, self.tick)

    def tick(self) -> None:
        self.update(Text(self.clock(), style="bold cyan"))
