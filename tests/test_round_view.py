"""What the host (or a relaying database peer) sends a crowd of the round (the top of the
standings and your own place) and what a map report costs it (nothing for who holds what, until
that changed)."""

from __future__ import annotations

from collections.abc import Mapping

from reliablep2p.database.mirror import GameMirror
from reliablep2p.game.board import TOP_ROWS
from reliablep2p.game.host import HuntHost, Online
from reliablep2p.game.rules import Round
from reliablep2p.game.settings import GameSettings
from reliablep2p.game.views import RoundFeed
from reliablep2p.proto import Lobby, bus

CROWD = [f"p{index:02}" for index in range(TOP_ROWS + 10)]


def crowd_round() -> HuntHost:
    """A host in a round where everyone's map scored: p00 the most, p29 the least."""
    hunt = HuntHost(None, None, settings=GameSettings())  # type: ignore[arg-type]
    hunt.round = Round(1, {"x": b"X"}, started_at=0.0, ends_at=120.0)
    hunt.playing = True
    for place, name in enumerate(CROWD):
        hunt.round.score_map(name, len(CROWD) - place, now=0.0)
    return hunt


async def test_a_player_far_down_is_sent_the_top_of_the_standings_and_its_own_place() -> None:
    feed = RoundFeed(crowd_round())
    far, near = feed.state("p25"), feed.state("p03")
    assert far is not None and near is not None
    top = CROWD[:TOP_ROWS]
    assert [s.player for s in near.standings] == top, "the top rows only: p03 is among them"
    assert [s.player for s in far.standings] == [*top, "p25"], "the top rows, then its own"
    assert far.standings[-1].points == len(CROWD) - 25
    assert far.finds is near.finds, "the shared part is built once for everyone"
    stranger = feed.state("nobody")
    assert stranger is not None and [s.player for s in stranger.standings] == top


async def test_the_round_over_names_the_winner_to_everyone_whatever_their_view() -> None:
    hunt = crowd_round()
    feed = RoundFeed(hunt)
    assert hunt.round is not None
    hunt.round.credit("p00", "x", from_vault=False, now=1.0)  # a map alone wins nothing
    hunt.playing = False
    hunt.round_version += 1
    state = feed.state("p29")
    assert state is not None and state.over and state.winner == "p00"
    assert state.standings[0].player == "p00" and state.standings[-1].player == "p29"


async def test_a_map_report_asks_who_holds_what_only_when_that_changed() -> None:
    hunt = crowd_round()
    asked: list[int] = []

    def online() -> Mapping[str, Online]:
        asked.append(1)
        return {}

    for name in CROWD:  # a join storm: every new player reports an empty map
        hunt.report_map(name, [], online)
    assert asked == [], "an empty map needs nobody's holdings"
    hunt.report_map("p01", [("x", "p02")], online)
    hunt.report_map("p02", [("x", "p01")], online)
    assert asked == [1], "worked out once, then kept until who holds what changes"
    hunt.roster_changed("late")
    hunt.report_map("p01", [("x", "p02")], online)
    assert asked == [1, 1]


async def test_a_relay_sends_each_of_its_players_the_top_of_the_host_s_standings_and_its_own() -> (
    None
):
    hunt = crowd_round()
    whole = RoundFeed(hunt).whole()  # what the host tells the other database peers
    assert whole is not None and len(whole.standings) == len(CROWD)
    mirror = GameMirror()
    mirror.update(bus.GameState("host", Lobby(), whole, {"p25": ["x"], "p03": ["x"]}))
    far, near = mirror.round_state("p25"), mirror.round_state("p03")
    assert far is not None and near is not None
    top = CROWD[:TOP_ROWS]
    assert [s.player for s in near.standings] == top
    assert [s.player for s in far.standings] == [*top, "p25"] and far.targets == ["x"]
