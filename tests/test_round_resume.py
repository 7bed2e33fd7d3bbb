"""The running round as the host keeps it: saved, the host away for minutes, and back.

The time away is not counted: the round goes on with the time it had left, its finds, what
what each player held before it, the planted treasure and the map points. (tests/lan/test_host_away.py kills the
real `rp2p-db` mid-round and watches the players.)
"""

from __future__ import annotations

from pathlib import Path

from reliablep2p.game import rules, saved
from reliablep2p.storage.sqlite import SqliteMetadata


def played_for_a_while() -> rules.Round:
    pool = {"map.txt": b"m" * 32, "key.txt": b"k" * 32}
    current = rules.Round(4, pool, 1000.0, 1120.0, held_before={"ada": {b"m" * 32}},
                          treasure=frozenset({"key.txt"}))  # fmt: skip
    current.credit("bob", "map.txt", from_vault=False, now=1010.0)
    current.credit("ada", "key.txt", from_vault=True, now=1030.0)
    current.score_map("bob", 3, 1040.0)
    return current


def test_a_saved_round_goes_on_with_the_time_it_had_left_after_any_time_away(
    tmp_path: Path,
) -> None:
    before = played_for_a_while()
    store = SqliteMetadata(tmp_path / "db")
    store.prepare()
    store.open()
    store.save_running_round(saved.snapshot(before, 1050.0))
    store.close()  # the host goes away, for five minutes

    store.open()
    data = store.load_running_round()
    assert data is not None
    after, left = saved.restore(data, 1350.0)
    assert left == 70.0 and after.time_left(1350.0) == 70.0
    assert (after.number, after.pool, after.held_before, after.treasure) == (
        before.number, before.pool, before.held_before, before.treasure,
    )  # fmt: skip
    assert after.map_points == before.map_points
    assert [(f.player, f.target, f.points, f.first, f.from_vault) for f in after.finds] == [
        (f.player, f.target, f.points, f.first, f.from_vault) for f in before.finds
    ]
    assert [f.at - after.started_at for f in after.finds] == [10.0, 30.0]  # round time
    assert after.winner() == before.winner() == "bob"
    assert (
        after.claim_problem("ada", "map.txt", 1351.0) == "ada already had map.txt before the round"
    )
    assert not after.is_over(1419.0, ["bob"]) and after.is_over(1420.0, ["bob"])

    store.save_running_round(None)  # it ended: the next start has nothing to resume
    assert store.load_running_round() is None
    store.close()
