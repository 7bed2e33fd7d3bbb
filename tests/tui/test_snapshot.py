"""Snapshots of the main screen, as SVG, at the smallest supported size and at a roomy one.

What changes from run to run (clock times, ports, the SVG's content-derived ids) is masked; the
rest must match the stored file exactly. After an intended change of the screen, look at the new
SVG and store it: `RP2P_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshot.py`.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import random_bytes
from tui.app import GameApp
from tui.widgets.catalog import CatalogTable
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, check_snapshot, mask, wait_until


def test_mask_hides_what_changes_between_runs_only() -> None:
    svg = 'class="terminal-123-r1">12:03:04&#160;listening&#160;on&#160;port&#160;40123;'
    assert (
        mask(svg) == 'class="terminal-ID-r1">00:00:00&#160;listening&#160;on&#160;port&#160;PORT;'
    )
    assert mask("score&#160;15") == "score&#160;15"
    assert mask("round&#160;2&#160;in&#160;9:59") == "round&#160;2&#160;in&#160;M:SS"
    assert mask("1&#160;·&#160;4:59&#160;left") == "1&#160;·&#160;M:SS&#160;left"
    assert mask('in&#160;</text><text class="r6">9:58</text>') == (
        'in&#160;</text><text class="r6">M:SS</text>'
    )


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_main_screen_matches_the_snapshot(
    background_network: BackgroundNetwork, size: tuple[int, int]
) -> None:
    net = background_network

    async def scenario() -> None:
        await net.peer({"ancient-map.txt": b"x" * 70, "ocean.png": random_bytes(3600)})
        await net.peer({"dragon-hoard.bin": random_bytes(200_000, seed=1)})
        app = GameApp(net.player("me"))
        async with app.run_test(size=size):
            await wait_until(lambda: app.connection == "joined", what="joined")
            await wait_until(lambda: app.query_one(PlayersTable).row_count == 4, what="players")
            await wait_until(lambda: app.query_one(CatalogTable).row_count == 3, what="catalog")
            await check_snapshot(f"main-{size[0]}x{size[1]}.svg", app)

    asyncio.run(scenario())
