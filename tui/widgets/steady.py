"""Repaint only what changed: textual repaints a widget on every `update` or border title, even
an identical one, and `Static.update` lays out the whole screen again. The clocks ask every
second and the players' updates several times a second, mostly for what is already shown."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from rich.console import RenderableType
from rich.text import Text
from textual.widgets import Static


def text_key(parts: Iterable[Text]) -> Hashable:
    """What a few lines of text look like, to compare: `Text ==` ignores each one's own style."""
    return tuple((part.plain, tuple(part.spans), str(part.style)) for part in parts)


class SteadyStatic(Static):
    """A Static whose size the layout sets (a grid cell, a docked line), so its content never
    needs a layout; `paint` and `subtitle` repaint only what differs from what is shown."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._shown: Hashable = None
        self._subtitle: str | None = None

    def paint(self, key: Hashable, content: RenderableType) -> None:
        """Show `content`, which `key` describes (with the width, if the content depends on
        it), unless it is on screen already."""
        if key != self._shown:
            self._shown = key
            self.update(content, layout=False)

    def subtitle(self, text: str) -> None:
        if text != self._subtitle:
            self._subtitle = text
            self.border_subtitle = text
