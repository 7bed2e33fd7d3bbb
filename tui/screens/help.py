"""`?`: how the game scores, what the marks mean, the keys and the commands."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from reliablep2p.app import commands
from reliablep2p.game import rules

from ..widgets.clock import CountdownLine

RULES = (
    "Each round you hunt the files you do not have: fresh treasure the host hid with a few "
    "players, and files others seed. Get them from other players, not the vault, and be first.\n"
    f"  • a find from a player: {rules.PEER_POINTS} points; most of it from the vault: "
    f"{rules.VAULT_POINTS}; the first finder of a file: +{rules.FIRST_BONUS}\n"
    "  • your map (which player holds which file) scores for the entries the host can check, "
    f"less for each one more, at most {rules.MAP_CAP} a round: asking others for their maps "
    "(:map PORT) helps a little, hunting helps more\n"
    "  • a file you had before the round scores nothing\n"
    "The round ends when time is up or everyone has found all they lack; the most round "
    "points wins, if they found something (a map alone wins nothing). Between rounds a countdown runs: press r when you are ready, and once "
    "everyone is, the next round starts sooner."
)
LEGEND = {
    "○": "a target you still need (beside it: who found it first, if someone did)",
    "◆": "a target you have (it scores once the host has checked your find)",
    "★": "a target you found this round",
    "◎": "in the catalog: a target of this round",
    "map": "your address book: its entries the host checked true",
    "round / total": "points this round / over every round",
}
KEYS = {
    ":": "open the command line (Tab or → completes file names, Esc closes it)",
    "Enter": "on a catalog row: get that file",
    "/": "search the catalog (Esc clears the search)",
    "r": "ready for the next round",
    "Tab / Shift+Tab": "move between the panels",
    "m": "on a narrow screen: swap the catalog and the address book (your map)",
    "s": "show the last finished round",
    "?": "this help",
    "Ctrl+P": "command palette (a screenshot, too)",
    "Ctrl+Q": "disconnect from everyone and quit",
}


def grid(entries: dict[str, str]) -> Table:
    table = Table.grid(padding=(0, 2))
    for key, text in entries.items():
        table.add_row(Text(key, style="bold"), text)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, clock: Callable[[], str] = lambda: "") -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield CountdownLine(self.clock, id="help-clock")
            yield Static(Text(RULES + "\n"))
            yield Static(Text("What the marks mean", style="bold underline"))
            yield Static(grid(LEGEND))
            yield Static(Text("\nKeys", style="bold underline"))
            yield Static(grid(KEYS))
            yield Static(Text("\nCommands (after :)", style="bold underline"))
            yield Static(grid(commands.HELP))
            yield Static(Text("\nEsc closes this help.", style="dim"))
