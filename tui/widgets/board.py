"""The board: the grid of panels, in the order that suits the screen's width."""

from __future__ import annotations

from textual import events
from textual.containers import Grid

NARROW = 120
"""Below this width the board has two columns (the app's HORIZONTAL_BREAKPOINTS say the same)."""


class Board(Grid):
    """The panels. Narrow, the catalog comes right after players and hunt to span the width."""

    WIDE_ORDER = ("players", "hunt", "transfers", "catalog", "addressbook", "feed")
    NARROW_ORDER = ("players", "hunt", "catalog", "addressbook", "transfers", "feed")

    def on_resize(self, event: events.Resize) -> None:
        self.order_panels()

    def order_panels(self) -> None:
        order = self.NARROW_ORDER if self.screen.size.width < NARROW else self.WIDE_ORDER
        if [child.id for child in self.children] != list(order):
            for name in reversed(order):
                self.move_child(self.get_child_by_id(name), before=0)
            self.app.refresh_bindings()  # "m Map" only where it does something
