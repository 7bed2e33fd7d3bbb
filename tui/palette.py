"""The command palette's own entries (Ctrl+P): the command line, help, quit, "Get FILE" for
every catalog file and a screenshot; textual's other entries follow, without its own quit."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.screen import Screen

from . import screenshot

if TYPE_CHECKING:
    from .app import GameApp


def system_commands(app: GameApp, screen: Screen) -> Iterable[SystemCommand]:
    yield SystemCommand("Command line", "Type a command: get, secure-get, list, peers…",
                        app.action_command_line)  # fmt: skip
    yield SystemCommand("Help", "Keys and commands", app.action_help)
    yield SystemCommand("Quit", "Disconnect from everyone and quit", app.action_quit_now)
    for name in sorted(app.node.catalog):
        yield SystemCommand(f"Get {name}", "fetch it from the network",
                            functools.partial(app.run_line, f"get {name}"))  # fmt: skip
    yield SystemCommand("Screenshot", "Save an SVG of the screen "
                        f"in {screenshot.screenshot_folder()}",
                        app.action_save_screenshot)  # fmt: skip
