"""The hunt: this round's targets, who found them, and the time left."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from reliablep2p.protocol import RoundState

from .. import model


class HuntPanel(Static):
    BORDER_TITLE = "Hunt"

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.state: RoundState | None = None
        self.deadline = 0.0
        self.mine: set[str] = set()
        self.me = ""

    def on_mount(self) -> None:
        self._render_state()

    def show(self, state: RoundState | None, me: str, have: set[str]) -> None:
        if state is not None and state != self.state:
            self.deadline = time.monotonic() + state.seconds_left
        self.state, self.me, self.mine = state, me, have
        self._render_state()

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def tick(self) -> None:
        """Once a second, while a round runs: the clock."""
        if self.state is not None and not self.state.over:
            self._render_state()

    def _render_state(self) -> None:
        state = self.state
        if state is None:
            self.border_subtitle = ""
            self.update(Text("Waiting for the host to start a round\n(it needs two players online).",
                             style="dim"))  # fmt: skip
            return
        if state.over:
            self.border_subtitle = f"round {state.number} over"
        else:
            self.border_subtitle = f"round {state.number} · {model.clock(self.seconds_left())} left"
        found = {find.target: find for find in state.finds}
        text = Text()
        if state.over:
            winner = state.winner or "nobody"
            text.append(f"Round {state.number} over: winner {winner}\n", style="bold magenta")
        for target in state.targets:
            find = found.get(target)
            if find is not None:
                who = "you" if find.player == self.me else find.player
                text.append("✓ ", style="green")
                text.append(target, style="strike" if find.player != self.me else "bold green")
                text.append(f"  {who} +{find.points}", style="green")
                if find.first:
                    text.append(" first", style="magenta")
                if find.from_vault:
                    text.append(" (vault)", style="dim")
            elif target in self.mine:
                text.append("◆ ", style="cyan")
                text.append(target, style="cyan")
                text.append("  you have it", style="dim")
            else:
                text.append("○ ", style="yellow")
                text.append(target, style="bold yellow")
            text.append("\n")
        if not state.over:
            left = sum(1 for t in state.targets if t not in found)
            text.append(f"{left} of {len(state.targets)} still to find", style="dim")
        self.update(text)
