"""The status bar says when the session with the database peer is down, and when it is back."""

from __future__ import annotations

import asyncio

from tests.tui.conftest import QUIET_DB
from tui.app import GameApp
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, screen_text, wait_until
from .test_app import started


def test_status_bar_shows_reconnecting_while_the_database_peer_is_down(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def restart_db() -> None:
        await net.net.start_db(port=net.db_port, **QUIET_DB)

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(80, 24)) as pilot:
            await started(app)
            await pilot.pause()
            assert screen_text(app, "#status").rstrip().endswith("joined")
            net.call_sync(net.net.db.stop)
            await wait_until(lambda: "reconnecting…" in screen_text(app, "#status"),
                             what="reconnecting in the status bar")  # fmt: skip
            await wait_until(lambda: str(app.query_one(PlayersTable).get_row("vault")[-1]) == "○",
                             what="the vault shown offline")  # fmt: skip
            await wait_until(lambda: "lost the database peer" in screen_text(app, "#feed"),
                             what="the feed to say so")  # fmt: skip
            await net.acall(restart_db)
            await wait_until(lambda: screen_text(app, "#status").rstrip().endswith("joined"),
                             timeout=30, what="joined again")  # fmt: skip
            await wait_until(lambda: str(app.query_one(PlayersTable).get_row("vault")[-1]) == "●",
                             what="the vault shown online")  # fmt: skip

    asyncio.run(scenario())
