"""Numbers on screen say what they count: the status bar's points are not read as a round's
number beside the round's clock, and the end of a round's map column is points, not the map's
size the players panel shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import App, ComposeResult

from reliablep2p.app import words
from reliablep2p.game.settings import GameSettings
from reliablep2p.peer import events
from reliablep2p.peer.fetch import GetResult
from reliablep2p.proto import PlayerStats, RoundState, Standing
from tui import model
from tui.app import GameApp
from tui.messages import CoreEvents
from tui.screens.round_over import RoundOverScreen
from tui.widgets.catalog import CatalogTable
from tui.widgets.feed import Feed
from tui.widgets.players import PlayersTable
from tui.widgets.status import StatusBar
from tui.widgets.transfers import TransfersPanel

from .conftest import BackgroundNetwork, recording_feed, screen_text, shown_text, wait_until
from .test_app import type_command
from .test_lobby import BOARD, ROUND, RoundOverOnly
from .test_sources import TransfersOnly


class StatusOnly(App[None]):
    CSS_PATH = str(Path(__file__).parents[2] / "tui" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")


def test_the_status_bar_names_points_as_points_beside_the_rounds_clock() -> None:
    async def scenario() -> None:
        app = StatusOnly()
        async with app.run_test(size=(100, 3)) as pilot:
            bar = app.query_one(StatusBar)
            bar.show(model.Player("ann", score=62, round_points=18, map_size=3, me=True),
                     "joined")  # fmt: skip
            bar.tick("round 2 · 0:23 left")
            await pilot.pause()
            status = screen_text(app, "#status")
            assert "18 pts this round · total 62" in status, status
            assert "round 18" not in status
            assert "round 2 · 0:23 left" in status

    asyncio.run(scenario())


def test_the_end_of_a_round_calls_its_map_column_points() -> None:
    async def scenario() -> None:
        app = RoundOverOnly(RoundOverScreen(ROUND, BOARD, "ann"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            header = screen_text(app, "#final-scores").splitlines()[0].split()
            assert header[:5] == ["#", "player", "round", "map", "pts"], header

    asyncio.run(scenario())


def test_at_80_columns_the_clock_and_the_connection_always_show() -> None:
    async def scenario() -> None:
        app = StatusOnly()
        async with app.run_test(size=(80, 3)) as pilot:
            bar = app.query_one(StatusBar)
            bar.show(model.Player("carol", score=1234, round_points=56, files_found=78,
                                  map_size=90, me=True, wins=3), "reconnecting…")  # fmt: skip
            bar.tick("waiting for 98 more players")
            await pilot.pause()
            status = screen_text(app, "#status")
            assert "56 pts · total 1234" in status, status  # "this round" gave way last
            assert status.rstrip().endswith("waiting for 98 more players · reconnecting…"), status

    asyncio.run(scenario())


class PlayersOnly(App[None]):
    CSS_PATH = str(Path(__file__).parents[2] / "tui" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield PlayersTable(id="players")


def test_at_80_columns_a_long_name_gives_way_to_the_numbers_and_the_online_mark() -> None:
    async def scenario() -> None:
        app = PlayersOnly()
        async with app.run_test(size=(38, 6)) as pilot:  # the players panel's room at 80x24
            players = [
                model.Player("vault", host=True),
                model.Player("player-48123", score=1234, round_points=56, map_size=78,
                             me=True, wins=12),
                model.Player("a-rather-long-player-name", score=7, online=False),
            ]  # fmt: skip
            app.query_one(PlayersTable).show(players, 3)
            await pilot.pause()
            lines = screen_text(app, "#players").splitlines()
            assert lines[0].split() == ["player", "round", "total", "map"], lines
            for line, mark in zip(lines[1:4], "●●○", strict=True):
                assert line.rstrip().endswith(mark), lines
            assert "1234" in lines[2] and "78" in lines[2], lines
            assert "…" in lines[3], lines  # the long name is the one cut

    asyncio.run(scenario())


def test_a_winner_wins_with_points_and_a_leader_leads_with_them() -> None:
    def over(won: int) -> RoundState:
        return RoundState(3, ["gem"], 0, [], over=True, winner="ann",
                          standings=[Standing("ann", won)])  # fmt: skip

    assert words.describe_round(over(44)) == "round 3 is over: ann wins with 44 points"
    assert words.describe_round(over(1)) == "round 3 is over: ann wins with 1 point"
    board = events.Scoreboard((PlayerStats("ann", "", 0, 0, 0, 0, True),))
    assert words.describe(board) == "leader: ann with 0 points"


def test_a_round_nobody_found_anything_in_ends_in_the_same_words_everywhere(
    tmp_path: Path,
) -> None:
    """The hunt read "Round 1 over: winner nobody", the round-over screen "Winner: nobody"."""
    net = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, settings=GameSettings(2, 600, targets=1, treasure=0)
    )  # nobody fetches the one target: the round's two seconds run out with no find
    said = "round 1 is over: nobody found anything"

    async def scenario() -> None:
        await net.peer({"only.txt": b"the one target, long enough to be hunted"})
        app = GameApp(net.player("me"))
        fed = recording_feed(app)
        async with app.run_test(size=(100, 30)):
            await wait_until(lambda: isinstance(app.screen, RoundOverScreen), timeout=30,
                             what="the round's end")  # fmt: skip
            assert said in fed, fed
            title = "Round 1 is over: nobody found anything"
            await wait_until(lambda: screen_text(app, "#round-title").strip() == title,
                             what="the round-over screen's title")  # fmt: skip
            app.screen.dismiss()
            await wait_until(lambda: "Round 1 is over" in screen_text(app, "#hunt"),
                             what="the hunt's head")  # fmt: skip
            hunt = [line.strip("│ ") for line in screen_text(app, "#hunt").splitlines()]
            assert "Round 1 is over: nobody found anything" in hunt, hunt

    try:
        asyncio.run(scenario())
    finally:
        net.close()


def test_a_round_cut_short_and_a_won_one_read_alike_in_the_feed_hunt_and_title() -> None:
    cut = RoundState(3, ["gem"], 0, [], over=True, cut_short=True)
    won = RoundState(3, ["gem"], 0, [], over=True, winner="ann", standings=[Standing("ann", 15)])
    assert words.round_over_line(cut) == words.cut_short_line(3)
    assert words.round_over_line(won, "ann") == "round 3 is over: you win with 15 points"
    assert words.headline(words.round_over_line(won)) == "Round 3 is over: ann wins with 15 points"


class CatalogOnly(App[None]):
    def compose(self) -> ComposeResult:
        yield CatalogTable(id="catalog")


def test_the_catalog_says_you_hold_your_own_files() -> None:
    async def scenario() -> None:
        app = CatalogOnly()
        async with app.run_test(size=(60, 5)) as pilot:
            app.query_one(CatalogTable).show([
                model.CatalogRow("mine.txt", 10, (), have=True, target=False),
                model.CatalogRow("ours.txt", 10, ("bob",), have=True, target=False),
                model.CatalogRow("far.txt", 10, (), have=False, target=False),
            ])  # fmt: skip
            await pilot.pause()
            rows = {line.split()[0]: line for line in screen_text(app, "#catalog").splitlines()}
            assert rows["mine.txt"].rstrip().endswith("you"), rows
            assert rows["ours.txt"].rstrip().endswith("you, bob"), rows
            assert rows["far.txt"].rstrip().endswith("—"), rows
            catalog = app.query_one(CatalogTable)
            assert catalog.border_subtitle == "3 files · you have 2"
            catalog.show([model.CatalogRow("mine.txt", 10, (), have=True, target=False)])
            assert catalog.border_subtitle == "1 file · you have 1"

    asyncio.run(scenario())


def test_the_database_peer_as_a_source_is_the_vault_in_the_feed_and_in_transfers() -> None:
    """One way everywhere: the feed said "got x from vault" beside the panel's "← the vault"."""
    done = events.TransferDone(name="x.bin", source="vault", size=1000, probes=1)
    going = events.TransferProgress(name="x.bin", source="vault", done=10, total=1000)
    got = GetResult("x.bin", 1000, "vault", 2, True, Path("x.bin"),
                    sources=(("ann", 400), ("vault", 600)))  # fmt: skip
    lines = [words.describe(done), words.describe(going), words.fetched(got)]
    for line in lines:
        assert "from the vault" in line and "from vault" not in line, line
    assert "400 B from ann, 600 B from the vault" in lines[-1], lines[-1]

    async def scenario() -> None:
        app = TransfersOnly()
        async with app.run_test(size=(100, 10)) as pilot:
            app.query_one(TransfersPanel).done("x.bin", "vault", 1000)
            await pilot.pause()
            shown = shown_text(app, "#transfers")  # type: ignore[arg-type]
            assert "← the vault" in shown, shown

    asyncio.run(scenario())


def test_a_failed_get_names_its_file_once(background_network: BackgroundNetwork) -> None:
    """The typed line names the file: the feed said "get x: x: not in the catalog"."""

    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            await type_command(pilot, "get nothing-here.txt")
            feed = app.query_one(Feed)

            def said() -> list[str]:
                return [e.plain.split(" ", 1)[1] for e in feed.entries if "nothing-here" in e.plain]

            await wait_until(lambda: len(said()) == 2, what="the command and its answer")
            assert said()[1] == "get nothing-here.txt: not in the catalog", said()

    asyncio.run(scenario())


def test_a_resumed_get_says_from_where_in_the_transfers_panel(
    background_network: BackgroundNetwork,
) -> None:
    """'✓ x ← ann  286.1 MiB in 9.7 s' of a get resumed at 80 MiB read as a rate above the
    link's; the feed said where it resumed, the panel did not."""

    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            size, at = 300_000_000, 83_886_080
            app.post_message(CoreEvents((
                events.TransferDone(name="x.bin", source="ann", size=size, probes=1,
                                    resumed_at=at),
            )))  # fmt: skip
            await wait_until(lambda: "x.bin" in shown_text(app, "#transfers"), what="the get")
            await pilot.pause()
            shown = " ".join(shown_text(app, "#transfers").replace("│", " ").split())
            assert f"resumed at {model.size(at)}" in shown, shown

    asyncio.run(scenario())


def test_a_file_that_cannot_be_shared_is_told_once_in_the_feed(
    background_network: BackgroundNetwork,
) -> None:
    """A name with a bidi override, and a subfolder, were never shared and nobody said so."""

    async def scenario() -> None:
        node = background_network.player("me")
        folder = background_network.root / "share-me"
        (folder / "photo\u202egpj.exe").write_bytes(b"not a photo")
        (folder / "holiday").mkdir()
        app = GameApp(node)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            feed = app.query_one(Feed)

            def said() -> list[str]:
                return [e.plain.split(" ", 1)[1] for e in feed.entries if "not shared" in e.plain]

            await wait_until(lambda: len(said()) == 2, what="both told")
            await pilot.pause(1.0)  # rescans every 0.2 s: none tells it again
            assert sorted(said()) == [
                "not shared: 'photo\\u202egpj.exe': its name contains the bidi control U+202E "
                "RIGHT-TO-LEFT OVERRIDE, which reorders what is shown",
                "not shared: holiday/: it is a folder (only the files at the top of the share "
                "are shared)",
            ], said()

    asyncio.run(scenario())
