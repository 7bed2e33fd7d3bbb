"""The players panel under a stream of scoreboards: after many pushes in which every score
changed (and the ranking with it), what is on screen is the last scoreboard, in its order; a
player who leaves is drawn dim, as one who was away from the start."""

from __future__ import annotations

import asyncio
import random

from rich.style import Style

from reliablep2p.peer import events
from reliablep2p.proto import PlayerStats
from tui import model
from tui.app import GameApp
from tui.messages import CoreEvents
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, screen_text, wait_until

GHOSTS = 30
"""Players the scoreboard knows who are not online: more rows than the panel has lines."""


def shown_rows(app: GameApp) -> list[tuple[str, str]]:
    """(name, total) of each player row on screen, top to bottom (the host's row has none)."""
    rows = []
    for line in screen_text(app, "#players").splitlines()[2:-1]:
        words = line.strip("│ ").replace("▶", "").replace("(you)", "").split()
        if len(words) >= 4 and words[0] not in ("⌂", "player"):
            rows.append((words[0], words[2]))
    return rows


def expected_rows(app: GameApp) -> list[tuple[str, str]]:
    return [(p.name, str(p.score)) for p in model.players(app.node) if not p.host]


def test_the_players_panel_shows_the_last_of_many_scoreboards_in_order(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        await net.peer()
        await net.peer()
        node = net.player("me")
        app = GameApp(node)
        async with app.run_test(size=(160, 45)) as pilot:
            table = app.query_one(PlayersTable)
            await wait_until(lambda: table.row_count == 4, what="me, two players and the host")
            names = ["me", "player1", "player2", *(f"ghost-{i:02d}" for i in range(GHOSTS))]
            rng = random.Random(3)
            for step in range(40):
                board = [
                    PlayerStats(name, "127.0.0.1", 1000 + i, rng.randrange(10_000),
                                rng.randrange(9), rng.randrange(99), online=i < 3)
                    for i, name in enumerate(names)
                ]  # fmt: skip
                node.session.scoreboard = board  # what the session does with a push
                app.post_message(CoreEvents((events.Scoreboard(tuple(board)),)))
                if step % 3:  # some frames are drawn between pushes, some pushes share one
                    await pilot.pause()
            await wait_until(lambda: table.row_count == 1 + len(names), what="every player")
            await pilot.pause()
            await wait_until(
                lambda: shown_rows(app) == expected_rows(app)[: len(shown_rows(app))],
                what="the top of the last scoreboard on screen",
            )
            assert len(shown_rows(app)) >= 10
            table.focus()
            await pilot.press("ctrl+end")  # the bottom of the ranking
            await wait_until(
                lambda: shown_rows(app) == expected_rows(app)[-len(shown_rows(app)) :],
                what="the bottom of the last scoreboard on screen",
            )

    asyncio.run(scenario())


def drawn_style(app: GameApp, text: str) -> Style | None:
    """The style the players panel draws `text` in (None: not on screen)."""
    widget = app.screen.query_one("#players")
    for strip in widget.render_lines(widget.region.reset_offset):
        for segment in strip:
            if text in segment.text:
                return segment.style
    return None


def test_a_player_who_leaves_is_drawn_dim(background_network: BackgroundNetwork) -> None:
    """Dim is drawn as a fainter colour: player2's name takes it when player2 leaves."""
    net = background_network

    async def scenario() -> None:
        await net.peer()
        second = await net.peer()
        app = GameApp(net.player("me"))
        async with app.run_test(size=(160, 45)):
            table = app.query_one(PlayersTable)

            def colours() -> tuple[object, object]:
                here, leaving = drawn_style(app, "player1"), drawn_style(app, "player2")
                assert here is not None and leaving is not None
                return here.color, leaving.color

            await wait_until(lambda: drawn_style(app, "player2") is not None, what="player2")
            here, leaving = colours()
            assert here == leaving
            await net.acall(second.leave)
            await wait_until(lambda: str(table.get_row("player2")[-1]) == "○", what="left")
            await wait_until(lambda: colours()[1] != here, what="player2's name drawn dim")
            assert colours()[0] == here

    asyncio.run(scenario())


def test_a_player_named_you_is_not_shown_as_you_you() -> None:
    """A login-less player called itself "you" and its row read "▶ you (you)"."""
    from tui.widgets.players import _cells

    assert str(_cells(model.Player("you", me=True))[0]) == "▶ you"
    assert str(_cells(model.Player("carol", me=True))[0]) == "▶ carol (you)"
