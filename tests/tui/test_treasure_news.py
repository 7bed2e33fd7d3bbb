"""Treasure the host hides with a player is told once, by the host's news: not as a get (in
the TUI's feed, and in a bot's log)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from reliablep2p.app import cli
from reliablep2p.peer import events
from tui.app import GameApp

from .conftest import BackgroundNetwork, shown_text, wait_until
from .test_mid_round import feed_lines, start_round_with


def test_treasure_hidden_with_the_player_is_told_once_not_as_a_get_before_it(
    hunt_network: BackgroundNetwork,
) -> None:
    """The feed read "got gem (…) from the vault after 1 probe", then "the host hid fresh
    treasure with you": a get the player never asked for, before the news that explains it."""
    net = hunt_network

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(160, 45)):
            await start_round_with(app, net)
            await wait_until(lambda: any("hid fresh treasure with you" in line
                                         for line in feed_lines(app)),
                             what="treasure hidden with me")  # fmt: skip
            lines = feed_lines(app)
            hid = next(line for line in lines if "hid fresh treasure with you" in line)
            planted = hid.split(": ", 1)[1].split(", ")
            assert planted and all((app.node.view.share.path_of(n)).exists() for n in planted)  # type: ignore[union-attr]
            for name in planted:
                assert not any(line.startswith(f"got {name} ") for line in lines), lines
            await wait_until(lambda: all(f"✓ {name}" in shown_text(app, "#transfers")  # type: ignore[arg-type]
                                         for name in planted),
                             what="the panel to show the treasure fetched")  # fmt: skip

    asyncio.run(scenario())


def test_a_bots_log_tells_hidden_treasure_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rp2p.peer")
    bot = SimpleNamespace(name="bot-1")
    planted = events.TransferDone("gem", "vault", 4000, 1, planted=True)
    cli._log_event(bot, planted, bot=True, rounds=set())  # type: ignore[arg-type]
    cli._log_event(bot, events.TreasurePlanted(("gem",)), bot=True, rounds=set())  # type: ignore[arg-type]
    said = [record.getMessage() for record in caplog.records]
    assert said == ["bot-1: the host hid fresh treasure with you (others hunt it): gem"], said
