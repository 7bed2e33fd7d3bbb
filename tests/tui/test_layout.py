"""What a player sees at 80x24: every panel of the game on one screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reliablep2p.game.settings import GameSettings
from tests.conftest import random_bytes
from tui.app import GameApp
from tui.widgets.addressbook import AddressBookTable
from tui.widgets.catalog import CatalogTable
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, screen_text, shown_text, wait_until
from .test_app import started, type_command


def on_screen(app: GameApp, selector: str) -> bool:
    """The widget is displayed and wholly inside the screen."""
    widget = app.screen.query_one(selector)
    return widget.display and app.screen.region.contains_region(widget.region)


def test_80x24_shows_all_players_the_hunt_and_who_holds_each_file(tmp_path: Path) -> None:
    # three files and one or two treasures (the second if the first went to player1, who holds
    # everything else): every catalog row fits on the screen
    net = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, settings=GameSettings(300, 600, targets=4, treasure=1)
    )
    files = {f"file{i}.bin": random_bytes(20_000, seed=i) for i in range(3)}

    async def scenario() -> None:
        await net.peer(files)  # the round starts with the second player: the catalog is full
        await net.peer()
        await net.peer()
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=(80, 24)) as pilot:
            await started(app)
            await wait_until(lambda: app.query_one(PlayersTable).row_count == 5, what="5 players")
            await wait_until(lambda: player.round is not None, what="a round")
            assert player.round is not None
            targets = player.round.targets
            assert len(targets) in (4, 5)
            await wait_until(lambda: targets[-1] in screen_text(app, "#hunt"), what="the hunt")
            await pilot.pause()
            players = screen_text(app, "#players")
            for name in ("vault (host)", "player1", "player2", "player3", "me (you)"):
                assert name in players, players
            hunt = screen_text(app, "#hunt")
            for target in targets:
                assert target in hunt, hunt
            assert f"{len(targets)} of {len(targets)} still to find" in hunt, hunt
            assert "left" in hunt  # the clock, in the border

            target = next(t for t in targets if t in files)
            await type_command(pilot, f"get {target}")
            await wait_until(lambda: f"✓ {target}" in shown_text(app, "#transfers"),
                             what="the transfer")  # fmt: skip
            await wait_until(lambda: "player" in screen_text(app, "#catalog"), what="a holder")
            catalog = screen_text(app, "#catalog")
            assert "held by" in catalog, catalog
            for selector in ("#players", "#hunt", "#catalog", "#transfers", "#feed", "#status"):
                assert on_screen(app, selector), selector
            assert not app.query_one(AddressBookTable).display

            await pilot.press("m")  # the map takes the catalog's place
            await pilot.pause()
            assert on_screen(app, "#addressbook") and not app.query_one(CatalogTable).display
            assert target in screen_text(app, "#addressbook")
            assert "map size" in screen_text(app, "#addressbook")
            await pilot.press("m")
            await pilot.pause()
            assert on_screen(app, "#catalog") and not app.query_one(AddressBookTable).display

    try:
        asyncio.run(scenario())
    finally:
        net.close()


def test_160x45_shows_every_panel_and_no_map_key(background_network: BackgroundNetwork) -> None:
    net = background_network

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(160, 45)) as pilot:
            await started(app)
            await pilot.pause()
            for selector in ("#players", "#hunt", "#transfers", "#catalog", "#addressbook",
                             "#feed"):  # fmt: skip
                assert on_screen(app, selector), selector
            assert "Map" not in screen_text(app, "Footer")

    asyncio.run(scenario())
