"""`tui.bridge`: a node's trio world as a guest on textual's asyncio loop, on its own."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from textual.app import App

from reliablep2p.app import commands, words
from reliablep2p.peer import events
from reliablep2p.peer.node import Node
from tui.bridge import CoreBridge, describe
from tui.messages import (
    CommandDone,
    CommandFailed,
    CoreEvents,
    CoreFailed,
    CoreStarted,
    CoreStopped,
)

from .conftest import BackgroundNetwork, wait_until


class Recorder(App[None]):
    """A bare app that runs a bridge and keeps every message the bridge posts."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.bridge = CoreBridge(self, node)
        self.received: list[Any] = []

    def on_mount(self) -> None:
        self.bridge.start()

    def on_core_started(self, message: CoreStarted) -> None:
        self.received.append(message)

    def on_core_events(self, message: CoreEvents) -> None:
        self.received.extend(message.events)

    def on_command_done(self, message: CommandDone) -> None:
        self.received.append(message)

    def on_command_failed(self, message: CommandFailed) -> None:
        self.received.append(message)

    def on_core_failed(self, message: CoreFailed) -> None:
        self.received.append(message)

    def on_core_stopped(self, message: CoreStopped) -> None:
        self.received.append(message)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.received if isinstance(m, kind)]


def test_bridge_starts_the_node_and_delivers_its_events_as_messages(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        app = Recorder(net.player("me"))
        async with app.run_test():
            await wait_until(lambda: app.of(CoreStarted), what="CoreStarted")
            await wait_until(lambda: app.of(events.Joined), what="Joined")
            other = await net.peer({"hello.txt": b"hi"})
            await wait_until(lambda: app.of(events.PeersChanged), what="PeersChanged")
            assert app.of(events.PeersChanged)[0].joined[0].name == other.name
            await wait_until(lambda: app.of(events.CatalogChanged), what="CatalogChanged")
            await app.bridge.stop()

    asyncio.run(scenario())


def test_bridge_runs_commands_in_trio_and_answers_with_messages(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        node = net.player("me")
        app = Recorder(node)
        async with app.run_test():
            # submitted before the core runs: queued, then run once it does
            app.bridge.submit("peers", commands.Command("peers"))
            await wait_until(lambda: app.of(CommandDone), what="the early command's answer")
            await net.peer({"data.bin": b"x" * 5000})
            await wait_until(lambda: "data.bin" in node.catalog, what="the catalog entry")
            app.bridge.submit("get data.bin", commands.parse("get data.bin"))
            app.bridge.submit("get nothing.txt", commands.parse("get nothing.txt"))
            await wait_until(lambda: len(app.of(CommandDone)) == 2, what="the get's answer")
            await wait_until(lambda: app.of(CommandFailed), what="the failed get's answer")
            done = app.of(CommandDone)[1]
            assert done.line == "get data.bin"
            assert "got data.bin" in words.result_lines(done.result)[0]
            # the transfer's own events arrive before the command's answer
            assert app.received.index(app.of(events.TransferDone)[0]) < app.received.index(done)
            failed = app.of(CommandFailed)[0]
            assert failed.line == "get nothing.txt"
            assert (failed.error, failed.reason) == (  # the reason as data: no cutting it out
                "nothing.txt: not in the catalog",
                "not in the catalog",
            )
            await app.bridge.stop()

    asyncio.run(scenario())


def test_bridge_shows_an_error_that_stops_the_core(tmp_path: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario() -> None:
            node = Node(name="me", port=port, share_dir=tmp_path / "share", database=None)
            app = Recorder(node)
            async with app.run_test():
                await wait_until(lambda: app.of(CoreStopped), what="the core to stop")
                failure = app.of(CoreFailed)[0]
                assert failure.error.startswith("OSError: ")
                assert "\n" not in failure.error and "Traceback" in failure.details
                assert isinstance(app.bridge.error, BaseException)
                app.bridge.submit("list", commands.Command("list"))
                await wait_until(lambda: app.of(CommandFailed), what="the refused command")
                assert "core has stopped" in app.of(CommandFailed)[0].error
                await app.bridge.stop()  # returns at once: nothing left to stop

        asyncio.run(scenario())


def test_bridge_stop_says_disconnect_to_everyone_then_finishes(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def scenario() -> None:
        other = await net.peer()
        app = Recorder(net.player("me"))
        async with app.run_test():
            await wait_until(lambda: any(p.name == "me" for p in other.peers), what="me online")
            await app.bridge.stop()
            assert app.bridge.finished and app.bridge.error is None
            await wait_until(lambda: app.of(CoreStopped), what="CoreStopped")
            assert any(isinstance(e, events.Left) for e in app.received)
            await wait_until(lambda: not any(p.name == "me" for p in other.peers),
                             what="the other player to drop me")  # fmt: skip

    asyncio.run(scenario())


def test_describe_flattens_exception_groups_into_one_line() -> None:
    error = ExceptionGroup(
        "boom", [OSError(98, "Address already in use"), ExceptionGroup("inner", [ValueError("x")])]
    )
    assert describe(error) == "OSError: Address already in use; ValueError: x"
