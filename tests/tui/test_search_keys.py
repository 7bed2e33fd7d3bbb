"""Keys typed fast after `/` or `:` go into the line that opened, never to the board's keys.

A player types `/mx` in one go: the search must read "mx" and the map must not have toggled
(`m`), nor the scoreboard opened (`s`) or a ready been sent (`r`). The line took the focus only
after the keys already on their way had been handled as the board's bindings. And a round's
end shown over a line being typed gives the line its keys back when it closes.
"""

from __future__ import annotations

import asyncio

from textual import events

from tui.app import GameApp
from tui.screens.round_over import RoundOverScreen
from tui.widgets.board import Board
from tui.widgets.command_line import CommandLine
from tui.widgets.search import CatalogSearch

from .conftest import BackgroundNetwork, wait_until
from .test_lobby import BOARD, ROUND

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


def test_a_line_being_typed_when_the_round_ends_has_the_keys_once_the_end_is_closed(
    background_network: BackgroundNetwork,
) -> None:
    """The end of the round closed, the line stayed open without the focus: the keys went to
    the board, Escape did not close the line, and Enter got the catalog file under the cursor."""

    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        async with app.run_test(size=SIZE) as pilot:
            type_fast(app, "colon", "p", "e")
            await pilot.pause()
            ended = RoundOverScreen(ROUND, BOARD, "me", asked=True)  # (no settling: its keys)
            app.show_modal(ended)  # the round ended meanwhile
            await wait_until(lambda: isinstance(app.screen, RoundOverScreen), what="the end")
            await pilot.pause()
            type_fast(app, "colon")  # over the round's end: no line opens under it
            await pilot.pause()
            await pilot.press("escape")  # the round's end closes
            await wait_until(lambda: len(app.screen_stack) == 1, what="the round's end closed")
            await pilot.pause()
            line = app.query_one(CommandLine)
            assert line.has_focus and line.value == "pe", (app.focused, line.value)
            await pilot.press("e", "r", "s")
            assert line.value == "peers"
            await pilot.press("escape")
            assert not line.display
            app.show_modal(RoundOverScreen(ROUND, BOARD, "me", asked=True))
            await wait_until(lambda: isinstance(app.screen, RoundOverScreen), what="the end")
            type_fast(app, "colon")
            await pilot.pause()
            assert not line.display, "a line opened under the round's end"

    asyncio.run(scenario())
