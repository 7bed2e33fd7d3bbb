"""The end of the evening (the host stopped): rounds won, points and best find, for everyone."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from reliablep2p.app import words
from reliablep2p.proto import EveningRow, RoundState

from .settled import SettledModal


class EveningScreen(SettledModal):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(
        self, rows: list[EveningRow], me: str, last_round: RoundState | None = None
    ) -> None:
        super().__init__()
        self.rows = rows
        self.me = me
        cut = last_round if last_round is not None and last_round.cut_short else None
        self.cut_short = cut.number if cut is not None else None
        """The round running when the host stopped (counted as it stood), if one was."""

    def compose(self) -> ComposeResult:
        board = Table(expand=True, box=None, header_style="bold")
        for column in ("#", "player", "points", "won", "rounds", "best find"):
            board.add_column(column, justify="left" if column in ("player", "best find")
                             else "right")  # fmt: skip
        for rank, row in enumerate(self.rows, 1):
            best = f"{row.best_find} +{row.best_points}" if row.best_find else "—"
            board.add_row(str(rank), row.name, str(row.points), str(row.wins), str(row.rounds),
                          best, style="bold reverse" if row.name == self.me else "")  # fmt: skip
        title = Text("The evening is over\n", style="bold")
        title.append("The host stopped the game. Thanks for playing!", style="magenta")
        if self.cut_short is not None:
            cut = words.cut_short_line(self.cut_short)
            title.append(f"\n{cut[0].upper()}{cut[1:]}.", style="dim")
        with Vertical(id="evening"):
            yield Static(title, id="evening-title")
            yield Static(board, id="evening-scores")
            yield Static(Text("\nEnter or Esc closes; Ctrl+Q quits.", style="dim"))
