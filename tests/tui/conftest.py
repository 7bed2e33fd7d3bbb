"""Helpers for the TUI tests.

The TUI tests are plain sync tests that run the app with `asyncio.run` (the app's node is a trio
guest on textual's loop). The rest of the network — a database peer and other players — runs in
a trio run of its own in a background thread, built with the same `Network` helper as the core
tests, and talks to the app's node over loopback as separate processes would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
from textual.app import App
from textual.css.query import NoMatches

from reliablep2p.peer.node import Node
from tests.conftest import Network
from tui.app import GameApp

T = TypeVar("T")

QUIET_DB = {"min_players": 99}
"""Database peer options for tests that want no rounds."""


class BackgroundNetwork:
    """A `Network` (database peer + peers) running in its own trio run in a thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.net: Network
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, **db_options: float) -> BackgroundNetwork:
        self._thread = threading.Thread(target=self._run, args=(db_options,), daemon=True)
        self._thread.start()
        if not self._started.wait(20):
            raise AssertionError("the background network did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self, db_options: dict[str, float]) -> None:
        try:
            trio.run(self._main, db_options)
        except BaseException as exc:
            self._error = exc
            self._started.set()

    async def _main(self, db_options: dict[str, float]) -> None:
        async with trio.open_nursery() as nursery:
            self._cancel = nursery.cancel_scope
            self.net = Network(nursery, self.root)
            await self.net.start_db(**db_options)
            self._token = trio.lowlevel.current_trio_token()
            self._started.set()
            await trio.sleep_forever()

    @property
    def db_port(self) -> int:
        return self.net.db.port

    def call(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run an async function in the network's trio run (from a plain thread)."""
        return trio.from_thread.run(function, *args, trio_token=self._token)

    def call_sync(self, function: Callable[..., T], *args: Any) -> T:
        return trio.from_thread.run_sync(function, *args, trio_token=self._token)

    async def acall(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`call`, from asyncio code (the app's loop keeps running meanwhile)."""
        return await asyncio.to_thread(self.call, function, *args)

    async def peer(self, files: dict[str, bytes] | None = None) -> Node:
        return await self.acall(self.net.peer, files)

    def player(self, name: str = "me", port: int = 0) -> Node:
        """The node for the app: not started (the app runs it), with a certificate."""
        share = self.root / f"share-{name}"
        share.mkdir(parents=True, exist_ok=True)
        return Node(
            name=name,
            identity=self.call_sync(self.net.identity, name),
            port=port,
            share_dir=share,
            database=("127.0.0.1", self.db_port),
            rescan_interval=0.2,
            rng=random.Random(7),
        )

    def close(self) -> None:
        if self._token is not None and self._cancel is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._cancel.cancel, trio_token=self._token)
        if self._thread is not None:
            self._thread.join(20)


@pytest.fixture
def background_network(tmp_path: Path) -> Iterator[BackgroundNetwork]:
    network = BackgroundNetwork(tmp_path).start(**QUIET_DB)
    try:
        yield network
    finally:
        network.close()


@pytest.fixture
def hunt_network(tmp_path: Path) -> Iterator[BackgroundNetwork]:
    """A network whose host starts a round as soon as two players are online."""
    network = BackgroundNetwork(tmp_path).start(
        min_players=2, lobby_seconds=0, round_seconds=300, pause_seconds=600
    )
    try:
        yield network
    finally:
        network.close()


def recording_feed(app: GameApp) -> list[str]:
    """Every line the app puts in its feed, as it is put there (the widget wraps them)."""
    fed: list[str] = []
    shown = app.feed

    def feed(text: str, kind: str = "info") -> None:
        fed.append(text)
        shown(text, kind)

    app.feed = feed  # type: ignore[method-assign]
    return fed


async def wait_until(
    predicate: Callable[[], object], timeout: float = 15.0, what: str = "the condition"
) -> None:
    """Wait (letting the app and its trio guest run) until `predicate()` is true; a widget it
    looks at that is not mounted yet (`NoMatches`, a screen just pushed) is "not yet"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _holds(predicate):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def _holds(predicate: Callable[[], object]) -> bool:
    try:
        return bool(predicate())
    except NoMatches:
        return False


def screen_text(app: GameApp, selector: str) -> str:
    """The text a widget shows now (its last rendered lines, joined)."""
    widget = app.screen.query_one(selector)
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


def shown_text(app: GameApp, selector: str) -> str:
    """What the screen shows where a widget is, children included (a container's own lines
    hold only its border)."""
    region = app.screen.query_one(selector).region
    strips = app.screen._compositor.render_strips()
    return "\n".join(
        strip.crop(region.x, region.right).text for strip in strips[region.y : region.bottom]
    )


# ------------------------------------------------------------------------ snapshots

SNAPSHOTS = Path(__file__).parent / "snapshots"
MASKS = [
    (re.compile(r"\d\d:\d\d:\d\d"), "00:00:00"),  # the feed's clock
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"port&#160;\d+"), "port&#160;PORT"),
    (re.compile(r"terminal-\d+"), "terminal-ID"),  # rich derives it from the content
    (re.compile(r"in&#160;\d+:\d\d"), "in&#160;M:SS"),  # the countdown to the next round
    (re.compile(r"\d+:\d\d&#160;left"), "M:SS&#160;left"),  # a round's time left
    (re.compile(r">\d+:\d\d<"), ">M:SS<"),  # a clock in a style of its own
]


def mask(svg: str) -> str:
    for pattern, replacement in MASKS:
        svg = pattern.sub(replacement, svg)
    return svg


async def check_snapshot(name: str, app: App[Any], timeout: float = 10.0) -> None:
    """The screen matches the stored snapshot `name`: waited for (a loaded machine draws the
    footer or a table's last row late), failing with the last screen beside the stored one."""
    stored = SNAPSHOTS / name
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    actual = mask(app.export_screenshot())
    if os.environ.get("RP2P_UPDATE_SNAPSHOTS"):  # the screen once it stopped changing
        while True:
            await asyncio.sleep(0.2)
            again = mask(app.export_screenshot())
            if again == actual:
                break
            actual = again
        stored.parent.mkdir(exist_ok=True)
        stored.write_text(actual)
        return
    if not stored.exists():
        pytest.fail(f"no stored snapshot {stored}; make it with RP2P_UPDATE_SNAPSHOTS=1")
    expected = stored.read_text()
    while actual != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
        actual = mask(app.export_screenshot())
    if actual != expected:
        new = stored.with_suffix(".actual.svg")
        new.write_text(actual)
        pytest.fail(f"the screen differs from {stored.name}; compare it with {new}")
