"""Catalog: the trusted files, the targets you still need first; Enter on a row gets the file."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from reliablep2p.app.words import counted

from .. import model
from ..messages import FetchRequested
from ..model import CatalogRow
from .table import Cell, SyncedTable


class CatalogTable(SyncedTable):
    BORDER_TITLE = "Catalog"
    BINDINGS = [Binding("enter", "select_cursor", "Get file", show=True)]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.add_column("file", key="file")
        self.add_column("size", key="size")
        self.add_column("have", key="have")
        self.add_column("held by", key="holders")

    def show(self, rows: list[CatalogRow], *, query: str = "", total: int | None = None) -> None:
        """`rows` are those matching `query` (a search), of `total` files."""
        self.sync({row.name: _cells(row) for row in rows})
        have = sum(1 for row in rows if row.have)
        if query:
            self.border_subtitle = f"/{query}: {len(rows)} of {total} files · you have {have}"
        else:
            self.border_subtitle = f"{counted(len(rows), 'file')} · you have {have}"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(FetchRequested(event.row_key.value))


def _cells(row: CatalogRow) -> list[Cell]:
    name = Text(row.name, style="bold yellow" if row.target and not row.have else "")
    if row.target:
        name.append(" ◎", style="yellow")
    return [
        name,
        Text(model.size(row.size), justify="right"),
        Text(" ✓", style="green") if row.have else "",
        model.holders(row.holders, yours=row.have),
    ]
