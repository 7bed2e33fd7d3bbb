"""`?`: the keys and the commands."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from reliablep2p.app import commands

KEYS = {
    ":": "open the command line (Tab or → completes file names, Esc closes it)",
    "Enter": "on a catalog row: get that file",
    "Tab / Shift+Tab": "move between the panels",
    "m": "on a narrow screen: swap the catalog and the address book (your map)",
    "s": "show the scoreboard of the last finished round",
    "?": "this help",
    "Ctrl+P": "command palette",
    "Ctrl+Q": "disconnect from everyone and quit",
}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        for key, text in KEYS.items():
            keys.add_row(Text(key, style="bold"), text)
        verbs = Table.grid(padding=(0, 2))
        for usage, text in commands.HELP.items():
            verbs.add_row(Text(usage, style="bold"), text)
        with Vertical(id="help"):
            yield Static(Text("Find the round's target files before the others do. Getting a file "
                              "from a player scores more than falling back to the vault; the first "
                              "finder gets a bonus.\n"))  # fmt: skip
            yield Static(Text("Keys", style="bold underline"))
            yield Static(keys)
            yield Static(Text("\nCommands (after :)", style="bold underline"))
            yield Static(verbs)
            yield Static(Text("\nEsc closes this help.", style="dim"))
