"""A `DataTable` that is updated row by row instead of rebuilt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


class SyncedTable(DataTable[Cell]):
    """Shows exactly the rows given to `sync`, in their order, touching only what changed.

    The first cell of a row must be unique in the table (it names the row for sorting).
    """

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        existing = {key.value for key in self.rows if key.value is not None}
        for key in existing - rows.keys():
            self.remove_row(key)
        columns = list(self.columns)
        for key, cells in rows.items():
            if key in existing:
                for column, old, new in zip(columns, self.get_row(key), cells, strict=True):
                    if old != new:
                        self.update_cell(key, column, new)
            else:
                self.add_row(*cells, key=key)
        wanted = list(rows)
        if [row.key.value for row in self.ordered_rows] != wanted:
            rank = {str(cells[0]): i for i, cells in enumerate(rows.values())}
            self.sort(key=lambda values: rank.get(str(values[0]), len(rank)))
