"""The game's shape on screen: the lobby and its countdown, the end of a round ranked by the
points that name its winner, the end of the evening, and the focus coming back to the board.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Static

from reliablep2p.game.settings import GameSettings
from reliablep2p.proto import EveningRow, FoundBy, PlayerStats, RoundState, Standing
from tests.conftest import random_bytes
from tui.app import GameApp
from tui.screens.evening import EveningScreen
from tui.screens.help import HelpScreen
from tui.screens.round_over import RoundOverScreen
from tui.widgets.addressbook import AddressBookTable
from tui.widgets.catalog import CatalogTable
from tui.widgets.command_line import CommandLine
from tui.widgets.feed import Feed

from .conftest import BackgroundNetwork, check_snapshot, screen_text, wait_until
from .test_app import type_command

FILES = {"ancient-map.txt": b"x" * 70, "ocean.png": random_bytes(3600)}


@pytest.fixture
def lobby_network(tmp_path: Path) -> BackgroundNetwork:
    """Two players in, and a countdown of ten minutes to the first round."""
    network = BackgroundNetwork(tmp_path).start(min_players=2, pause_seconds=600)
    yield network  # type: ignore[misc]
    network.close()


def row_names(app: GameApp) -> list[str]:
    return [str(row.key.value) for row in app.query_one(CatalogTable).ordered_rows]


def test_the_lobby_shows_who_is_in_who_is_ready_and_the_countdown_everywhere(
    lobby_network: BackgroundNetwork,
) -> None:
    net = lobby_network

    async def scenario() -> None:
        await net.peer(FILES)
        await net.peer({"dragon-hoard.bin": random_bytes(200_000, seed=1)})
        app = GameApp(net.player("me"))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(lambda: "In: me, player1, player2" in screen_text(app, "#hunt"),
                             what="the lobby")  # fmt: skip
            hunt = screen_text(app, "#hunt")
            assert re.search(r"Next round in (10:00|9:5\d)", hunt), hunt
            assert "press r when you are ready" in hunt
            await wait_until(lambda: re.search(r"round 1 in (10:00|9:5\d)",
                                               screen_text(app, "#status")),
                             what="the countdown in the status bar")  # fmt: skip
            await pilot.press("r")
            await wait_until(lambda: "me ✓" in screen_text(app, "#hunt"), what="me ready")
            await wait_until(lambda: "you are ready" in screen_text(app, "#hunt"))
            await wait_until(lambda: "ready: the next round" in screen_text(app, "#feed"))
            await check_snapshot("lobby-80x24.svg", app)
            await pilot.press("question_mark")  # the countdown is on every screen
            assert isinstance(app.screen, HelpScreen)
            await wait_until(lambda: "round 1 in 9:5" in screen_text(app, "#help-clock"),
                             what="the countdown in the help")  # fmt: skip

    asyncio.run(scenario())


class RoundOverOnly(App[None]):
    CSS_PATH = str(Path(__file__).parents[2] / "tui" / "app.tcss")

    def __init__(self, screen: RoundOverScreen | EveningScreen) -> None:
        super().__init__()
        self.shown = screen

    def compose(self) -> ComposeResult:
        yield Static("the board")

    def on_mount(self) -> None:
        self.push_screen(self.shown)


ROUND = RoundState(
    4, ["gem"], 0, [
        FoundBy("bob", "gem", 15, from_vault=False, first=True),
        FoundBy("ann", "gem", 10, from_vault=False, first=False),
        FoundBy("bob", "orb", 9, from_vault=True, first=True),
        FoundBy("ann", "cup", 10, from_vault=False, first=False),
    ],
    over=True, winner="bob",
    standings=[Standing("bob", 28, map_points=4), Standing("ann", 24, map_points=4)],
)  # fmt: skip
BOARD = [  # by total: ann leads the evening, bob won the round
    PlayerStats("ann", "", 0, 200, 12, 5, True, wins=3),
    PlayerStats("bob", "", 0, 50, 4, 5, True, wins=1),
    PlayerStats("cy", "", 0, 10, 1, 0, False),
]


def test_the_end_of_a_round_ranks_by_the_points_that_named_the_winner() -> None:
    async def scenario() -> None:
        app = RoundOverOnly(RoundOverScreen(ROUND, BOARD, "ann", lambda: "round 5 in 0:15"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            title = screen_text(app, "#round-title")
            assert title.strip() == "Round 4 is over: bob wins with 28 points", title
            table = [line.split() for line in screen_text(app, "#final-scores").splitlines()]
            assert table[0][:3] == ["#", "player", "round"]
            assert [row[1] for row in table[1:4]] == ["bob", "ann", "cy"]
            assert table[1][2] == "28" and table[2][2] == "24" and table[2][4] == "200"
            assert "round 5 in 0:15" in screen_text(app, "#round-over-clock")
            await check_snapshot("round-over.svg", app)

    asyncio.run(scenario())


def test_the_end_of_the_evening_shows_everyone_and_the_best_finds() -> None:
    rows = [EveningRow("ann", 8, 3, 254, "cosmo-1.txt", 15), EveningRow("me", 8, 2, 120)]

    async def scenario() -> None:
        app = RoundOverOnly(EveningScreen(rows, "me"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            text = screen_text(app, "#evening-scores")
            assert "cosmo-1.txt +15" in text and "254" in text
            assert text.index("ann") < text.index("me")

    asyncio.run(scenario())


def test_the_host_stopping_shows_the_evening_to_every_player(
    lobby_network: BackgroundNetwork,
) -> None:
    net = lobby_network

    async def scenario() -> None:
        await net.peer(FILES)
        app = GameApp(net.player("me"))
        async with app.run_test(size=(80, 24)):
            await wait_until(lambda: app.connection == "joined", what="joined")
            await wait_until(lambda: app.node.lobby is not None, what="the lobby")
            await net.acall(net.net.db.say_goodnight)
            await wait_until(lambda: isinstance(app.screen, EveningScreen), what="the evening")

    asyncio.run(scenario())


def test_focus_comes_back_to_the_board_after_the_command_line_and_a_modal(
    lobby_network: BackgroundNetwork,
) -> None:
    net = lobby_network

    async def scenario() -> None:
        await net.peer(FILES)
        app = GameApp(net.player("me"))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            catalog = app.query_one(CatalogTable)
            assert catalog.has_focus
            await pilot.press("colon")
            assert app.query_one(CommandLine).has_focus
            await pilot.press("escape")
            assert catalog.has_focus, app.focused
            await pilot.press("colon", *"help", "enter")  # help from the command line
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert catalog.has_focus, app.focused
            await pilot.press("question_mark", "escape")
            assert catalog.has_focus, app.focused
            await pilot.press("slash", "escape")
            assert catalog.has_focus, app.focused
            await pilot.press("m", "colon", "escape")  # narrow, with the map shown
            assert app.query_one(AddressBookTable).has_focus, app.focused

    asyncio.run(scenario())


def test_catalog_search_and_the_targets_first(hunt_network: BackgroundNetwork) -> None:
    net = hunt_network

    async def scenario() -> None:
        await net.peer({**FILES, "zebra-notes.txt": b"z", "aardvark.txt": b"a"})
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(lambda: player.round is not None, what="a round")
            targets = player.round.targets  # type: ignore[union-attr]

            def targets_first() -> bool:
                names = row_names(app)
                rest = names[len(targets) :]
                return set(names[: len(targets)]) == set(targets) and rest == sorted(rest)

            await wait_until(targets_first, what="the targets first, then the rest by name")
            await wait_until(  # (treasure planted for the round may still be arriving)
                lambda: len(row_names(app)) == len(player.catalog), what="every file listed"
            )
            await pilot.press("slash", *"OCE")
            await wait_until(lambda: row_names(app) == ["ocean.png"], what="the search")
            await wait_until(lambda: "/OCE: 1 of" in screen_text(app, "#catalog"), what="1 of")
            await pilot.press("enter")  # the filter stays, the catalog has the focus
            assert app.query_one(CatalogTable).has_focus and row_names(app) == ["ocean.png"]
            await pilot.press("slash", "escape")  # Escape clears the search
            await wait_until(lambda: len(row_names(app)) == len(player.catalog), what="all")

    asyncio.run(scenario())


def test_the_feed_rewraps_when_the_screen_grows_and_keeps_following(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            feed = app.query_one(Feed)
            for index in range(30):
                feed.add(f"line {index}: " + "a long line that wraps on a narrow screen " * 2)
            await pilot.pause(0.2)
            narrow = len(feed.lines)
            await pilot.resize_terminal(160, 45)
            await wait_until(lambda: len(feed.lines) < narrow, what="the feed to rewrap")
            await wait_until(lambda: "line 29" in screen_text(app, "#feed"), what="line 29")
            assert feed.scroll_y == feed.max_scroll_y, "still following the newest line"

    asyncio.run(scenario())


def test_a_screenshot_lands_in_a_folder_that_exists_and_the_player_is_told_where(
    background_network: BackgroundNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = background_network
    folder = tmp_path / "no" / "such" / "folder"
    monkeypatch.setattr("tui.screenshot.screenshot_folder", lambda: folder)

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            app.action_save_screenshot()
            await pilot.pause()
            saved = list(folder.glob("*.svg"))
            assert len(saved) == 1 and saved[0].read_text().startswith("<svg")
            assert any(str(saved[0]) in n.message for n in app._notifications)

    asyncio.run(scenario())


def test_the_end_of_a_round_gives_way_to_the_next_round(tmp_path: Path) -> None:
    """A player away from the keyboard comes back to the round that runs, not to the end of
    the one before ("r: ready for the next round" while it runs)."""
    net = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, settings=GameSettings(1.5, 1.5, targets=1, treasure=1)
    )

    async def scenario() -> None:
        await net.peer(FILES)
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=(80, 24)):
            await wait_until(lambda: isinstance(app.screen, RoundOverScreen), timeout=30,
                             what="the end of round 1")  # fmt: skip
            await wait_until(lambda: player.round is not None and player.round.number > 1
                             and not player.round.over, timeout=30, what="round 2")  # fmt: skip
            await wait_until(lambda: not isinstance(app.screen, RoundOverScreen),
                             what="the board for round 2")  # fmt: skip

    try:
        asyncio.run(scenario())
    finally:
        net.close()


def test_the_evening_gives_way_when_the_host_comes_back_to_its_round(
    hunt_network: BackgroundNetwork,
) -> None:
    """The host stopped (goodnight, its round cut short), then started again: the new
    evening's round is on the screen, not the last evening's end."""
    net = hunt_network

    async def restart_db() -> None:
        await net.net.start_db(port=net.db_port, min_players=2, lobby_seconds=0,
                               round_seconds=300, pause_seconds=600)  # fmt: skip

    async def scenario() -> None:
        await net.peer(FILES)
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=(80, 24)):
            await wait_until(lambda: player.round is not None, what="a round")
            await net.acall(net.net.db.say_goodnight)
            await wait_until(lambda: isinstance(app.screen, EveningScreen), what="the evening")
            net.call_sync(net.net.db.stop)
            await wait_until(lambda: app.connection != "joined", what="the host gone")
            await net.acall(restart_db)
            await wait_until(lambda: app.connection == "joined", timeout=30, what="back")
            await wait_until(lambda: not isinstance(app.screen, EveningScreen),
                             what="a round again")  # fmt: skip
            assert "round 2 · " in screen_text(app, "#hunt")  # round 1 was cut short

    asyncio.run(scenario())


def test_keys_typed_as_the_end_of_a_round_opens_do_not_act_on_it() -> None:
    async def scenario() -> None:
        screen = RoundOverScreen(ROUND, BOARD, "ann")
        screen.settle_seconds = 3600.0  # however slowly this machine runs the keys below
        app = RoundOverOnly(screen)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(lambda: screen.shown_at < float("inf"), what="the screen")
            typed_before = events.Key("q", "q")
            typed_before.time = screen.shown_at - 0.05  # read just before the screen came
            app.post_message(typed_before)
            await pilot.press("s", "enter")  # the rest of the word, and its Enter
            await pilot.pause()
            assert app.screen is screen
            screen.settle_seconds = RoundOverScreen.SETTLE_SECONDS  # as the app has it:
            assert not screen.settled(screen.shown_at + screen.settle_seconds / 2)  # typing on
            assert screen.settled(screen.shown_at + screen.settle_seconds)
            screen.settle_seconds = 0.0  # the moment after it opened has passed
            await pilot.press("enter")  # read after the screen was there to see
            await wait_until(lambda: app.screen is not screen, what="the screen to close")

    asyncio.run(scenario())


def test_the_host_stopping_mid_round_shows_the_round_counted_and_cut_short(
    hunt_network: BackgroundNetwork,
) -> None:
    net = hunt_network

    async def scenario() -> None:
        await net.peer(FILES)
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(lambda: player.round is not None, what="a round")
            assert player.round is not None
            target = next(t for t in player.round.targets if t in FILES)
            await type_command(pilot, f"get {target}")
            await wait_until(lambda: player.round is not None and player.round.finds,
                             what="the find")  # fmt: skip
            await net.acall(net.net.db.say_goodnight)  # the host stops, mid-round
            await wait_until(lambda: isinstance(app.screen, EveningScreen), what="the evening")
            await pilot.pause()
            title = screen_text(app, "#evening-title")
            assert "Round 1 was cut short when the host stopped" in title, title
            mine = next(line for line in screen_text(app, "#evening-scores").splitlines()
                        if " me " in line)  # fmt: skip
            cells = mine.split()  # #, player, points, won, rounds, best find
            assert cells[1] == "me" and cells[3:5] == ["0", "1"], mine  # no win, one round
            assert f"{target} +" in mine, mine

    asyncio.run(scenario())
