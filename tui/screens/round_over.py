"""The end of a round: the winner, and the round's standings ranked by the points that named it."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from reliablep2p.app import words
from reliablep2p.proto import PlayerStats, RoundState

from .. import model
from ..widgets.clock import CountdownLine
from .settled import SettledModal


class RoundOverScreen(SettledModal):
    BINDINGS = [
        Binding("escape,enter,q,s", "dismiss", "Close"),
        Binding("r", "app.ready", "Ready"),
    ]

    def __init__(
        self,
        state: RoundState,
        scoreboard: list[PlayerStats],
        me: str,
        clock: Callable[[], str] = lambda: "",
        *,
        asked: bool = False,
    ) -> None:
        super().__init__(asked=asked)
        self.state = state
        self.scoreboard = scoreboard
        self.me = me
        self.clock = clock

    def show_scoreboard(self, scoreboard: list[PlayerStats]) -> None:
        """The totals pushed after the round's last news."""
        self.scoreboard = scoreboard
        for board in self.query("#final-scores").results(Static):  # none until composed
            board.update(self._board())

    def _board(self) -> Table:
        board = Table(expand=True, box=None, header_style="bold")
        for column in ("#", "player", "round", "map pts", "total", "found", "wins"):
            board.add_column(column, justify="left" if column == "player" else "right")
        for rank, row in enumerate(model.final_rows(self.state, self.scoreboard), 1):
            style = "bold reverse" if row.name == self.me else ""
            board.add_row(str(rank), row.name, str(row.round_points), str(row.map_points),
                          str(row.total), str(row.files_found), str(row.wins),
                          style=style)  # fmt: skip
        return board

    def compose(self) -> ComposeResult:
        state = self.state
        said = words.headline(words.round_over_line(state, self.me))
        title = Text(said, style="bold magenta")
        finds = Text()
        for find in state.finds:
            finds.append(f"\n{find.player} found {find.target} +{find.points}"
                         + (" (first)" if find.first else "")
                         + (" from the vault" if find.from_vault else ""))  # fmt: skip
        with Vertical(id="round-over"):
            yield Static(title, id="round-title")
            yield Static(self._board(), id="final-scores")
            if state.finds:
                yield Static(finds)
            yield Static("")
            yield CountdownLine(self.clock, id="round-over-clock")
            yield Static(Text("r: ready for the next round · Enter or Esc closes", style="dim"))
