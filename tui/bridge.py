"""The trio core inside textual: a node runs as a trio *guest* on the app's asyncio loop.

Both worlds share one thread, so the rules are few:

* trio → UI: the node's events are collected and posted to the app as one `CoreEvents` message
  per burst (at most every `batch_seconds`), so a fast transfer does not flood the UI;
* UI → trio: `submit()` hands a command over with the trio token; a trio task runs it and
  posts `CommandDone` or `CommandFailed`. UI code never calls trio;
* an error that stops the core is posted as `CoreFailed` (one line plus the traceback), never lost;
* `stop()` says `disconnect` to everyone (`Node.leave()`), cancels the core and waits for the end.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import outcome
import trio
from textual.app import App

from reliablep2p.app import commands
from reliablep2p.peer.events import Event
from reliablep2p.peer.node import Node

from .messages import CommandDone, CommandFailed, CoreEvents, CoreFailed, CoreStarted, CoreStopped

log = logging.getLogger("rp2p.tui")

LEAVE_TIMEOUT = 10.0
"""How long saying goodbye may take before we stop anyway."""


def describe(error: BaseException) -> str:
    """One line for a person: the leaf errors of a (nested) exception group, by kind."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(dict.fromkeys(describe(e) for e in error.exceptions))
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class CoreBridge:
    """Runs `node` in a trio guest run on the running asyncio loop; talks to `app` by messages."""

    def __init__(
        self,
        app: App[Any],
        node: Node,
        *,
        batch_seconds: float = 0.05,
        leave_timeout: float = LEAVE_TIMEOUT,
    ) -> None:
        self.app = app
        self.node = node
        self.batch_seconds = batch_seconds
        self.leave_timeout = leave_timeout
        self.error: BaseException | None = None
        """What stopped the core, if it was an error."""
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._early: list[tuple[str, commands.Command]] = []
        self._send: trio.MemorySendChannel[tuple[str, commands.Command]] | None = None
        self._pending: list[Event] = []
        self._wake: trio.Event | None = None
        self._finished = asyncio.Event()
        self._started = False
        self._leaving = False

    # --------------------------------------------------------------------- the UI side

    def start(self) -> None:
        """Start the guest run; call from inside the app (e.g. `on_mount`)."""
        if self._started:
            raise RuntimeError("the core is already started")
        self._started = True
        loop = asyncio.get_running_loop()
        self.node.subscribe(self._on_event)
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=self._done,
            host_uses_signal_set_wakeup_fd=True,
        )

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def submit(self, line: str, command: commands.Command) -> None:
        """Run a parsed command in the core; the answer comes back as a message."""
        if self.finished or self._leaving:
            self.app.post_message(
                CommandFailed(line, command, "not connected: the core has stopped")
            )
        elif self._token is None or self._send is None:
            self._early.append((line, command))
        else:
            self._token.run_sync_soon(self._send.send_nowait, (line, command))

    async def stop(self) -> None:
        """Disconnect from everyone, stop the core and wait until it has finished."""
        if not self._started:
            return
        if not self.finished and not self._leaving:
            self._leaving = True
            if self._token is not None:
                self._token.run_sync_soon(self._begin_leaving)
            # else: the core has not begun yet; it leaves as soon as it does
        await self._finished.wait()

    # ------------------------------------------------------------------- the trio side

    async def _main(self) -> None:
        self._wake = trio.Event()
        send, receive = trio.open_memory_channel[tuple[str, commands.Command]](float("inf"))
        for item in self._early:
            send.send_nowait(item)
        self._early.clear()
        self._send = send
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            if self._leaving:
                nursery.start_soon(self._leave)
            nursery.start_soon(self._pump)
            await nursery.start(self.node.run)
            self.app.post_message(CoreStarted())
            async with receive:
                async for line, command in receive:
                    nursery.start_soon(self._execute, line, command)

    def _begin_leaving(self) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._leave)

    async def _leave(self) -> None:
        with trio.move_on_after(self.leave_timeout):
            await self.node.leave()
        self.node.stop()
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()

    async def _execute(self, line: str, command: commands.Command) -> None:
        answer: CommandDone | CommandFailed
        try:
            answer = CommandDone(line, command, await commands.execute(self.node, command))
        except commands.CommandError as exc:
            answer = CommandFailed(line, command, str(exc), exc.reason)
        except Exception as exc:  # a bug or a surprise: one line for the player, details in the log
            log.exception("command %r failed", line)
            answer = CommandFailed(line, command, describe(exc))
        self._flush()  # the events the command caused come before its answer
        self.app.post_message(answer)

    def _on_event(self, event: Event) -> None:
        """Called by the node, in trio: collect, and wake the pump for the first of a burst."""
        self._pending.append(event)
        if self._wake is not None:
            self._wake.set()

    async def _pump(self) -> None:
        """Post the collected events as one message per burst."""
        while True:
            assert self._wake is not None
            await self._wake.wait()
            await trio.sleep(self.batch_seconds)
            self._wake = trio.Event()
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = tuple(self._pending), []
            self.app.post_message(CoreEvents(batch))

    def _done(self, result: outcome.Outcome[None]) -> None:
        """The guest run is over (called on the asyncio loop)."""
        self._flush()
        if isinstance(result, outcome.Error):
            self.error = result.error
            details = "".join(traceback.format_exception(result.error))
            log.error("the core stopped: %s", details)
            self.app.post_message(CoreFailed(describe(result.error), details))
        self._finished.set()
        self.app.post_message(CoreStopped())
