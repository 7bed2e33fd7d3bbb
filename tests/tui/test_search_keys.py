"""Keys typed fast after `/` or `:` go into the line that opened, never to the board's keys.

A player types `/mx` in one go: the search must read "mx" and the map must not have toggled
(`m`), nor the scoreboard opened (`s`) or a ready been sent (`r`). The line took the focus only
after the keys already on their way had been handled as the board's bindings.
"""

from __future__ import annotations

import asyncio

from textual import events

from tui.app import GameApp
from tui.widgets.board import Board
from tui.widgets.command_line import CommandLine
from tui.widgets.search import CatalogSearch

from .conftest import BackgroundNetwork

SIZE = (90, 40)  # narrow: `m` toggles the map there


def type_fast(app: GameApp, *keys: str) -> None:
    """Keys as a terminal hands them over when typed in one go: all queued before any is
    handled (Pilot's `press` waits for the app to be idle after each)."""
    for key in keys:
        char = {"slash": "/", "colon": ":"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, char))


def test_every_key_typed_right_after_the_slash_goes_into_the_search(
    background_network: BackgroundNetwork,
) -> None:
    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        async with app.run_test(size=SIZE) as pilot:
            type_fast(app, "slash", "m", "s", "x")
            await pilot.pause()
            assert app.query_one(CatalogSearch).value == "msx"
            assert not app.query_one(Board).has_class("-map"), "`m` toggled the map"
            assert len(app.screen_stack) == 1, f"a key opened {app.screen}"
            type_fast(app, "slash", "colon")  # in the line, they are its characters
            await pilot.pause()
            assert app.query_one(CatalogSearch).value == "msx/:"
            await pilot.press("escape")
            type_fast(app, "colon", "m", "s")
            await pilot.pause()
            assert app.query_one(CommandLine).value == "ms"
            type_fast(app, "slash")
            await pilot.pause()
            assert app.query_one(CommandLine).value == "ms/"
            assert not app.query_one(Board).has_class("-map"), "`m` toggled the map"

    asyncio.run(scenario())
