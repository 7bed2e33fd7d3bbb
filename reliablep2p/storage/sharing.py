"""Who shared which catalog file, and the files the host removed: the SQL of both.

`shared` keeps (player, name) for every catalog file a player published (the first publisher
and every later one), so `rp2p-peer restore` can bring back what a player shared. `removed`
keeps the content the host took out with `rp2p-db remove` (under every name it had), so a
player's later publish of the same bytes, under any name, is refused (the names are free for
other content).
"""

from __future__ import annotations

import contextlib
import time

from ..proto import FileInfo
from .sqltypes import Sql, unpack_chunks


class SharingRecords:
    """Mixed into `SqlMetadata`, which gives `_transaction`."""

    def _transaction(self, *, exclusive: bool = False) -> contextlib.AbstractContextManager[Sql]:
        raise NotImplementedError

    def record_shared(self, player: str, names: list[str]) -> None:
        """`player` published these catalog files (kept once each)."""
        if not names:
            return
        with self._transaction() as db:
            for name in names:
                db.execute(
                    "INSERT INTO shared (player, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (player, name),
                )

    def sharers(self, name: str) -> set[str]:
        """Every player who published catalog file `name` (none for treasure the host made)."""
        with self._transaction() as db:
            rows = db.execute("SELECT player FROM shared WHERE name = ?", (name,)).fetchall()
        return {player for (player,) in rows}

    def shared_by(self, player: str) -> list[FileInfo]:
        """The catalog files `player` ever published, oldest first."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT c.name, c.size, c.hash, c.chunks FROM catalog c"
                " JOIN shared s ON s.name = c.name WHERE s.player = ?"
                " ORDER BY c.added_at, c.name",
                (player,),
            ).fetchall()
        return [
            FileInfo(name=name, size=size, hash=bytes(digest), chunks=unpack_chunks(chunks))
            for name, size, digest, chunks in rows
        ]

    def remove_file(self, name: str) -> list[FileInfo]:
        """Take `name` out of the catalog and the records, with every other name for the same
        content, and remember that content as removed. Returns the entries taken out (none:
        `name` is not cataloged); the caller deletes their blob from the vault."""
        with self._transaction() as db:
            row = db.execute("SELECT hash FROM catalog WHERE name = ?", (name,)).fetchone()
            if row is None:
                return []
            digest = bytes(row[0])
            rows = db.execute(
                "SELECT name, size, hash, chunks FROM catalog WHERE hash = ? ORDER BY name",
                (digest,),
            ).fetchall()
            gone = [FileInfo(n, size, bytes(d), unpack_chunks(c)) for n, size, d, c in rows]
            for info in gone:
                for table in ("catalog", "shared", "treasure"):
                    db.execute(f"DELETE FROM {table} WHERE name = ?", (info.name,))
            db.execute("DELETE FROM holdings WHERE hash = ?", (digest,))
            db.execute(
                "INSERT INTO removed (hash, name, removed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (hash) DO UPDATE SET name = excluded.name,"
                " removed_at = excluded.removed_at",
                (digest, name, time.time()),
            )
        return gone

    def removed_hashes(self) -> set[bytes]:
        """The content the host removed: refused when published again."""
        with self._transaction() as db:
            return {bytes(digest) for (digest,) in db.execute("SELECT hash FROM removed")}
