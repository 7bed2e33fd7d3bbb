"""The file hunt's rules, as pure code: picking targets, scoring finds, declaring a winner.

No I/O and no clock: callers pass the time in. The database peer hosts rounds with these rules
(`dbpeer.py`); the tests play them out directly.

Scoring: a find fetched from another peer scores `PEER_POINTS`, one that had to fall back to the
vault `VAULT_POINTS`; the first finder of each target gets `FIRST_BONUS` on top. A round ends
when one player has found every target or time runs out; the most round points wins, and a tie
goes to whoever reached that score first.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

PEER_POINTS = 10
VAULT_POINTS = 4
FIRST_BONUS = 5
TARGETS_PER_ROUND = 5


def pick_targets(
    holdings: Mapping[str, Collection[str]],
    catalog: Collection[str],
    rng: random.Random,
    count: int = TARGETS_PER_ROUND,
) -> list[str]:
    """Targets for a round: catalog files held by at least one online player, not by all.

    `holdings` maps each online player to the names it seeds.
    """
    players = list(holdings)
    eligible = sorted(
        name for name in catalog if 0 < sum(name in holdings[p] for p in players) < len(players)
    )
    return rng.sample(eligible, min(count, len(eligible)))


@dataclass(frozen=True)
class Find:
    player: str
    target: str
    from_vault: bool
    at: float
    points: int
    first: bool


@dataclass
class Round:
    """One round: its targets, its deadline and the finds credited so far."""

    number: int
    targets: list[str]
    started_at: float
    ends_at: float
    held_at_start: dict[str, frozenset[str]] = field(default_factory=dict)
    """What each player already had when the round began: no points for those."""
    finds: list[Find] = field(default_factory=list)

    def found_by(self, target: str) -> list[str]:
        return [f.player for f in self.finds if f.target == target]

    def claim_problem(self, player: str, target: str, now: float) -> str | None:
        """Why `player` cannot score `target` now, or None if a proven find would count."""
        if now >= self.ends_at:
            return "the round is over"
        if target not in self.targets:
            return f"{target} is not a target of this round"
        if target in self.held_at_start.get(player, frozenset()):
            return f"{player} already had {target} when the round began"
        if player in self.found_by(target):
            return f"{player} already scored {target}"
        return None

    def credit(self, player: str, target: str, *, from_vault: bool, now: float) -> Find:
        """Score a proven find (call `claim_problem` first)."""
        problem = self.claim_problem(player, target, now)
        if problem:
            raise ValueError(problem)
        first = not self.found_by(target)
        points = (VAULT_POINTS if from_vault else PEER_POINTS) + (FIRST_BONUS if first else 0)
        find = Find(player, target, from_vault, now, points, first)
        self.finds.append(find)
        return find

    def points(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for find in self.finds:
            totals[find.player] = totals.get(find.player, 0) + find.points
        return totals

    def is_over(self, now: float) -> bool:
        """Time is up, or one player has found every target."""
        return now >= self.ends_at or self.completed_by() is not None

    def completed_by(self) -> str | None:
        """The first player to have found every target, if any."""
        found: dict[str, set[str]] = {}
        for find in self.finds:
            found.setdefault(find.player, set()).add(find.target)
            if len(found[find.player]) == len(self.targets):
                return find.player
        return None

    def time_left(self, now: float) -> float:
        return max(0.0, self.ends_at - now)

    def winner(self) -> str | None:
        """The most points; a tie goes to whoever reached that score first. None if no finds."""
        totals = self.points()
        if not totals:
            return None
        best = max(totals.values())
        reached: dict[str, float] = {}
        for player in totals:
            if totals[player] == best:
                running = 0
                for find in self.finds:
                    if find.player == player:
                        running += find.points
                        if running == best:
                            reached[player] = find.at
                            break
        return min(reached, key=lambda player: (reached[player], player))
