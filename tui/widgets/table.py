"""A `DataTable` that is updated row by row instead of rebuilt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


class SyncedTable(DataTable[Cell]):
    """Shows exactly the rows given to `sync`, in their order, touching only what changed.

    The first cell of a row must be unique in the table (it names the row for sorting).
    """

    def __init__(self, *, id: str | None = None, cursor_type: str = "none") -> None:
        super().__init__(id=id, cursor_type=cursor_type, zebra_stripes=False)  # type: ignore[arg-type]
        self._rank: dict[str, int] = {}

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        existing = {key.value for key in self.rows if key.value is not None}
        for key in existing - rows.keys():
            self.remove_row(key)
        columns = list(self.columns)
        added = False
        for key, cells in rows.items():
            if key in existing:
                for column, old, new in zip(columns, self.get_row(key), cells, strict=True):
                    if old != new:
                        # Asking for a width update re-measures the whole column at the next
                        # idle (every row, per cell asked): 100 players' new scores would cost
                        # 30,000 measurements. Ask only when the cell outgrows its column.
                        grow = cell_len(str(new)) > self.columns[column].content_width
                        self.update_cell(key, column, new, update_width=grow)
            else:
                self.add_row(*cells, key=key)
                added = True
        self._rank = {str(cells[0]): i for i, cells in enumerate(rows.values())}
        if [row.key.value for row in self.ordered_rows] != list(rows):
            self._apply_order()
        if added:
            # New rows widen their columns only when the table is next idle; cells drawn
            # before that are cached at the old width. Sorting again redraws them.
            self.call_after_refresh(self._apply_order)

    def _apply_order(self) -> None:
        rank = self._rank
        self.sort(key=lambda values: rank.get(str(values[0]), len(rank)))
