"""The textual messages that carry the trio core's news to the widgets."""

from __future__ import annotations

import time

from textual.message import Message

from reliablep2p.app.commands import Command, Result
from reliablep2p.peer.events import Event


class CoreStarted(Message):
    """The node listens (its port is known); joining the network has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.at = time.monotonic()
        """When (`time.monotonic`): before the host heard from us."""


class CoreEvents(Message):
    """A batch of core events, in the order the node emitted them."""

    def __init__(self, events: tuple[Event, ...]) -> None:
        super().__init__()
        self.events = events


class CommandDone(Message):
    """A command finished; `result` is its answer, as data."""

    def __init__(self, line: str, command: Command, result: Result) -> None:
        super().__init__()
        self.line = line
        self.command = command
        self.result = result


class CommandFailed(Message):
    """A command could not run; `error` is one line for the player, `reason` the same without
    the file it is about (the line typed names it)."""

    def __init__(self, line: str, command: Command, error: str, reason: str = "") -> None:
        super().__init__()
        self.line = line
        self.command = command
        self.error = error
        self.reason = reason or error


class CoreFailed(Message):
    """The trio core stopped with an error; `error` is one line, `details` the whole story."""

    def __init__(self, error: str, details: str) -> None:
        super().__init__()
        self.error = error
        self.details = details


class CoreStopped(Message):
    """The trio core has finished (after `disconnect`, or after an error)."""


class FetchRequested(Message):
    """The player picked a file to get (a catalog row, a hunt target)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
