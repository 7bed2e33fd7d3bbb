"""Snapshots of the main screen, as SVG, at the smallest supported size and at a roomy one.

What changes from run to run (clock times, ports, the SVG's content-derived ids) is masked; the
rest must match the stored file exactly. After an intended change of the screen, look at the new
SVG and store it: `RP2P_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshot.py`.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from tests.conftest import random_bytes
from tui.app import GameApp
from tui.widgets.catalog import CatalogTable
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, wait_until

SNAPSHOTS = Path(__file__).parent / "snapshots"
MASKS = [
    (re.compile(r"\d\d:\d\d:\d\d"), "00:00:00"),  # the feed's clock
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"port&#160;\d+"), "port&#160;PORT"),
    (re.compile(r"terminal-\d+"), "terminal-ID"),  # rich derives it from the content
]


def mask(svg: str) -> str:
    for pattern, replacement in MASKS:
        svg = pattern.sub(replacement, svg)
    return svg


def check_snapshot(name: str, svg: str) -> None:
    stored = SNAPSHOTS / name
    actual = mask(svg)
    if os.environ.get("RP2P_UPDATE_SNAPSHOTS"):
        stored.parent.mkdir(exist_ok=True)
        stored.write_text(actual)
        return
    if not stored.exists():
        pytest.fail(f"no stored snapshot {stored}; make it with RP2P_UPDATE_SNAPSHOTS=1")
    if stored.read_text() != actual:
        new = stored.with_suffix(".actual.svg")
        new.write_text(actual)
        pytest.fail(f"the screen differs from {stored.name}; compare it with {new}")


def test_mask_hides_what_changes_between_runs_only() -> None:
    svg = 'class="terminal-123-r1">12:03:04&#160;listening&#160;on&#160;port&#160;40123;'
    assert (
        mask(svg) == 'class="terminal-ID-r1">00:00:00&#160;listening&#160;on&#160;port&#160;PORT;'
    )
    assert mask("score&#160;15") == "score&#160;15"


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_main_screen_matches_the_snapshot(
    background_network: BackgroundNetwork, size: tuple[int, int]
) -> None:
    net = background_network

    async def scenario() -> None:
        await net.peer({"ancient-map.txt": b"x" * 70, "ocean.png": random_bytes(3600)})
        await net.peer({"dragon-hoard.bin": random_bytes(200_000, seed=1)})
        app = GameApp(net.player("me"))
        async with app.run_test(size=size) as pilot:
            await wait_until(lambda: app.connection == "joined", what="joined")
            await wait_until(lambda: app.query_one(PlayersTable).row_count == 4, what="players")
            await wait_until(lambda: app.query_one(CatalogTable).row_count == 3, what="catalog")
            await pilot.pause(0.2)
            check_snapshot(f"main-{size[0]}x{size[1]}.svg", app.export_screenshot())

    asyncio.run(scenario())
