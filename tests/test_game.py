"""The hunt's rules: planning, points, bonuses, fallback scoring, maps, ties, expiry, settings."""

from __future__ import annotations

import itertools
import random

import pytest

from reliablep2p.game.evening import Evening, RoundSummary
from reliablep2p.game.records import Records
from reliablep2p.game.rules import (
    FIRST_BONUS,
    MAP_CAP,
    PEER_POINTS,
    VAULT_POINTS,
    Round,
    expired,
    map_points,
    plan_round,
    true_entries,
)
from reliablep2p.game.settings import GameSettings
from reliablep2p.game.treasure import treasure_name
from reliablep2p.proto import EveningRow

POOL = {"x": b"X", "y": b"Y", "z": b"Z"}


def new_round(targets: list[str], **held: set[bytes]) -> Round:
    pool = {name: POOL.get(name, name.encode()) for name in targets}
    return Round(1, pool, started_at=0.0, ends_at=120.0, held_before=dict(held))


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
        ("cy", "x", 1, "already had x before the round"),
        ("bob", "x", 1, "already scored x"),
    ],
)
def test_claims_that_cannot_score(player: str, target: str, now: float, reason: str) -> None:
    game = new_round(["x"], cy={b"X"})
    game.credit("bob", "x", from_vault=False, now=0.5)
    assert reason in (game.claim_problem(player, target, now) or "")
    with pytest.raises(ValueError, match=reason):
        game.credit(player, target, from_vault=False, now=now)


def test_a_player_hunts_only_what_it_did_not_hold_by_content() -> None:
    game = new_round(["x", "y", "z"], ann={b"X"}, bob={b"X", b"Y", b"Z"})
    assert game.targets_for("ann") == ["y", "z"]
    assert game.targets_for("bob") == []
    assert game.targets_for("newcomer") == ["x", "y", "z"]
    game.credit("newcomer", "y", from_vault=False, now=1)
    game.admit("newcomer", {b"X", b"Y"})  # it reconnected with x and the y it found
    assert game.targets_for("newcomer") == ["y", "z"]
    assert "already had x" in (game.claim_problem("newcomer", "x", 2) or "")


def test_round_ends_when_every_online_player_has_found_all_it_lacks_or_time_runs_out() -> None:
    game = new_round(["x", "y"], bob={b"Y"})
    assert not game.is_over(10, ["ann", "bob"])
    game.credit("ann", "x", from_vault=False, now=10)
    game.credit("bob", "x", from_vault=False, now=11)
    assert not game.is_over(12, ["ann", "bob"]), "ann still lacks y"
    assert game.is_over(12, ["bob"]), "only bob online, and bob has all he lacked"
    game.credit("ann", "y", from_vault=False, now=13)
    assert game.is_over(14, ["ann", "bob"])
    assert new_round(["x"]).is_over(120, ["ann"]) and new_round(["x"]).time_left(130) == 0


def test_the_most_round_points_wins_and_the_standings_rank_by_them() -> None:
    game = new_round(["x", "y", "z"])
    game.credit("ann", "x", from_vault=False, now=1)  # 15
    game.credit("bob", "y", from_vault=True, now=2)  # 9
    game.score_map("bob", 8, now=3)  # 17
    game.credit("ann", "z", from_vault=True, now=4)  # 24
    assert game.standings() == [("ann", 24), ("bob", 17)]
    assert game.winner() == "ann"


def test_a_tie_goes_to_whoever_reached_the_score_first() -> None:
    game = new_round(["x", "y"])
    game.credit("bob", "x", from_vault=False, now=1)  # 15
    game.credit("ann", "y", from_vault=False, now=2)  # 15
    game.credit("ann", "x", from_vault=False, now=3)  # 25
    game.credit("bob", "y", from_vault=False, now=4)  # 25
    assert game.points() == {"ann": 25, "bob": 25}
    assert game.winner() == "ann" and game.standings()[0] == ("ann", 25)


def test_no_points_no_winner() -> None:
    game = new_round(["x"])
    assert game.winner() is None
    game.score_map("ann", 0, now=1)
    assert game.winner() is None


def test_map_points_alone_never_win_a_round() -> None:
    """An idle player won rounds with 3-4 map points, nobody having found anything."""
    game = new_round(["x"])
    game.score_map("idle", 4, now=1)
    assert game.standings() == [("idle", 4)] and game.winner() is None
    game.credit("ann", "x", from_vault=True, now=2)  # 4 + 5 first
    game.score_map("idle", MAP_CAP, now=3)
    assert game.standings() == [("ann", 9), ("idle", 8)] and game.winner() == "ann"
    assert VAULT_POINTS + FIRST_BONUS > MAP_CAP  # so a winner tops the standings


def test_the_evening_ranks_by_points_then_wins() -> None:
    """Ranked by wins first, 65 points stood above 67 on the end-of-evening table."""
    evening = Evening()
    evening.round_over(
        1, winner="ann", points={"ann": 30, "bob": 20}, finds=[], played=["ann", "bob"]
    )
    evening.round_over(
        2, winner="ann", points={"ann": 35, "bob": 22}, finds=[], played=["ann", "bob"]
    )
    evening.round_over(
        3, winner="bob", points={"ann": 0, "bob": 25}, finds=[], played=["ann", "bob"]
    )
    evening.round_over(4, winner=None, points={"cy": 67}, finds=[], played=["cy"])
    assert [(r.name, r.points, r.wins) for r in evening.rows()] == [
        ("bob", 67, 1),
        ("cy", 67, 0),
        ("ann", 65, 2),
    ]


def test_map_points_diminish_and_stay_below_one_find() -> None:
    values = [map_points(n) for n in range(0, 200)]
    assert values[:5] == [0, 2, 2, 3, 4]
    gains = [b - a for a, b in itertools.pairwise(values)]
    assert all(g >= 0 for g in gains) and max(values) == MAP_CAP < PEER_POINTS
    assert sum(gains[:10]) > sum(gains[10:20]) >= sum(gains[20:30])  # diminishing returns


def test_only_true_map_entries_count() -> None:
    holders = {"x": {"ann", "bob"}, "y": {"bob"}}
    reported = [("x", "ann"), ("x", "ann"), ("y", "bob"), ("y", "ann"), ("q", "bob"), ("x", "me")]
    assert true_entries(reported, holders, reporter="me") == 2
    assert true_entries([("x", "me")], {"x": {"me"}}, reporter="me") == 0  # not map knowledge
    assert true_entries([], holders, reporter="me") == 0


def test_plan_gives_everyone_a_target_it_lacks_with_treasure_from_others() -> None:
    held = {"ann": {b"A"}, "bob": {b"A"}}
    plan = plan_round(held, {"a": b"A"}, random.Random(1), targets=5, treasure=2)
    assert plan.ordinary == ()  # everyone holds a
    assert len(plan.treasure) == 5  # the hunt is topped up with treasure
    assert all(len(seeders) == 1 for seeders in plan.treasure)
    assert {s for seeders in plan.treasure for s in seeders} == {"ann", "bob"}


def test_plan_prefers_files_someone_online_holds_and_spreads_them() -> None:
    held = {"ann": {b"A1", b"A2"}, "bob": {b"B1"}, "cy": set()}
    catalog = {"a1": b"A1", "a2": b"A2", "b1": b"B1", "gone": b"G"}
    plan = plan_round(held, catalog, random.Random(3), targets=4, treasure=1)
    assert set(plan.ordinary) == {"a1", "a2", "b1"}
    assert len(plan.treasure) == 1


def test_a_lone_player_gets_treasure_only_the_vault_holds() -> None:
    plan = plan_round({"ann": set()}, {}, random.Random(0), targets=2, treasure=1)
    assert plan.treasure == ((), ())


def test_treasure_expires_after_its_rounds() -> None:
    planted = {"old": 1, "mid": 2, "new": 4}
    assert expired(planted, 4, lifetime=3) == ["old"]
    assert expired(planted, 5, lifetime=3) == ["mid", "old"]
    assert expired(planted, 3, lifetime=3) == []


def test_treasure_names_are_fun_and_free() -> None:
    rng = random.Random(5)
    taken: set[str] = set()
    for _ in range(200):
        taken.add(treasure_name(rng, 12, taken))
    assert len(taken) == 200 and all("-12" in name for name in taken)


def test_an_evening_counts_rounds_wins_points_and_the_best_find() -> None:
    evening = Evening()
    evening.round_over(1, winner="ann", points={"ann": 24, "bob": 9},
                       finds=[("ann", "x", 15), ("bob", "y", 9)], played=["ann", "bob", "cy"])  # fmt: skip
    evening.round_over(1, winner="ann", points={"ann": 24}, finds=[], played=["ann"])  # again
    evening.round_over(2, winner="bob", points={"bob": 30}, finds=[("bob", "z", 15)],
                       played=["ann", "bob"])  # fmt: skip
    rows = {row.name: row for row in evening.rows()}
    assert (rows["ann"].rounds, rows["ann"].wins, rows["ann"].points) == (2, 1, 24)
    assert (rows["bob"].rounds, rows["bob"].wins, rows["bob"].points) == (2, 1, 39)
    assert (rows["bob"].best_find, rows["bob"].best_points) == ("z", 15)
    assert rows["cy"].rounds == 1 and rows["cy"].best_find == ""
    assert [r.name for r in evening.rows()] == ["bob", "ann", "cy"]


def test_after_the_hosts_goodnight_a_players_next_round_begins_a_new_evening() -> None:
    """A player that stayed on while the host stopped and started again said "won 0 of 34
    rounds" at the end: the 17 of the evening the host had ended, and 17 of the next."""
    evening = Evening()
    evening.round_over(7, winner="ann", points={"ann": 20}, finds=[], played=["ann"])
    told = evening.tell([EveningRow("ann", 17, 3, 120, "x", 15)])
    assert evening.row("ann") == told[0]  # the host's word, until the next round
    evening.round_over(8, winner=None, points={"ann": 4}, finds=[], played=["ann"])
    row = evening.row("ann")
    assert row is not None and (row.rounds, row.wins, row.points) == (1, 0, 4), row


def test_an_evening_is_rebuilt_from_the_rounds_the_store_kept() -> None:
    kept = [
        RoundSummary(1, "ann", {"ann": 24, "bob": 9}, [("ann", "x", 15), ("bob", "y", 9)],
                     ["ann", "bob", "cy"]).encode(),
        b"not a round",  # damaged: left out, the others count
        RoundSummary(2, "bob", {"bob": 30}, [("bob", "z", 15)], ["ann", "bob"]).encode(),
    ]  # fmt: skip
    rows = {row.name: row for row in Evening.replayed(kept).rows()}
    assert (rows["bob"].rounds, rows["bob"].wins, rows["bob"].points) == (2, 1, 39)
    assert (rows["ann"].rounds, rows["cy"].rounds, rows["bob"].best_find) == (2, 1, "z")


def test_kept_settings_apply_in_any_order_and_a_bad_one_is_left_out() -> None:
    settings, problems = GameSettings().with_values(
        {"treasure": "1", "targets": "1", "round-seconds": "soon", "colour": "red"}
    )
    assert (settings.targets, settings.treasure, settings.round_seconds) == (1, 1, 120.0)
    assert sorted(problems) == ["round-seconds must be a number, not 'soon'",
                                "unknown setting 'colour'; the settings are round-seconds, "
                                "pause-seconds, targets, treasure, treasure-rounds"]  # fmt: skip


def test_settings_are_checked_one_line_each() -> None:
    settings = GameSettings().changed("round-seconds", "30").changed("targets", "3")
    assert (settings.round_seconds, settings.targets) == (30.0, 3)
    assert settings.as_text()["round-seconds"] == "30"
    for key, value, problem in [
        ("colour", "red", "unknown setting"),
        ("targets", "many", "must be a whole number"),
        ("targets", "0", "between 1 and 50"),
        ("treasure", "4", "cannot exceed targets"),
    ]:
        with pytest.raises(ValueError, match=problem):
            settings.changed(key, value)


def test_a_find_is_from_the_vault_when_most_of_its_bytes_came_from_there() -> None:
    records = Records(store=None)  # type: ignore[arg-type]  # the byte counts need no store
    records.vault_sent("ann", "x", 400)  # a resumed get: 400 of 1,000 bytes from the vault
    records.vault_sent("bob", "x", 600)
    assert not records.mostly_from_vault("ann", "x", 1000)
    assert records.mostly_from_vault("bob", "x", 1000)
    assert not records.mostly_from_vault("cy", "x", 1000)  # none at all
    records.vault_sent("cy", "empty", 0)
    assert records.mostly_from_vault("cy", "empty", 0)
