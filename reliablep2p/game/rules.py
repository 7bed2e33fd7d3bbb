"""The file hunt's rules, as pure code: planning a round, scoring finds and maps, the winner.

No I/O and no clock: callers pass the time in. The database peer hosts rounds with these rules
(`host.py`); the tests play them out directly. docs/game.md says the same in words.

* A round's hunt is a pool of files: fresh treasure planted for the round (seeded by one or a
  few players) and catalog files some online player lacks. Each player hunts the files of the
  pool it does not hold by the host's records, so nobody is given a file it holds, and treasure
  makes sure everybody has something to find.
* A file shorter than `MIN_TARGET_BYTES` is never hunted: its proof proves nothing.
* A find scores `PEER_POINTS` when most of its bytes came from other players, `VAULT_POINTS`
  when they came from the vault; the first finder of each file gets `FIRST_BONUS`. Content the
  host has a record of the player holding before the round scores nothing.
* A map scores for its true entries only (file -> holder pairs the host can check), with
  diminishing points and at most `MAP_CAP` a round, less than one find from a player.
* A round ends when time runs out or every online player has found all of its targets. The most
  round points (finds and map) among the players who found something wins; a tie goes to
  whoever reached that score first. Map points alone never win a round.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

PEER_POINTS = 10
VAULT_POINTS = 4
FIRST_BONUS = 5
MAP_CAP = 8
"""The most a map can score in a round: less than one find from a player."""
MIN_TARGET_BYTES = 32
"""The smallest file a round hunts. A proof is SHA-256(nonce + the bytes), and the catalog shows
every file's hash: an empty file's proof needs no file at all, and a few bytes can be guessed
from the hash offline. 32 bytes (as many as the hash) leave guessing no easier than the hash."""
MAX_SEEDERS = 3
"""Players a planted file is handed to, at most."""
READY_SECONDS = 3.0
"""Once every online player is ready, the countdown to the next round is cut to this."""

Held = Mapping[str, Collection[bytes]]
"""Player -> the content hashes the host has a record of it holding."""


def find_points(*, from_vault: bool, first: bool) -> int:
    return (VAULT_POINTS if from_vault else PEER_POINTS) + (FIRST_BONUS if first else 0)


def map_points(true_entries: int) -> int:
    """A map's points for a round: ⌊√(4n)⌋ for n true entries, at most `MAP_CAP`.

    1 entry is worth 2, 4 are worth 4, 9 are worth 6, 16 or more the cap: each entry is worth
    less than the one before, so harvesting other maps pays less and less.
    """
    return min(MAP_CAP, math.isqrt(4 * max(0, true_entries)))


def true_entries(
    reported: Iterable[tuple[str, str]], holders: Mapping[str, Collection[str]], *, reporter: str
) -> int:
    """How many distinct reported (file, holder) pairs are true now.

    `holders` maps each file to the players that hold it (the host's knowledge); an entry naming
    the reporter itself is not map knowledge and counts for nothing.
    """
    true = {
        (name, holder)
        for name, holder in reported
        if holder != reporter and holder in holders.get(name, ())
    }
    return len(true)


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Plan:
    """What a round will hunt: files to plant (each with its seeders) and catalog files."""

    treasure: tuple[tuple[str, ...], ...]
    """For each file to plant, the players who will seed it (none: only the vault has it)."""
    ordinary: tuple[str, ...]


def plan_round(
    held: Held,
    catalog: Mapping[str, bytes],
    rng: random.Random,
    *,
    targets: int,
    treasure: int,
) -> Plan:
    """Plan a round of `targets` files for the online players in `held`; `catalog` maps
    name -> content hash.

    `treasure` files are planted, and more where the catalog has too few files someone lacks,
    so the hunt never runs dry. Every player ends up lacking at least one file of the pool:
    where it would not, one more file is planted with others.
    """
    players = sorted(held)
    if not players:
        return Plan((), ())
    order = list(players)
    rng.shuffle(order)
    planted = min(treasure, targets)
    ordinary = _ordinary(held, catalog, rng, targets - planted)
    planted = max(planted, targets - len(ordinary))
    seeds = [_seeders(order, index) for index in range(planted)]
    hashes = [catalog[name] for name in ordinary]
    for player in players:
        lacks_ordinary = any(h not in held[player] for h in hashes)
        if not lacks_ordinary and all(player in group for group in seeds):
            others = [p for p in players if p != player]
            seeds.append(tuple(sorted(rng.sample(others, _seeders_each(players)))))
    return Plan(tuple(seeds), tuple(ordinary))


def _seeders_each(players: Collection[str]) -> int:
    """One seeder per planted file, one more per six players, at most `MAX_SEEDERS`;
    never everyone."""
    return max(0, min(MAX_SEEDERS, 1 + (len(players) - 1) // 6, len(players) - 1))


def _seeders(order: list[str], index: int) -> tuple[str, ...]:
    """The seeders of planted file number `index`: taken in turn from the shuffled players,
    so different files go to different players while there are enough of them."""
    each = _seeders_each(order)
    return tuple(sorted({order[(index * each + k) % len(order)] for k in range(each)}))


def _ordinary(
    held: Held, catalog: Mapping[str, bytes], rng: random.Random, count: int
) -> list[str]:
    """Catalog files someone online lacks: those a player holds first (a find from a peer is
    possible), then for whoever has the fewest targets so far; random among equals."""
    lacking: dict[str, list[str]] = {}
    holder: dict[str, bool] = {}
    seen: set[bytes] = set()
    for name in sorted(catalog):
        digest = catalog[name]
        if digest in seen:
            continue  # the same content under another name: hunt it once
        seen.add(digest)
        lackers = [p for p in held if digest not in held[p]]
        if lackers:
            lacking[name] = lackers
            holder[name] = len(lackers) < len(held)
    tiebreak = {name: rng.random() for name in lacking}
    given = dict.fromkeys(held, 0)
    picked: list[str] = []
    for _ in range(max(0, count)):
        if not lacking:
            break
        best = max(lacking, key=lambda n: (
            holder[n], -min(given[p] for p in lacking[n]), len(lacking[n]), tiebreak[n]
        ))  # fmt: skip
        for player in lacking.pop(best):
            given[player] += 1
        picked.append(best)
    return picked


def expired(treasure: Mapping[str, int], number: int, lifetime: int) -> list[str]:
    """Planted files (name -> the round they were planted in) whose time is up when round
    `number` starts: each lives `lifetime` rounds."""
    return sorted(name for name, planted in treasure.items() if planted <= number - lifetime)


# ------------------------------------------------------------------------------- a round


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
    """One round: its pool, its deadline, what each player held before, finds and maps."""

    number: int
    pool: dict[str, bytes]
    """Every file hunted this round (name -> content hash), in the hunt's order."""
    started_at: float
    ends_at: float
    held_before: dict[str, set[bytes]] = field(default_factory=dict)
    """What each player held before the round, by the host's records: never its targets."""
    treasure: frozenset[str] = frozenset()
    """The files of the pool planted for this round."""
    finds: list[Find] = field(default_factory=list)
    map_points: dict[str, int] = field(default_factory=dict)
    reached: dict[str, float] = field(default_factory=dict)
    """When each player's round points last changed (a tie goes to the earlier)."""
    cut_short: bool = False
    """The host stopped in the middle of it: over, counted as it stood, nobody won it."""

    def targets_for(self, player: str) -> list[str]:
        """What `player` hunts: the pool less what it held before the round."""
        before = self.held_before.get(player, set())
        return [name for name, digest in self.pool.items() if digest not in before]

    def admit(self, player: str, held: Iterable[bytes]) -> None:
        """`player` showed up holding `held` (it joined mid-round): none of it is its target,
        except what it already found this round."""
        found = {self.pool[f.target] for f in self.finds if f.player == player}
        self.held_before.setdefault(player, set()).update(set(held) - found)

    def found_by(self, target: str) -> list[str]:
        return [f.player for f in self.finds if f.target == target]

    def claim_problem(self, player: str, target: str, now: float) -> str | None:
        """Why `player` cannot score `target` now, or None if a proven find would count."""
        if now >= self.ends_at:
            return "the round is over"
        if target not in self.pool:
            return f"{target} is not a target of this round"
        if self.pool[target] in self.held_before.get(player, set()):
            return f"{player} already had {target} before the round"
        if player in self.found_by(target):
            return f"{player} already scored {target}"
        return None

    def credit(self, player: str, target: str, *, from_vault: bool, now: float) -> Find:
        """Score a proven find (call `claim_problem` first)."""
        problem = self.claim_problem(player, target, now)
        if problem:
            raise ValueError(problem)
        first = not self.found_by(target)
        find = Find(player, target, from_vault, now, find_points(from_vault=from_vault,
                                                               first=first), first)  # fmt: skip
        self.finds.append(find)
        self.reached[player] = now
        return find

    def score_map(self, player: str, points: int, now: float) -> bool:
        """The player's map is worth `points` now; True if that changed its round points."""
        if self.map_points.get(player, 0) == points:
            self.map_points.setdefault(player, points)
            return False
        self.map_points[player] = points
        self.reached[player] = now
        return True

    def points(self) -> dict[str, int]:
        """Round points: finds plus the map."""
        totals = dict(self.map_points)
        for find in self.finds:
            totals[find.player] = totals.get(find.player, 0) + find.points
        return totals

    def found_all(self, player: str) -> bool:
        mine = {f.target for f in self.finds if f.player == player}
        return all(target in mine for target in self.targets_for(player))

    def is_over(self, now: float, online: Collection[str] = ()) -> bool:
        """Time is up, or every online player has found all of its targets."""
        return now >= self.ends_at or all(self.found_all(player) for player in online)

    def time_left(self, now: float) -> float:
        return max(0.0, self.ends_at - now)

    def standings(self) -> list[tuple[str, int]]:
        """(player, round points), best first: the most points, then who got there first."""
        totals = self.points()
        return sorted(
            totals.items(), key=lambda item: (-item[1], self.reached.get(item[0], 0.0), item[0])
        )

    def winner(self) -> str | None:
        """The best of the standings who found something: a round is a hunt, and map points
        alone win nothing (an idle player won rounds with 3 or 4). A first find is worth
        more than `MAP_CAP`, so where anyone found anything this is the top of the standings."""
        finders = {f.player for f in self.finds}
        return next((name for name, _ in self.standings() if name in finders), None)
