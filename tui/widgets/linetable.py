"""A read-only table drawn line by line exactly as textual's `DataTable` draws one (no cursor),
but keeping what it drew: a row is drawn again only when its cells or its place change, a cell
only when its text is new. `DataTable` throws away every drawn cell on any change, so a
scoreboard push (100 players, every score new) cost ~20 ms of drawing per frame."""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping, Sequence

from rich.cells import cell_len
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region, Size
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
    GIVES_WAY: int | None = None
    """The column cut (to its header's width at least) when the table is wider than the
    widget, so the narrow columns after it stay whole; None: the table scrolls sideways."""
    BINDINGS = [  # DataTable's keys without a cursor: Home and End go sideways
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "first_column", "Home", show=False),
        Binding("end", "last_column", "End", show=False),
    ]
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

    def __init__(self, columns: Sequence[str], *, id: str | None = None) -> None:
        """`columns`: the header's labels (markup)."""
        super().__init__(id=id)
        self.labels = [Text.from_markup(label) for label in columns]
        self.widths = [label.cell_len for label in self.labels]
        """Each column's content width: it grows to its widest cell, never shrinks."""
        self.rows: dict[str, tuple[Cell, ...]] = {}
        self.order: list[str] = []
        self.looks: dict[str, tuple[Hashable, ...]] = {}
        """What each row's cells look like (`Text ==` ignores a text's own style)."""
        self._cells: dict[Hashable, list[Segment]] = {}
        self._lines: dict[Hashable, Strip] = {}
        self._styles: tuple[Style, Style, Color] | None = None

    def action_scroll_top(self) -> None:
        self.action_scroll_home()

    def action_scroll_bottom(self) -> None:
        self.action_scroll_end()

    def action_first_column(self) -> None:
        self.scroll_x = 0

    def action_last_column(self) -> None:
        self.scroll_x = self.max_scroll_x

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
        self._fit()
        self.refresh()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        total = sum(width + 2 * PADDING for width in self.fitted(self.size.width))
        self.virtual_size = Size(total, 1 + len(self.order))

    def fitted(self, room: int) -> list[int]:
        """The columns' widths in `room` cells: the one that gives way cut as needed."""
        widths = list(self.widths)
        over = sum(w + 2 * PADDING for w in widths) - room
        if self.GIVES_WAY is not None and over > 0 and room > 0:
            column = self.GIVES_WAY
            widths[column] = max(self.labels[column].cell_len, widths[column] - over)
        return widths

    # ------------------------------------------------------------------------- drawing

    def render_lines(self, crop: Region) -> list[Strip]:
        """The styles once a frame, not once a line."""
        self._styles = self._current_styles()
        return super().render_lines(crop)

    def _current_styles(self) -> tuple[Style, Style, Color]:
        """The table's style, its header's, and the background its last column fades into."""
        header = self.get_component_styles("datatable--header").rich_style
        return self.rich_style, header, self.background_colors[1]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        styles = self._styles or self._current_styles()
        cells: Sequence[Cell]
        if y == 0:
            index, cells, looks = -1, self.labels, None
        else:
            index = y - 1 + scroll_y
            if index >= len(self.order):
                return Strip.blank(width, styles[0])
            cells, looks = self.rows[self.order[index]], self.looks[self.order[index]]
        widths = self.fitted(width)
        key = (index, looks, tuple(widths), width, scroll_x, styles)
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw_line(index, cells, widths, width, scroll_x, styles)
            self._lines[key] = strip
            _trim(self._lines)
        return strip

    def _draw_line(
        self, index: int, cells: Sequence[Cell], widths: Sequence[int], width: int,
        scroll_x: int, styles: tuple[Style, Style, Color],
    ) -> Strip:  # fmt: skip
        """One line as `DataTable` draws it: the cells (each with its place as meta, for the
        mouse), then the rest of the width in the row's colours, faded."""
        base, header, background = styles
        row_style = header if index == -1 else base
        segments: list[Segment] = []
        for column, cell in enumerate(cells):
            meta = Style.from_meta({"row": index, "column": column})
            drawn = self._draw_cell(cell, widths[column] + 2 * PADDING, row_style)
            segments.extend(Segment.apply_style(drawn, meta))
        table_width = sum(w + 2 * PADDING for w in widths)
        extend = _extend_style(row_style, background) + Style.from_meta(
            {"row": index, "column": 0, "out_of_bounds": True}
        )
        segments.append(Segment(" " * max(0, width - table_width), extend))
        strip = Strip(list(Segment.simplify(segments)))
        if scroll_x or strip.cell_length > width:
            strip = strip.crop(scroll_x, scroll_x + width)
        if strip.cell_length != width:
            strip = strip.adjust_cell_length(width, base).simplify()
        return strip

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


@functools.lru_cache(maxsize=64)
def _extend_style(row_style: Style, background: Color) -> Style:
    if row_style.bgcolor is None:
        return Style.from_color(row_style.color, row_style.bgcolor)
    faded = Color.from_rich_color(row_style.bgcolor).blend(background, factor=0.25)
    return Style.from_color(color=row_style.color, bgcolor=faded.rich_color)


def _trim(cache: dict[Hashable, Strip] | dict[Hashable, list[Segment]]) -> None:
    if len(cache) > CACHE:
        for key in list(cache)[: CACHE // 2]:
            del cache[key]
