"""The hunt list: who found each target first, how many others did, and whether you did."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from reliablep2p.proto import FoundBy, Lobby, RoundState
from tui import model
from tui.widgets.hunt import HuntPanel

from .conftest import screen_text

TARGETS = ["dragon-hoard.bin", "sunset.png", "cipher.txt", "ocean.png", "riddles.txt"]
FINDS = [
    FoundBy("brick", "dragon-hoard.bin", 15, from_vault=False, first=True),
    FoundBy("me", "dragon-hoard.bin", 10, from_vault=False, first=False),
    FoundBy("ada", "dragon-hoard.bin", 10, from_vault=False, first=False),
    FoundBy("cosmo", "dragon-hoard.bin", 10, from_vault=False, first=False),
    FoundBy("me", "sunset.png", 8, from_vault=True, first=True),
    FoundBy("ada", "cipher.txt", 15, from_vault=False, first=True),
    FoundBy("brick", "cipher.txt", 10, from_vault=False, first=False),
]
ROUND = RoundState(3, TARGETS, 61, FINDS)


def test_model_keeps_the_first_finder_not_the_latest() -> None:
    rows = {row.name: row for row in model.hunt(ROUND, "me", have={"ocean.png"})}
    dragon = rows["dragon-hoard.bin"]
    assert dragon.first is not None and dragon.first.player == "brick"
    assert dragon.mine is not None and dragon.mine.points == 10
    assert dragon.others == 2  # ada and cosmo; brick is first, and you are counted apart
    assert rows["sunset.png"].first == rows["sunset.png"].mine
    assert rows["cipher.txt"].mine is None and rows["cipher.txt"].others == 1
    assert rows["ocean.png"].first is None and rows["ocean.png"].have
    assert rows["riddles.txt"] == model.Target("riddles.txt")


class HuntOnly(App[None]):
    def compose(self) -> ComposeResult:
        yield HuntPanel(id="hunt")


def hunt_lines(width: int, state: RoundState) -> list[str]:
    async def scenario() -> list[str]:
        app = HuntOnly()
        async with app.run_test(size=(width, 10)) as pilot:
            app.query_one(HuntPanel).show(state, "me", {"ocean.png"})
            await pilot.pause()
            return [line.rstrip() for line in screen_text(app, "#hunt").splitlines()]

    return asyncio.run(scenario())


def test_hunt_shows_first_finder_others_and_you() -> None:
    lines = hunt_lines(60, ROUND)
    assert lines[0] == "★ dragon-hoard.bin  brick +15 first · you · 2 more"
    assert lines[1] == "★ sunset.png        you +8 first"
    assert lines[2] == "○ cipher.txt        ada +15 first · 1 more"  # still yours to find
    assert lines[3] == "◆ ocean.png         you have it"
    assert lines[4] == "○ riddles.txt"
    assert lines[5] == "2 of 5 still to find"


def test_hunt_at_80x24_keeps_each_target_on_one_line() -> None:
    lines = hunt_lines(38, ROUND)  # a panel's width at 80 columns, less its border
    assert len(lines) == 6
    assert lines[0].startswith("★ dragon-ho…  brick +15 first"), lines[0]
    assert lines[2] == "○ cipher.txt  ada +15 first · 1 more", lines[2]


def test_a_finished_round_names_the_winner_above_the_targets() -> None:
    lines = hunt_lines(60, RoundState(3, TARGETS, 0, FINDS, over=True, winner="brick"))
    assert lines[0] == "Round 3 is over: brick wins"
    assert lines[1].startswith("★ dragon-hoard.bin  brick +15 first")
    assert not any("still to find" in line for line in lines)


def test_still_to_find_counts_what_you_still_need() -> None:
    others_found_all = RoundState(5, ["a.txt", "b.txt", "c.txt"], 30, [
        FoundBy("ada", "a.txt", 15, from_vault=False, first=True),
        FoundBy("ada", "b.txt", 15, from_vault=False, first=True),
        FoundBy("ada", "c.txt", 15, from_vault=False, first=True),
        FoundBy("me", "c.txt", 10, from_vault=False, first=False),
    ])  # fmt: skip
    lines = hunt_lines(60, others_found_all)
    assert lines[-1] == "2 of 3 still to find", "ada found them all, but you still need two"
    rows = model.hunt(others_found_all, "me", have={"a.txt"})
    assert model.still_to_find(rows) == 1  # a.txt is in your share: only b.txt is left


def test_a_long_name_is_cut_only_when_its_own_line_has_no_room() -> None:
    long = "moonlit-doubloon-of-the-sunken-fleet.coin"
    state = RoundState(6, [long, "dragon-hoard.bin"], 30, [
        FoundBy("me", long, 15, from_vault=False, first=True),
        FoundBy("brick", "dragon-hoard.bin", 15, from_vault=False, first=True),
        FoundBy("ada", "dragon-hoard.bin", 10, from_vault=False, first=False),
        FoundBy("cosmo", "dragon-hoard.bin", 10, from_vault=False, first=False),
        FoundBy("me", "dragon-hoard.bin", 10, from_vault=False, first=False),
    ])  # fmt: skip
    lines = hunt_lines(64, state)
    assert lines[0] == f"★ {long}  you +15 first", "room enough beside its own details"
    assert lines[1].startswith("★ dragon-hoard.bin")
    assert hunt_lines(38, state)[0].startswith("★ moonlit-doubloon-of-…  you +15 first")


def test_a_round_cut_short_says_so_and_the_lobby_never_waits_for_0_players() -> None:
    async def scenario() -> list[str]:
        app = HuntOnly()
        async with app.run_test(size=(60, 10)) as pilot:
            panel = app.query_one(HuntPanel)
            panel.show_lobby(Lobby(starts_in=-1.0, needed=0), ["me", "brick"])
            panel.show(RoundState(3, TARGETS, 20, FINDS, over=True, cut_short=True), "me", set())
            await pilot.pause()
            return [line.rstrip() for line in screen_text(app, "#hunt").splitlines()]

    lines = asyncio.run(scenario())
    head = " ".join(lines[:2])  # (it wraps at 60 columns)
    assert head == "Round 3 was cut short when the host stopped: its points count, nobody won it"
    assert "Waiting for the host to start the next round." in lines, lines
    assert not any("0 more" in line for line in lines), lines


def test_before_the_host_says_anything_the_hunt_does_not_guess_what_it_waits_for() -> None:
    """A player the host refused (no code) read "Waiting for the host to start a round (it
    needs two players online)": as if in, and the host's minimum is its own setting."""

    async def scenario() -> list[str]:
        app = HuntOnly()
        async with app.run_test(size=(60, 10)) as pilot:
            await pilot.pause()
            return [line.strip() for line in screen_text(app, "#hunt").splitlines()]

    lines = asyncio.run(scenario())
    assert "Waiting to hear from the host." in lines, lines
    assert not any("two players" in line for line in lines), lines
