"""A player who comes (or comes back) in the middle of a round is told the round is on and what
was found so far, not that it started now with every earlier find as fresh news."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from reliablep2p.proto import Lobby, RoundState
from tests.conftest import random_bytes
from tui.app import GameApp
from tui.news import RoundNews
from tui.screens.round_over import RoundOverScreen
from tui.widgets.feed import Feed

from .conftest import BackgroundNetwork, wait_until


def feed_lines(app: GameApp) -> list[str]:
    """The feed's lines, without their clock."""
    return [entry.plain.split(" ", 1)[1] for entry in app.query_one(Feed).entries]


async def start_round_with(app: GameApp, net: BackgroundNetwork) -> None:
    """Once `app` has joined, a second player comes: the round starts."""
    await wait_until(lambda: app.connection == "joined", what="joined")
    await net.peer({"map.txt": b"m" * 70})


def test_joining_mid_round_says_the_round_is_on_and_the_finds_so_far(
    hunt_network: BackgroundNetwork,
) -> None:
    net = hunt_network

    async def scenario() -> None:
        seeder = await net.peer({"map.txt": b"m" * 70, "ocean.png": random_bytes(3600)})
        hunter = await net.peer({"riddle.txt": b"r" * 50})
        await wait_until(lambda: hunter.round is not None, what="the round")
        target = next(t for t in hunter.round.targets if seeder.view.file_source(t))  # type: ignore[union-attr]
        await net.acall(hunter.get, target)
        await wait_until(lambda: any(f.target == target for f in hunter.round.finds),  # type: ignore[union-attr]
                         what="the hunter's find")  # fmt: skip

        app = GameApp(net.player("me"))
        async with app.run_test(size=(120, 40)):
            await wait_until(lambda: any("round 1" in line for line in feed_lines(app)),
                             what="news of the round")  # fmt: skip
            lines = feed_lines(app)
            said = [line for line in lines if line.startswith("round 1")]
            assert len(said) == 1 and said[0].startswith("round 1 is on ("), lines
            assert " left): find " in said[0], said[0]
            so_far = [line for line in lines if line.startswith("so far this round: ")]
            assert len(so_far) == 1 and f"{target} by {hunter.name} +" in so_far[0], lines
            assert not any(line.startswith("★") for line in lines), lines  # no news of now

    asyncio.run(scenario())


def test_a_round_that_starts_while_the_player_waits_in_the_lobby_started(
    hunt_network: BackgroundNetwork,
) -> None:
    net = hunt_network

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(120, 40)):
            await start_round_with(app, net)
            await wait_until(lambda: any("round 1" in line for line in feed_lines(app)),
                             what="news of the round")  # fmt: skip
            said = [line for line in feed_lines(app) if line.startswith("round 1")]
            assert len(said) == 1 and said[0].startswith("round 1 started ("), said

    asyncio.run(scenario())


def test_the_end_of_a_round_comes_before_the_countdown_to_the_next(tmp_path: Path) -> None:
    """The host tells the next round's countdown just before the end of the round: the feed
    read "the countdown to the next round is on", then "round 1 is over"."""
    net = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, round_seconds=1.5, pause_seconds=600
    )

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        async with app.run_test(size=(120, 40)):
            await wait_until(lambda: app.connection == "joined", what="joined")
            await net.peer({"map.txt": b"m" * 70})

            def told() -> list[str]:
                """After the round's start (a countdown to it may come before it)."""
                lines = feed_lines(app)
                start = next((i for i, ln in enumerate(lines) if ln.startswith("round 1 st")), None)
                return [] if start is None else [
                    line for line in lines[start:]
                    if line.startswith(("round 1 is over", "the countdown"))
                ]  # fmt: skip

            try:
                await wait_until(lambda: len(told()) == 2, what="the round's end and the countdown")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the feed: {feed_lines(app)}") from None
            assert told()[0].startswith("round 1 is over"), told()

    try:
        asyncio.run(scenario())
    finally:
        net.close()


def test_joining_between_rounds_tells_only_the_end_of_the_last(tmp_path: Path) -> None:
    """The feed said "round 1 started (0:00): find ...", then "round 1 is over", and the
    round's result came up over the board for a player who had not seen it."""
    net = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, round_seconds=1.5, pause_seconds=600
    )

    async def scenario() -> None:
        first = await net.peer({"map.txt": b"m" * 70})
        await net.peer({"riddle.txt": b"r" * 50})
        await wait_until(lambda: first.round is not None and first.round.over, what="round 1")
        app = GameApp(net.player("me"))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(lambda: any("round 1" in line for line in feed_lines(app)),
                             what="news of the round")  # fmt: skip
            said = [line for line in feed_lines(app) if line.startswith("round 1")]
            assert len(said) == 1 and said[0].startswith("round 1 is over: "), feed_lines(app)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, RoundOverScreen)  # nobody here watched it end
            await pilot.press("s")  # it is there when asked for
            await wait_until(lambda: isinstance(app.screen, RoundOverScreen), what="its result")

    try:
        asyncio.run(scenario())
    finally:
        net.close()


def told_first(seconds_left: float, joining_for: float) -> str:
    """What the feed says of a round heard of with no lobby of waiting before it: the host's
    first push after our join told the round running (as when a second player came within
    the push's 50 ms), `joining_for` seconds after we began to join."""
    news = RoundNews("me", joining_since=time.monotonic() - joining_for)
    assert news.lobby(Lobby(round_seconds=300)) == []  # the lobby while a round runs
    lines, _ = news.round(RoundState(1, ["a.bin"], seconds_left, finds=[]))
    return lines[0][0]


def test_a_round_that_began_after_we_began_to_join_started_though_no_lobby_came_first() -> None:
    assert told_first(seconds_left=299.9, joining_for=0.5).startswith("round 1 started (")


def test_a_round_that_ran_before_we_began_to_join_is_on() -> None:
    assert told_first(seconds_left=299.0, joining_for=0.5).startswith("round 1 is on (")
