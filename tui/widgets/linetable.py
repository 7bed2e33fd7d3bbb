"""A read-only table drawn line by line exactly as textual's `DataTable` draws one (no cursor),
but keeping what it drew: a row is drawn again only when its cells or its place change, a cell
only when its text is new. `DataTable` throws away every drawn cell on any change, so a
scoreboard push (100 players, every score new) cost ~20 ms of drawing per frame."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from rich.cells import cell_len
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.geometry import Size
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text
PADDING = 1
"""Blank cells on each side of a cell, as `DataTable.cell_padding`."""
CACHE = 4096
"""Drawn cells and lines kept; past that the oldest half is dropped."""


def _cell_key(cell: Cell) -> Hashable:
    if isinstance(cell, str):
        return cell
    return (cell.plain, tuple(cell.spans), str(cell.style), cell.justify, cell.overflow)


def _text(cell: Cell) -> Text:
    """A cell as `DataTable` shows it: a str is markup."""
    if isinstance(cell, str):
        text = Text.from_markup(cell, end="")
        text.no_wrap = True
        return text
    return cell


class LineTable(ScrollView, can_focus=True):
    """Shows exactly the rows given to `sync`, in their order, under a fixed header."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"datatable--header"}
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
    }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        """`columns`: (key, label) of each column."""
        super().__init__(id=id)
        self.keys = [key for key, _ in columns]
        self.labels = [Text.from_markup(label) for _, label in columns]
        self.widths = [label.cell_len for label in self.labels]
        """Each column's content width: it grows to its widest cell, never shrinks."""
        self.rows: dict[str, tuple[Cell, ...]] = {}
        self.order: list[str] = []
        self.looks: dict[str, tuple[Hashable, ...]] = {}
        """What each row's cells look like (`Text ==` ignores a text's own style)."""
        self._cells: dict[Hashable, list[Segment]] = {}
        self._lines: dict[Hashable, Strip] = {}

    @property
    def row_count(self) -> int:
        return len(self.order)

    def get_row(self, key: str) -> list[Cell]:
        return list(self.rows[key])

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        """Show `rows` (key → cells), in their order; repaint only if anything changed."""
        looks = {key: tuple(_cell_key(cell) for cell in cells) for key, cells in rows.items()}
        if looks == self.looks and list(looks) == self.order:
            return
        for key, cells in rows.items():
            if looks[key] != self.looks.get(key):
                for column, cell in enumerate(cells):
                    self.widths[column] = max(self.widths[column], cell_len(_text(cell).plain))
        self.rows = {key: tuple(cells) for key, cells in rows.items()}
        self.looks, self.order = looks, list(looks)
        total = sum(width + 2 * PADDING for width in self.widths)
        self.virtual_size = Size(total, 1 + len(self.order))
        self.refresh()

    # ------------------------------------------------------------------------- drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        cells: Sequence[Cell]
        if y == 0:
            index, cells, looks = -1, self.labels, None
        else:
            index = y - 1 + scroll_y
            if index >= len(self.order):
                return Strip.blank(width, base)
            cells, looks = self.rows[self.order[index]], self.looks[self.order[index]]
        header = self.get_component_styles("datatable--header").rich_style
        key = (index, looks, tuple(self.widths), width, scroll_x, base, header)
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw_line(index, cells, width, scroll_x, base, header)
            self._lines[key] = strip
            _trim(self._lines)
        return strip

    def _draw_line(
        self, index: int, cells: Sequence[Cell], width: int, scroll_x: int, base: Style,
        header: Style,
    ) -> Strip:  # fmt: skip
        row_style = header if index == -1 else base
        segments: list[Segment] = []
        for column, cell in enumerate(cells):
            meta = Style.from_meta({"row": index, "column": column})
            drawn = self._draw_cell(cell, self.widths[column] + 2 * PADDING, row_style)
            segments.extend(Segment.apply_style(drawn, meta))
        table_width = sum(w + 2 * PADDING for w in self.widths)
        if row_style.bgcolor is not None:
            faded = Color.from_rich_color(row_style.bgcolor).blend(
                self.background_colors[1], factor=0.25
            )
            extend = Style.from_color(color=row_style.color, bgcolor=faded.rich_color)
        else:
            extend = Style.from_color(row_style.color, row_style.bgcolor)
        extend += Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, width - table_width), extend))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.adjust_cell_length(width, base).simplify()

    def _draw_cell(self, cell: Cell, width: int, style: Style) -> list[Segment]:
        key = (_cell_key(cell), width, style)
        drawn = self._cells.get(key)
        if drawn is None:
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            lines = self.app.console.render_lines(
                Styled(Padding(_text(cell), (0, PADDING)), pre_style=style,
                       post_style=Style.null()),
                options,
            )  # fmt: skip
            drawn = self._cells[key] = lines[0]
            _trim(self._cells)
        return drawn


def _trim(cache: dict[Hashable, Strip] | dict[Hashable, list[Segment]]) -> None:
    if len(cache) > CACHE:
        for key in list(cache)[: CACHE // 2]:
            del cache[key]
