"""Address book: our map of file → holders, growing as we search."""

from __future__ import annotations

from .. import model
from .table import SyncedTable


class AddressBookTable(SyncedTable):
    BORDER_TITLE = "Address book"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none")
        self.add_column("file", key="file")
        self.add_column("holders", key="holders")

    def show(self, book: dict[str, tuple[str, ...]]) -> None:
        self.sync({name: [name, model.holders(peers, most=4)] for name, peers in book.items()})
        entries = sum(len(peers) for peers in book.values())
        self.border_subtitle = f"map size {entries}" + ("" if entries else " · grows as you search")
