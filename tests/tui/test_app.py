"""The game client driven by Pilot against real nodes on loopback."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from reliablep2p.app import commands
from reliablep2p.game.settings import GameSettings
from tests.conftest import random_bytes
from tui.app import GameApp
from tui.screens.help import HelpScreen
from tui.screens.round_over import RoundOverScreen
from tui.widgets.catalog import CatalogTable
from tui.widgets.command_line import CommandLine, suggest
from tui.widgets.feed import Feed
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, recording_feed, screen_text, wait_until

SIZE = (160, 45)


def player_names(app: GameApp) -> list[str]:
    table = app.query_one(PlayersTable)
    return list(table.order)


def notices(app: GameApp) -> list[str]:
    return [n.message for n in app._notifications]


async def type_command(pilot: Pilot[int], line: str) -> None:
    """Open the command line with `:`, type `line` and press Enter."""
    await pilot.press("colon")
    command = pilot.app.query_one(CommandLine)
    assert command.has_focus
    command.value = line
    await pilot.press("enter")


async def started(app: GameApp) -> None:
    await wait_until(lambda: app.connection == "joined", what="the app's node to join")


def test_players_table_fills_and_updates_when_peers_join_and_leave(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        first = await net.peer({"alpha.txt": b"alpha"})
        app = GameApp(net.player("me"))
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            await wait_until(lambda: "player1" in player_names(app), what="player1 listed")
            assert player_names(app)[0] == "vault"  # the host on top
            second = await net.peer()
            await wait_until(lambda: "player2" in player_names(app), what="player2 to join")
            row = app.query_one(PlayersTable).get_row("player2")
            assert str(row[-1]) == "●"
            await net.acall(second.leave)

            def gone() -> bool:
                table = app.query_one(PlayersTable)
                return "player2" not in player_names(app) or "○" in str(
                    table.get_row("player2")[-1]
                )

            await wait_until(gone, what="player2 shown as gone")
            await pilot.pause()
            feed = screen_text(app, "#feed")
            assert "player2" in feed
            me = app.query_one(PlayersTable).get_row("me")
            assert "(you)" in str(me[0])
            await net.acall(first.leave)

    asyncio.run(scenario())


def test_get_command_fetches_a_target_and_score_and_map_size_grow(
    hunt_network: BackgroundNetwork,
) -> None:
    net = hunt_network
    files = {f"file{i}.bin": random_bytes(50_000, seed=i) for i in range(3)}

    async def scenario() -> None:
        seeder = await net.peer(files)
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            await wait_until(lambda: player.round is not None, what="a round to start")
            assert player.round is not None
            target = next(t for t in player.round.targets if t in files)  # not treasure
            await wait_until(
                lambda: (
                    target in [str(r.key.value) for r in app.query_one(CatalogTable).ordered_rows]
                ),
                what="the catalog row",
            )
            await type_command(pilot, f"get {target}")
            path = player.share.path_of(target) if player.share else None
            assert path is not None
            await wait_until(lambda: path.exists(), what=f"{target} on disk")
            assert path.read_bytes() == files[target]
            await wait_until(lambda: app.query_one(PlayersTable).get_row("me")[1].plain != "0",
                             what="a score")  # fmt: skip
            await wait_until(lambda: app.query_one(PlayersTable).get_row("me")[3].plain != "0",
                             what="a map, checked by the host")  # fmt: skip
            me = app.query_one(PlayersTable).get_row("me")
            assert int(me[3].plain) >= 1  # map size: we learned that player1 holds it
            status = screen_text(app, "#status")
            assert "total 0" not in status and "map 0" not in status, status
            await wait_until(lambda: "★" in screen_text(app, "#hunt"), what="the find in the hunt")
            assert re.search(rf"★ {target} +you \+", screen_text(app, "#hunt"))
            assert "✓" in str(app.query_one(CatalogTable).get_row(target)[2])
            await net.acall(seeder.leave)

    asyncio.run(scenario())


def test_bad_commands_show_one_line_errors(background_network: BackgroundNetwork) -> None:
    """A mistyped verb was told only as a popup, and the line was gone: typed again in full.
    Now the feed says it too, and the line is kept to mend."""
    net = background_network

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            await type_command(pilot, "gte holiday photo.jpg")
            feed = app.query_one(Feed)
            told = "gte holiday photo.jpg: unknown command 'gte'; did you mean 'get'?"
            await wait_until(lambda: any(told in e.plain for e in feed.entries), what=told)
            line = app.query_one(CommandLine)
            await wait_until(lambda: line.display and line.has_focus, what="the line kept")
            assert line.value == "gte holiday photo.jpg"
            await pilot.press("home", "delete", "delete", "delete", *"get", "enter")
            await wait_until(lambda: any("> get holiday photo.jpg" in e.plain
                                         for e in feed.entries), what="the mended line run")  # fmt: skip
            await type_command(pilot, "frobnicate now")
            await wait_until(lambda: any("unknown command" in n for n in notices(app)))
            await type_command(pilot, "get no-such-file.txt")
            await wait_until(lambda: any("not in the catalog" in n for n in notices(app)))
            await type_command(pilot, "secure-get x.txt notaport")
            await wait_until(lambda: any("not a port" in n for n in notices(app)))
            assert all("Traceback" not in n and "\n" not in n for n in notices(app))
            assert app.return_code is None  # still running

    asyncio.run(scenario())


def test_a_verb_in_capitals_is_the_verb_and_a_near_miss_is_named() -> None:
    assert commands.parse("Get x.txt") == commands.Command("get", name="x.txt")
    with pytest.raises(commands.CommandError, match="did you mean 'seeding'"):
        commands.parse("seedign")
    with pytest.raises(commands.CommandError, match="'help' lists them"):
        commands.parse("frobnicate now")


def test_quitting_disconnects_and_the_others_see_the_player_leave(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        other = await net.peer()
        app = GameApp(net.player("me"))
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            await wait_until(lambda: any(p.name == "me" for p in other.peers), what="other sees me")
            await pilot.press("ctrl+q")
            await wait_until(lambda: app.return_code is not None, what="the app to exit")
            assert app.return_code == 0
            assert app.connection == "left"
            await wait_until(lambda: not any(p.name == "me" for p in other.peers),
                             what="the other player to see me leave")  # fmt: skip
            await wait_until(lambda: "me" not in net.net.db.online_players(),
                             what="the database peer to see me leave")  # fmt: skip

    asyncio.run(scenario())


def test_command_line_completes_file_names_from_the_catalog() -> None:
    names = ["alpha.txt", "beta.bin", "Alps.jpg"]
    assert suggest("g", names) == "get"
    assert suggest("se", names) == "secure-get"
    assert suggest("get be", names) == "get beta.bin"
    assert suggest("get alps", names) == "get Alps.jpg"
    assert suggest("get zeta", names) is None
    assert suggest("", names) is None


def test_help_screen_and_the_end_of_a_round(tmp_path: Path) -> None:
    net = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, settings=GameSettings(600, 600, targets=1, treasure=0)
    )  # player1 does not hunt: the round ends when it leaves, once "me" has found its target

    async def scenario() -> None:
        other = await net.peer({"only.txt": b"the one target, long enough to be hunted"})
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await wait_until(lambda: player.round is not None, what="a round")
            await type_command(pilot, "get only.txt")
            await wait_until(
                lambda: player.round is not None and player.round.finds, what="the find"
            )
            await net.acall(other.leave)  # everyone online has found all: the round is over
            await wait_until(
                lambda: isinstance(app.screen, RoundOverScreen), timeout=30, what="the round's end"
            )
            await wait_until(lambda: "me" in screen_text(app, "#final-scores"), what="the scores")
            assert "Round 1 is over: you win with" in screen_text(app, "#round-title")
            shown = app.screen
            assert isinstance(shown, RoundOverScreen)
            await wait_until(lambda: shown.settled(time.monotonic()), what="the screen to settle")
            await pilot.press("escape")
            assert not isinstance(app.screen, RoundOverScreen)
            await pilot.press("s")
            assert isinstance(app.screen, RoundOverScreen)

    try:
        asyncio.run(scenario())
    finally:
        net.close()


def test_quitting_mid_download_says_what_is_kept_for_next_time(
    background_network: BackgroundNetwork,
) -> None:
    """Ctrl-Q at 40% of a 190 MiB get printed only the evening's line: the player could not
    know the 77 MiB were kept (the next get resumed from there)."""
    from reliablep2p.peer import events
    from tui.messages import CoreEvents

    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            app.post_message(CoreEvents((
                events.TransferProgress("big.mp4", "ann", 80 * 2**20, 200 * 2**20),
                events.TransferProgress("small.txt", "ann", 10, 10),
                events.TransferDone("small.txt", "ann", 10, 1),
            )))  # fmt: skip
            await pilot.pause()
            await pilot.press("ctrl+q")
            await wait_until(lambda: app.return_code is not None, what="the app to exit")
        assert app.left_unfinished == [
            "big.mp4: 80.0/200.0 MiB kept; get it again to go on from there"
        ]

    asyncio.run(scenario())


def test_help_typed_in_the_command_line_reads_as_sentences_in_the_narrow_feed(
    background_network: BackgroundNetwork,
) -> None:
    """`:help` fed the terminal's table, padded to 22 columns: in the feed's 46 it wrapped
    as "get NAME               fe / from the network..."."""

    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        fed = recording_feed(app)
        async with app.run_test(size=SIZE) as pilot:
            await started(app)
            await type_command(pilot, "help")
            await wait_until(lambda: any(line.startswith("peers: ") for line in fed),
                             what="the help lines")  # fmt: skip
        listed = [line for line in fed if line.startswith(("get NAME", "peers"))]
        assert listed and all(": " in line and "   " not in line for line in listed), listed

    asyncio.run(scenario())
