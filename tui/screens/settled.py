"""A screen that pops up by itself acts only on keys pressed once it was there to be read.

The end of a round opens while a player may be typing (a search, a command): keys typed before
it was shown, or in the moment after, are the rest of those words, not answers to it. They are
dropped (their events carry the time they were read), so an `r` or `q` of a search term
neither says ready nor closes the screen unseen.
"""

from __future__ import annotations

from textual import events
from textual.screen import ModalScreen


class SettledModal(ModalScreen[None]):
    """A modal screen that ignores keys pressed before, or just after, it was shown."""

    SETTLE_SECONDS = 0.4
    """How long after it is shown keys are still taken for typing that went on."""

    def __init__(self, *, asked: bool = False) -> None:
        super().__init__()
        self.shown_at = float("inf")
        """When it was shown (textual's clock, as the key events' `time`)."""
        self.settle_seconds = 0.0 if asked else self.SETTLE_SECONDS
        """Nothing for a screen the player asked for: its keys are meant for it."""

    def settled(self, now: float) -> bool:
        """True once keys pressed at `now` are answers to this screen."""
        return now >= self.shown_at + self.settle_seconds

    def on_mount(self, event: events.Mount) -> None:
        self.shown_at = event.time  # the clock the key events are stamped with

    def on_key(self, event: events.Key) -> None:
        if not self.settled(event.time):
            event.stop()
            event.prevent_default()
