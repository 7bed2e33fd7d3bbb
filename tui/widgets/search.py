"""The catalog search (`/`): the catalog shows only the files whose name has what you type."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from .command_line import CommandLine, take_focus_now

CommandLineClosed = CommandLine.Closed


class CatalogSearch(Input):
    """Hidden until `/`; the filter follows every key, Enter keeps it, Escape clears it."""

    BINDINGS = [Binding("escape", "clear", "Clear search", show=True)]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(placeholder="search the catalog: part of a file name", id=id)

    def open(self) -> None:
        self.display = True
        take_focus_now(self)

    def action_clear(self) -> None:
        self.value = ""  # the catalog hears it changed: it shows every file again
        self.close()

    def close(self) -> None:
        self.display = False
        self.post_message(CommandLineClosed())
