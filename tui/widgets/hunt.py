"""The hunt: this round's targets, who found them, and the time left."""

from __future__ import annotations

import time

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from reliablep2p.proto import RoundState

from .. import model


class HuntPanel(Static):
    BORDER_TITLE = "Hunt"

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.state: RoundState | None = None
        self.deadline = 0.0
        self.mine: set[str] = set()
        self.me = ""
        self.paused: float | None = None
        """While our session with the host is down: the time the round had left (no clock)."""

    def on_mount(self) -> None:
        self._render_state()

    def on_resize(self) -> None:
        self._render_state()  # the names get what the details leave of the width

    def show(
        self, state: RoundState | None, me: str, have: set[str], *, paused: float | None = None
    ) -> None:
        """Show `state`; `paused`: the host is away, the round waits with that time left."""
        if state is not None and state is not self.state:  # a push: the host's clock
            self.deadline = time.monotonic() + state.seconds_left
        self.state, self.me, self.mine = state, me, have
        if paused is None and self.paused is not None and state is self.state:
            self.deadline = time.monotonic() + self.paused  # back, before the host's push
        self.paused = paused
        self._render_state()

    def seconds_left(self) -> float:
        if self.paused is not None:
            return self.paused
        return max(0.0, self.deadline - time.monotonic())

    def tick(self) -> None:
        """Once a second, while a round runs: the clock."""
        if self.state is not None and not self.state.over and self.paused is None:
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
        elif self.paused is not None:
            self.border_subtitle = (f"round {state.number} · paused, {model.clock(self.paused)}"
                                    " left · the host is away")  # fmt: skip
        else:
            self.border_subtitle = f"round {state.number} · {model.clock(self.seconds_left())} left"
        rows = model.hunt(state, self.me, self.mine)
        width = self.content_size.width or 80
        lines = [_line(row, self.me) for row in rows]
        names = max((name.cell_len for name, _ in lines), default=0)
        details = max((detail.cell_len for _, detail in lines), default=0)
        name_width = max(min(names, width - details - 2), min(names, 12))
        table = Text("\n").join(
            Text.assemble(_fit(name, name_width), "  ", detail) if detail else name
            for name, detail in lines
        )
        table.no_wrap, table.overflow = True, "ellipsis"
        if state.over:
            winner = state.winner or "nobody"
            head = Text(f"Round {state.number} over: winner {winner}", style="bold magenta")
            self.update(Group(head, table))
        else:
            left = sum(1 for row in rows if row.first is None)
            self.update(Group(table, Text(f"{left} of {len(rows)} still to find", style="dim")))


def _fit(text: Text, width: int) -> Text:
    """`text` in exactly `width` cells: cut with … or padded."""
    text = text.copy()
    text.truncate(width, overflow="ellipsis", pad=True)
    return text


def _line(row: model.Target, me: str) -> tuple[Text, Text]:
    """`★ name   ada +15 first · you · 2 more`: ★ when you found it, ✓ when only others did."""
    first = row.first
    if first is None:
        if row.have:
            return Text.assemble(("◆ ", "cyan"), (row.name, "cyan")), Text("you have it", "dim")
        return Text.assemble(("○ ", "yellow"), (row.name, "bold yellow")), Text("")
    name = Text.assemble(("★ ", "bold green"), (row.name, "bold green")) if row.mine else (
        Text.assemble(("✓ ", "green"), row.name))  # fmt: skip
    who = "you" if first.player == me else first.player
    detail = Text.assemble((f"{who} +{first.points}", "bold green" if who == "you" else "green"),
                           (" first", "magenta"))  # fmt: skip
    if row.mine is not None and row.mine != first:
        detail.append(" · ", "dim")
        detail.append("you", "bold green")
    if row.others:
        detail.append(f" · {row.others} more", "dim")
    return name, detail
