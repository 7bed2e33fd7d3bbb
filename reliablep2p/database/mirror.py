"""A relay's copy of the host's game: the lobby, the round and the scoreboard as the host last
said them over the bus, with the clocks run on since, and each player's view of the round (its
own targets, the top of the standings and its own place), as the host would push it.
"""

from __future__ import annotations

import msgspec
import trio

from ..game import views
from ..proto import Lobby, PlayerStats, RoundState, bus


class GameMirror:
    """The lobby, round and scoreboard as the host last said (what a relay pushes)."""

    def __init__(self) -> None:
        self.lobby_version = self.round_version = -1
        self.lobby: Lobby | None = None
        self.round: RoundState | None = None
        self.targets: dict[str, list[str]] = {}
        self.board: list[PlayerStats] = []
        self._places: dict[str, int] = {}
        self._at = 0.0

    def update(self, state: bus.GameState) -> bool:
        """Take the host's state; True if the scoreboard changed."""
        self._at = trio.current_time()
        if state.lobby != self.lobby:
            self.lobby, self.lobby_version = state.lobby, self.lobby_version + 1
        if state.round != self.round or state.targets != self.targets:
            self.round_version += 1
            standings = state.round.standings if state.round is not None else []
            self._places = {standing.player: place for place, standing in enumerate(standings)}
        self.round, self.targets = state.round, state.targets
        if state.board is not None and state.board != self.board:
            self.board = state.board
            return True
        return False

    def forced(self) -> None:
        """Every session is pushed the mirror's state afresh (it was a host's until now)."""
        self.lobby_version += 1
        self.round_version += 1

    def lobby_state(self, online: object) -> Lobby:
        lobby = self.lobby or Lobby()
        if lobby.starts_in < 0:
            return lobby
        elapsed = trio.current_time() - self._at
        return msgspec.structs.replace(lobby, starts_in=max(0.0, lobby.starts_in - elapsed))

    def round_state(self, player: str) -> RoundState | None:
        if self.round is None:
            return None
        left = self.round.seconds_left
        if not self.round.over:
            left = max(0.0, left - (trio.current_time() - self._at))
        targets = self.targets.get(player)
        if targets is None:  # the host has not heard of it yet: its targets come next
            return None
        standings = views.standings_for(self.round.standings, self._places, player)
        return msgspec.structs.replace(
            self.round, targets=targets, seconds_left=left, standings=standings
        )

    def finders(self) -> set[str]:
        return {find.player for find in self.round.finds} if self.round is not None else set()
