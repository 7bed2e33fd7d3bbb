"""The command line (`:`): the same commands as `rp2p-peer`, file names completed from the catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

from reliablep2p.app import commands


class CommandSuggester(Suggester):
    """Completes verbs, and file names after `get ` / `secure-get `, from a live catalog."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self.names = names

    async def get_suggestion(self, value: str) -> str | None:
        return suggest(value, self.names())


def suggest(value: str, names: Iterable[str]) -> str | None:
    """The completion of `value`, or None (pure, for tests)."""
    if not value:
        return None
    verb, space, rest = value.partition(" ")
    if not space:
        return next((v for v in commands.VERBS if v.startswith(verb.lower()) and v != verb), None)
    if verb in ("get", "secure-get"):
        for name in sorted(names):
            if name.lower().startswith(rest.lower()) and name != rest:
                return f"{verb} {name}"
    return None


def take_focus_now(line: Input) -> None:
    """Focus `line` before the next key is handled. `focus()` takes effect only after the
    messages already queued: keys typed in one go after `/` or `:` were the board's keys."""
    line.screen.set_focus(line)


class CommandLine(Input):
    """Hidden until `:`; Enter runs the line, Escape hides it, Tab accepts the completion."""

    BINDINGS = [
        Binding("escape", "close", "Close", show=True),
        Binding("tab", "complete", "Complete", show=True),
    ]

    class Closed(Message):
        """The command line is hidden again: the board should have the focus back."""

    def __init__(self, names: Callable[[], Iterable[str]], id: str | None = None) -> None:
        super().__init__(
            placeholder="command: get NAME · secure-get NAME PORT · list · peers · help",
            suggester=CommandSuggester(names),
            id=id,
        )
        self.history: list[str] = []

    def open(self, text: str = "") -> None:
        """Show the line, holding `text` (a typed line to put right) with the cursor after it."""
        self.display = True
        if text:
            self.value = text
            self.cursor_position = len(text)
        take_focus_now(self)

    def action_close(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Closed())

    def action_complete(self) -> None:
        """Accept the completion shown (what → at the end of the line does)."""
        self.cursor_position = len(self.value)
        self.action_cursor_right()
