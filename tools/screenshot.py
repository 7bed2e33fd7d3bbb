"""Regenerate docs/screenshot.svg: `rp2p-tui` at 160x45 during a round, as the README shows it.

A database peer and three players run on loopback (the TUI tests' background network); the
player on screen finds one of its targets and is fetching a big file from a seeder that uploads
slowly, so players, the hunt, a transfer in progress, the catalog, the map and the feed all
have something to show. From a checkout:

    PYTHONPATH=. .venv/bin/python tools/screenshot.py [OUT.svg]
"""

from __future__ import annotations

import asyncio
import functools
import sys
import tempfile
from pathlib import Path

from reliablep2p.game.settings import GameSettings
from tests.conftest import random_bytes
from tests.tui.conftest import BackgroundNetwork, shown_text, wait_until
from tests.tui.test_app import type_command
from tui.app import GameApp

SIZE = (160, 45)
BIG = "dragon-hoard.bin"


async def shoot(net: BackgroundNetwork) -> str:
    """The screen as SVG, once the round, a find and the transfer are on it."""
    await net.peer({"ancient-map.txt": b"x" * 7000, "ocean.png": random_bytes(36_000, seed=2)})
    slow = functools.partial(net.net.peer, max_upload=1_500_000)  # a transfer to watch
    await net.acall(slow, {BIG: random_bytes(12_000_000, seed=1)})
    await net.peer({"sea-shanty.ogg": random_bytes(90_000, seed=3), "compass.svg": b"N" * 900})
    player = net.player("me")
    app = GameApp(player)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: player.round is not None, timeout=30, what="a round")
        assert player.round is not None
        small = [t for t in player.round.targets if t != BIG and t in player.catalog]
        await type_command(pilot, f"get {small[0]}")
        await wait_until(lambda: player.round is not None and player.round.finds, what="a find")
        await type_command(pilot, f"get {BIG}")
        await wait_until(lambda: "%" in shown_text(app, "#transfers"), what="the transfer")
        await pilot.pause(1.0)  # a rate and an ETA measured
        return app.export_screenshot(title="rp2p-tui")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.svg")
    with tempfile.TemporaryDirectory() as root:
        net = BackgroundNetwork(Path(root)).start(
            min_players=2,
            lobby_seconds=0,
            settings=GameSettings(300, 600, targets=4, treasure=1),  # type: ignore[arg-type]
        )
        try:
            svg = asyncio.run(shoot(net))
        finally:
            net.close()
    out.write_text(svg)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
