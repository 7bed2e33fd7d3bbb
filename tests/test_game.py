"""The hunt's rules: targets, points, bonuses, fallback scoring, ties and expiry."""

from __future__ import annotations

import random

import pytest

from reliablep2p.game.rules import FIRST_BONUS, PEER_POINTS, VAULT_POINTS, Round, pick_targets


def new_round(targets: list[str], **held: frozenset[str]) -> Round:
    return Round(1, targets, started_at=0.0, ends_at=120.0, held_at_start=dict(held))


def test_targets_are_held_by_someone_online_but_not_by_everyone() -> None:
    holdings = {"ann": {"a", "b", "all"}, "bob": {"b", "all"}, "cy": {"all"}}
    catalog = ["a", "b", "all", "nobody-online"]
    for seed in range(10):
        targets = pick_targets(holdings, catalog, random.Random(seed), count=5)
        assert sorted(targets) == ["a", "b"]


def test_target_count_is_capped_and_choice_varies() -> None:
    holdings = {"ann": {f"f{i}" for i in range(20)}, "bob": set()}
    picks = {
        tuple(pick_targets(holdings, sorted(holdings["ann"]), random.Random(s), 3))
        for s in range(5)
    }
    assert all(len(p) == 3 for p in picks) and len(picks) > 1


def test_a_find_from_a_peer_scores_more_than_a_vault_fallback() -> None:
    game = new_round(["x", "y"])
    game.credit("ann", "x", from_vault=False, now=1)
    game.credit("bob", "x", from_vault=True, now=2)
    assert game.points() == {"ann": PEER_POINTS + FIRST_BONUS, "bob": VAULT_POINTS}
    assert PEER_POINTS > VAULT_POINTS


def test_only_the_first_finder_of_a_target_gets_the_bonus() -> None:
    game = new_round(["x"])
    first = game.credit("bob", "x", from_vault=True, now=1)
    second = game.credit("ann", "x", from_vault=False, now=2)
    assert first.first and first.points == VAULT_POINTS + FIRST_BONUS
    assert not second.first and second.points == PEER_POINTS


@pytest.mark.parametrize(
    ("player", "target", "now", "reason"),
    [
        ("ann", "zzz", 1, "not a target"),
        ("ann", "x", 200, "round is over"),
        ("cy", "x", 1, "already had x"),
        ("bob", "x", 1, "already scored x"),
    ],
)
def test_claims_that_cannot_score(player: str, target: str, now: float, reason: str) -> None:
    game = new_round(["x"], cy=frozenset({"x"}))
    game.credit("bob", "x", from_vault=False, now=0.5)
    assert reason in (game.claim_problem(player, target, now) or "")
    with pytest.raises(ValueError, match=reason):
        game.credit(player, target, from_vault=False, now=now)


def test_round_ends_when_one_player_finds_every_target_or_time_runs_out() -> None:
    game = new_round(["x", "y"])
    assert not game.is_over(10)
    game.credit("ann", "x", from_vault=False, now=10)
    game.credit("bob", "y", from_vault=False, now=12)
    assert not game.is_over(13), "every target found, but by different players"
    game.credit("bob", "x", from_vault=False, now=14)
    assert game.is_over(15) and game.completed_by() == "bob"
    assert new_round(["x"]).is_over(120) and new_round(["x"]).time_left(130) == 0


def test_the_most_points_wins() -> None:
    game = new_round(["x", "y", "z"])
    game.credit("ann", "x", from_vault=False, now=1)
    game.credit("bob", "y", from_vault=True, now=2)
    game.credit("ann", "z", from_vault=True, now=3)
    assert game.winner() == "ann"


def test_a_tie_goes_to_whoever_reached_the_score_first() -> None:
    game = new_round(["x", "y"])
    game.credit("bob", "x", from_vault=False, now=1)  # 15
    game.credit("ann", "y", from_vault=False, now=2)  # 15
    game.credit("ann", "x", from_vault=False, now=3)  # 25
    game.credit("bob", "y", from_vault=False, now=4)  # 25
    assert game.points() == {"ann": 25, "bob": 25} and game.completed_by() == "ann"
    assert game.winner() == "ann"


def test_no_finds_no_winner() -> None:
    assert new_round(["x"]).winner() is None
