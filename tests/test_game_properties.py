"""The rules over whole evenings, with hypothesis: greedy bots play 50 rounds against the plan.

The simulation keeps what the host keeps (its records of who held what since which round, the
planted treasure and its age) and plays each round with the pure rules: every online player must
have a target it does not hold, every round, however the bots hoard; what a player held before a
round never scores; faked maps score nothing; treasure expires, so nothing grows over an evening.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from reliablep2p.game import rules

ROUNDS = 50


@dataclass
class Evening:
    """The host's view of an evening, as `game/host.py` keeps it."""

    players: list[str]
    catalog: dict[str, bytes]
    holds: dict[str, set[bytes]]
    """What each player really holds (its share)."""
    records: dict[str, dict[bytes, int]]
    treasure: dict[str, int] = field(default_factory=dict)

    def before(self, player: str, number: int) -> set[bytes]:
        return {d for d, at in self.records[player].items() if at < number}

    def note(self, player: str, digest: bytes, number: int) -> None:
        self.holds[player].add(digest)
        self.records[player].setdefault(digest, number)


def new_evening(files: list[list[str]]) -> Evening:
    players = [f"p{i}" for i in range(len(files))]
    catalog = {name: name.encode() for named in files for name in named}
    holds = {p: {n.encode() for n in named} for p, named in zip(players, files, strict=True)}
    records = {p: dict.fromkeys(holds[p], 0) for p in players}
    return Evening(players, catalog, holds, records)


def play_round(
    evening: Evening, number: int, online: list[str], rng: random.Random, *,
    targets: int, treasure: int, lifetime: int,
) -> rules.Round:  # fmt: skip
    for name in rules.expired(evening.treasure, number, lifetime):
        digest = evening.catalog.pop(name)
        del evening.treasure[name]
        for player in evening.players:
            evening.holds[player].discard(digest)
            evening.records[player].pop(digest, None)
    held = {p: evening.before(p, number) for p in online}
    plan = rules.plan_round(held, evening.catalog, rng, targets=targets, treasure=treasure)
    pool: dict[str, bytes] = {}
    for index, seeders in enumerate(plan.treasure):
        name, digest = f"t{number}-{index}", f"fresh {number}.{index}".encode()
        pool[name] = evening.catalog[name] = digest
        evening.treasure[name] = number
        for seeder in seeders:
            evening.note(seeder, digest, number)
            held[seeder].add(digest)
    pool.update((name, evening.catalog[name]) for name in plan.ordinary)
    return rules.Round(number, pool, 0.0, 100.0, held_before=held, treasure=frozenset(pool))


files_strategy = st.lists(
    st.lists(st.sampled_from([f"f{i}" for i in range(12)]), max_size=4, unique=True),
    min_size=2, max_size=6,
)  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    files=files_strategy,
    targets=st.integers(1, 6),
    treasure=st.integers(1, 3),
    lifetime=st.integers(1, 4),
    seed=st.integers(0, 2**32),
)
def test_greedy_bots_never_run_the_hunt_dry_and_nothing_grows(
    files: list[list[str]], targets: int, treasure: int, lifetime: int, seed: int
) -> None:
    treasure = min(treasure, targets)
    # the same file name in two starting shares is the same file
    evening = new_evening(files)
    rng = random.Random(seed)
    for number in range(1, ROUNDS + 1):
        online = sorted(rng.sample(evening.players, rng.randint(1, len(evening.players))))
        before = {p: set(evening.holds[p]) for p in online}
        game = play_round(evening, number, online, rng, targets=targets, treasure=treasure,
                          lifetime=lifetime)  # fmt: skip
        for player in online:
            mine = game.targets_for(player)
            assert mine, f"round {number}: {player} has nothing to find"
            held = evening.holds[player]
            assert not any(game.pool[t] in held for t in mine), f"{player} holds a target"
            for name, digest in game.pool.items():
                if digest in before[player]:
                    assert game.claim_problem(player, name, 1.0) is not None
        # greedy bots: everyone fetches everything it hunts, in a random order
        for player in rng.sample(online, len(online)):
            for target in rng.sample(game.targets_for(player), len(game.targets_for(player))):
                assert game.claim_problem(player, target, 1.0) is None
                game.credit(player, target, from_vault=rng.random() < 0.3, now=1.0)
                evening.note(player, game.pool[target], number)
        assert game.is_over(2.0, online), "everything was found: the round ends early"
        assert game.winner() in online
        assert len(evening.treasure) <= lifetime * max(targets, len(online) + treasure)
        assert all(number - planted < lifetime for planted in evening.treasure.values())
    live = set(evening.catalog.values())
    for player in evening.players:
        assert evening.holds[player] <= live | {n.encode() for named in files for n in named}


@settings(max_examples=200, deadline=None)
@given(
    holders=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sets(st.sampled_from(["ann", "bob", "cy"]), max_size=3),
    ),
    reported=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "zz"]),
            st.sampled_from(["ann", "bob", "cy", "me", "ghost"]),
        ),
        max_size=400,
    ),
    claimed_size=st.integers(0, 10**15),
)
def test_a_faked_map_scores_nothing_and_a_real_one_only_what_is_true(
    holders: dict[str, set[str]], reported: list[tuple[str, str]], claimed_size: int
) -> None:
    truth = {(f, h) for f, names in holders.items() for h in names if h != "me"}
    fakes = [entry for entry in reported if entry not in truth]
    assert rules.map_points(rules.true_entries(fakes, holders, reporter="me")) == 0
    true = rules.true_entries(reported, holders, reporter="me")
    assert true == len(set(reported) & truth)
    assert rules.map_points(true) <= rules.MAP_CAP < rules.PEER_POINTS
    # a size alone (what `stats.map_size` says) is not an entry: it scores nothing
    assert rules.true_entries([], holders, reporter="me") == 0 <= claimed_size


@settings(max_examples=200, deadline=None)
@given(
    pool=st.dictionaries(
        st.sampled_from(list("abcdef")), st.binary(min_size=1, max_size=2), min_size=1
    ),
    held=st.sets(st.binary(min_size=1, max_size=2)),
    vault=st.booleans(),
)
def test_a_target_held_before_the_round_scores_nothing(
    pool: dict[str, bytes], held: set[bytes], vault: bool
) -> None:
    game = rules.Round(1, pool, 0.0, 100.0, held_before={"ann": set(held)})
    for name, digest in pool.items():
        problem = game.claim_problem("ann", name, 1.0)
        if digest in held:
            assert problem and "already had" in problem
            assert name not in game.targets_for("ann")
        else:
            assert problem is None
            game.credit("ann", name, from_vault=vault, now=1.0)
    assert sum(f.points for f in game.finds) == game.points().get("ann", 0)
    assert all(game.pool[f.target] not in held for f in game.finds)
