"""An evening of rounds, summed up: rounds played and won, points, the best find.

The host keeps one for everybody (said when it stops); a player keeps its own from the rounds it
saw end (said when it quits). Pure: fed one finished round at a time (or one the host cut short
as it stopped: its points count, nobody won it). The host also keeps each
finished round's `RoundSummary` in the store, so a host that takes over (or comes back after a
crash) rebuilds the evening so far (`Evening.replayed`) instead of starting a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from ..proto import EveningRow, RoundState


class RoundSummary(msgspec.Struct, array_like=True):
    """A finished round as the evening counts it (as the store keeps it)."""

    number: int
    winner: str | None
    points: dict[str, int]
    finds: list[tuple[str, str, int]]
    """(player, file, points)"""
    played: list[str]
    cut_short: bool = False
    """The host stopped mid-round: counted with what was found so far, nobody won it."""

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self)


@dataclass
class _Player:
    rounds: int = 0
    wins: int = 0
    points: int = 0
    best_find: str = ""
    best_points: int = 0


class Evening:
    def __init__(self) -> None:
        self._players: dict[str, _Player] = {}
        self.rounds = 0
        self._last = -1
        self.cut_short: list[int] = []
        """The rounds the host cut short (it stopped mid-round)."""
        self._told = False
        """The host said goodnight (`tell`): the next round begins a new evening."""
        self.first = -1
        """The number of this evening's first round counted (-1: none yet)."""
        self.named = 0
        """Which evening this is, as its host names it (`Lobby.evening`; 0: not told)."""

    def _forget(self) -> None:
        """A new evening: nothing counted yet."""
        self._players, self.rounds, self.cut_short, self._told = {}, 0, [], False
        self.first = -1

    def heard(self, evening: int) -> None:
        """The host says which evening it runs (0: an older host cannot): rounds kept from
        another evening (an evening.json left from an earlier one, or from another host's)
        are not tonight's."""
        if evening and self.named and evening != self.named:
            self._forget()
            self._last = -1
        self.named = evening or self.named

    def round_over(
        self,
        number: int,
        *,
        winner: str | None,
        points: Mapping[str, int],
        finds: Iterable[tuple[str, str, int]],
        played: Iterable[str],
    ) -> None:
        """Round `number` ended; `finds` are (player, file, points). A round is counted once."""
        if number == self._last:
            return
        self._last = number
        if self._told:  # the host is back after its goodnight: a new evening
            self._forget()
        if not self.rounds:
            self.first = number
        self.rounds += 1
        for name in set(played) | set(points):
            self._players.setdefault(name, _Player()).rounds += 1
        for name, gained in points.items():
            self._players[name].points += gained
        for player, target, gained in finds:
            row = self._players.setdefault(player, _Player())
            if gained > row.best_points:
                row.best_find, row.best_points = target, gained
        if winner:
            self._players.setdefault(winner, _Player()).wins += 1

    def tell(self, rows: Iterable[EveningRow]) -> tuple[EveningRow, ...]:
        """The host stopped and said how the evening went (`rows`, returned): its word stands
        (a player who came back mid-evening saw fewer rounds), so what the player says at the
        end agrees with the table it was shown. A round seen again later is counted once."""
        rows = tuple(rows)
        self.resume(rows, self._last, self.named)
        self._told = True
        return rows

    def resume(self, rows: Iterable[EveningRow], last: int, named: int = 0) -> None:
        """Go on from an evening kept so far (`rows`, up to round `last`, of the evening the
        host `named`): a player that quits and starts again mid-evening counted only the rounds
        since its start ("won 0 of 3")."""
        self._players = {row.name: _Player(row.rounds, row.wins, row.points, row.best_find,
                                           row.best_points) for row in rows}  # fmt: skip
        self.rounds = max((p.rounds for p in self._players.values()), default=0)
        self._last, self.named = last, named

    @property
    def last(self) -> int:
        """The number of the last round counted (-1: none yet)."""
        return self._last

    def add(self, summary: RoundSummary) -> None:
        if summary.cut_short and summary.number != self._last:
            self.cut_short.append(summary.number)
        self.round_over(summary.number, winner=summary.winner, points=summary.points,
                        finds=summary.finds, played=summary.played)  # fmt: skip

    @classmethod
    def replayed(cls, summaries: Iterable[bytes]) -> Evening:
        """The evening of these stored rounds (one that cannot be read is left out)."""
        evening = cls()
        for data in summaries:
            try:
                evening.add(msgspec.msgpack.decode(data, type=RoundSummary))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        return evening

    def round_state_over(self, state: RoundState, me: str) -> None:
        """A finished round as a player sees it pushed (it played if it was in the game)."""
        self.round_over(
            state.number,
            winner=state.winner or None,
            points={s.player: s.points for s in state.standings},
            finds=[(f.player, f.target, f.points) for f in state.finds],
            played=[me],
        )

    def rows(self) -> list[EveningRow]:
        """Everyone's evening: the most points first (the score every screen shows all
        evening; ranked by wins, 65 points stood above 67), then rounds won, then name."""
        rows = [
            EveningRow(name, p.rounds, p.wins, p.points, p.best_find, p.best_points)
            for name, p in self._players.items()
        ]
        return sorted(rows, key=lambda r: (-r.points, -r.wins, r.name))

    def row(self, name: str) -> EveningRow | None:
        return next((row for row in self.rows() if row.name == name), None)
