"""The end of a round: the winner and the final scoreboard."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from reliablep2p.proto import PlayerStats, RoundState


class RoundOverScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q,s", "dismiss", "Close")]

    def __init__(self, state: RoundState, scoreboard: list[PlayerStats], me: str) -> None:
        super().__init__()
        self.state = state
        self.scoreboard = scoreboard
        self.me = me

    def show_scoreboard(self, scoreboard: list[PlayerStats]) -> None:
        """The scores pushed after the round's last news."""
        self.scoreboard = scoreboard
        for board in self.query("#final-scores").results(Static):  # none until composed
            board.update(self._board())

    def _board(self) -> Table:
        board = Table(expand=True, box=None, header_style="bold")
        for column in ("#", "player", "score", "found", "map", "wins"):
            board.add_column(column, justify="left" if column == "player" else "right")
        for rank, player in enumerate(self.scoreboard, 1):
            style = "bold reverse" if player.name == self.me else ""
            board.add_row(str(rank), player.name, str(player.score), str(player.files_found),
                          str(player.map_size), str(player.wins), style=style)  # fmt: skip
        return board

    def compose(self) -> ComposeResult:
        state = self.state
        winner = state.winner or "nobody"
        title = Text(f"Round {state.number} is over\n", style="bold")
        title.append("You win!" if winner == self.me else f"Winner: {winner}",
                     style="bold magenta")  # fmt: skip
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
            yield Static(Text("\nEnter or Esc closes; the next round starts soon.", style="dim"))
