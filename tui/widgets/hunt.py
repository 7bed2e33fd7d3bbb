"""The hunt: your targets this round, who found them, the time left; between rounds, the lobby."""

from __future__ import annotations

import time

from rich.console import Group
from rich.text import Text

from reliablep2p.app import words
from reliablep2p.proto import Lobby, RoundState

from .. import model
from .steady import SteadyStatic, text_key

MIN_NAME = 12
"""A name is cut no shorter than this, however long the details beside it."""


class HuntPanel(SteadyStatic):
    BORDER_TITLE = "Hunt"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: RoundState | None = None
        self.deadline = 0.0
        self.mine: set[str] = set()
        self.me = ""
        self.lobby: Lobby | None = None
        self.lobby_starts = 0.0
        self.in_game: list[str] = []
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
        elif paused is None and self.paused is not None:  # back, before the host's push
            self.deadline = time.monotonic() + self.paused  # (with it: its figure stands)
        self.state, self.me, self.mine = state, me, have
        self.paused = paused
        self._render_state()

    def show_lobby(self, lobby: Lobby | None, in_game: list[str]) -> None:
        """Who is in the game, who is ready, and when the next round starts."""
        if lobby is not None and lobby != self.lobby:
            self.lobby_starts = time.monotonic() + max(0.0, lobby.starts_in)
        self.lobby, self.in_game = lobby, in_game
        self._render_state()

    def seconds_left(self) -> float:
        if self.paused is not None:
            return self.paused
        return max(0.0, self.deadline - time.monotonic())

    def tick(self) -> None:
        """Once a second: the clock (none while the host is away: the round waits)."""
        if self.paused is None:
            self._render_state()

    def _render_state(self) -> None:
        state = self.state
        width = self.content_size.width or 80
        if state is None:
            self.subtitle("lobby")
            lines = self._lobby_lines()
            self.paint((width, text_key(lines)), Group(*lines))
            return
        if state.over:
            self.subtitle(f"round {state.number} over")
        elif self.paused is not None:
            self.subtitle(f"round {state.number} · paused, {model.clock(self.paused)} left"
                          " · the host is away")  # fmt: skip
        else:
            self.subtitle(f"round {state.number} · {model.clock(self.seconds_left())} left")
        rows = model.hunt(state, self.me, self.mine)
        table = fit_lines([_line(row, self.me) for row in rows], width)
        if state.over:
            head = Text(words.headline(words.round_over_line(state, self.me)),
                        style="bold magenta")  # fmt: skip
            lines = [head, table, *self._lobby_lines()]
            self.paint((width, text_key(lines)), Group(*lines))
        elif not rows:
            empty = Text("Nothing to find for you this round.", style="dim")
            self.paint((width, text_key([empty])), empty)
        else:
            left = model.still_to_find(rows)
            lines = [table, Text(f"{left} of {len(rows)} still to find", style="dim")]
            self.paint((width, text_key(lines)), Group(*lines))

    def _lobby_lines(self) -> list[Text]:
        lobby = self.lobby
        if lobby is None:  # not joined yet (or refused): "two players online" read as if in
            return [Text("Waiting to hear from the host.", style="dim")]
        if lobby.starts_in < 0 and not lobby.needed:  # enough players, no countdown yet
            return [Text("Waiting for the host to start the next round.", style="dim")]
        if lobby.starts_in < 0:
            more = f"{lobby.needed} more player{'' if lobby.needed == 1 else 's'}"
            return [Text(f"Lobby: waiting for {more} to start a round.", style="dim")]
        starts = model.clock(self.lobby_starts - time.monotonic())
        line = Text.assemble(("Next round in ", "bold"), (starts, "bold cyan"))
        ready = set(lobby.ready)
        who = Text("In: ", style="dim")
        for index, name in enumerate(self.in_game):
            who.append(", " if index else "")
            who.append(name + (" ✓" if name in ready else ""),
                       style="green" if name in ready else "")  # fmt: skip
        hint = "you are ready" if self.me in ready else "press r when you are ready"
        return [line, who, Text(hint, style="dim")]


def fit_lines(lines: list[tuple[Text, Text]], width: int) -> Text:
    """Names in one column and details beside them, in `width` cells.

    The column is as wide as the longest name that leaves room for the widest details; a
    longer name takes the room its own details leave, and is cut (with …) only when even that
    is gone, never below `MIN_NAME`.
    """
    names = max((name.cell_len for name, _ in lines), default=0)
    details = max((detail.cell_len for _, detail in lines), default=0)
    column = max(min(names, width - details - 2), min(names, MIN_NAME))
    out = []
    for name, detail in lines:
        if not detail.cell_len:
            out.append(name)
            continue
        room = max(width - detail.cell_len - 2, MIN_NAME)
        fitted = _fit(name, column if name.cell_len <= column else min(name.cell_len, room))
        out.append(Text.assemble(fitted, "  ", detail))
    table = Text("\n").join(out)
    table.no_wrap, table.overflow = True, "ellipsis"
    return table


def _fit(text: Text, width: int) -> Text:
    """`text` in exactly `width` cells: cut with … or padded."""
    text = text.copy()
    text.truncate(width, overflow="ellipsis", pad=True)
    return text


def _line(row: model.Target, me: str) -> tuple[Text, Text]:
    """`★ name   ada +15 first · you · 2 more`: ★ when you found it; a target only others
    found is still yours to find, so it keeps its ○ (a tick there read as done)."""
    first = row.first
    still = Text.assemble(("○ ", "yellow"), (row.name, "bold yellow"))
    if first is None:
        if row.have:
            return Text.assemble(("◆ ", "cyan"), (row.name, "cyan")), Text("you have it", "dim")
        return still, Text("")
    name = Text.assemble(("★ ", "bold green"), (row.name, "bold green")) if row.mine else still
    who = "you" if first.player == me else first.player
    detail = Text.assemble((f"{who} +{first.points}", "bold green" if who == "you" else "green"),
                           (" first", "magenta"))  # fmt: skip
    if row.mine is not None and row.mine != first:
        detail.append(" · ", "dim")
        detail.append("you", "bold green")
    if row.others:
        detail.append(f" · {row.others} more", "dim")
    return name, detail
