"""The embedded metadata store: SQLite (WAL) in the database peer's data folder.

A database that was emptied or damaged is refused with one line (`StoreError`), never started
empty: that would forget the catalog, the members, the revocations and the scores in silence.
Every transaction is explicit (`BEGIN IMMEDIATE` ... `COMMIT`), schema migrations included.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from .interfaces import StoreError
from .metadata import SqlMetadata, restore_hint, signs_of_use
from .portable import fsync_dir
from .sqltypes import Sql

log = logging.getLogger("rp2p.store")

DB_FILE = "rp2p.sqlite3"
OWN_FILES = {DB_FILE + suffix for suffix in ("", "-wal", "-shm", "-journal", ".new")}
"""The database and what SQLite (or `_create`) keeps beside it."""


class SqliteMetadata(SqlMetadata):
    """The metadata in `rp2p.sqlite3` under the data folder; one connection, one lock."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db_path = data_dir / DB_FILE
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return str(self.db_path)

    def prepare(self) -> None:
        """Make sure there is a database to `open`; call it before anything else writes here.

        A new folder gets a new database, built aside and renamed in, so no crash leaves a
        half-made one. A database missing or empty (0 bytes) in a folder that was in use (files
        in the vault, the network's keys) is refused. An empty file in a folder holding nothing
        else is a first start that died before writing anything (or a network that never held
        anything): nothing can be lost, so it is replaced by a new database, with a warning.
        """
        try:
            size: int | None = self.db_path.stat().st_size
        except FileNotFoundError:
            size = None
        if size:
            return
        if in_use := signs_of_use(self.data_dir, OWN_FILES):
            state = "missing" if size is None else "empty (0 bytes)"
            raise StoreError(
                f"the catalog database {self.db_path} is {state}, but {self.data_dir} was in use"
                f" ({in_use}); {restore_hint(self.data_dir)}"
            )
        if size == 0:
            log.warning("%s was empty and nothing else is in %s: starting a new network",
                        self.db_path, self.data_dir)  # fmt: skip
        self._create()

    def _create(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        new = self.db_path.with_name(DB_FILE + ".new")
        new.unlink(missing_ok=True)
        self._db = sqlite3.connect(new, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._transaction() as db:
                self._migrate(db)
        finally:
            self.close()  # the last connection: the WAL is checkpointed into the file
        with new.open("rb") as made:
            os.fsync(made.fileno())
        os.replace(new, self.db_path)
        fsync_dir(self.data_dir)

    def open(self) -> None:
        """Open the database, check it is whole and bring its schema up to date.

        Only a database `prepare` made sure of is opened; none is created here (so
        `rp2p-db invite` pointed at the wrong folder says so instead of minting a useless code).
        """
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        self._db = db
        try:
            with self._transaction() as tx:
                self._migrate(tx)
        except BaseException:
            self.close()
            raise
        self._drop_weak_invites()

    def _connect(self) -> sqlite3.Connection:
        """A connection to the existing database, checked whole (`quick_check`), or StoreError."""
        path = self.db_path
        if not path.exists():
            raise StoreError(
                f"there is no catalog database {path}: is {self.data_dir} the database peer's"
                " data folder (--data)?"
            )
        uri = f"{path.resolve().as_uri()}?mode=rw"
        try:
            db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the catalog database {path}: {exc}") from None
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorname not in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
                db.close()
                raise StoreError(f"cannot open the catalog database {path}: {exc}") from None
            problems, tables = [str(exc)], set()
        if problems == ["ok"] and "catalog" in tables:
            return db
        db.close()
        if not tables and problems == ["ok"]:
            state = "empty (0 bytes)" if path.stat().st_size == 0 else "not a catalog"
        else:
            state = f"damaged ({problems[0]})"
        raise StoreError(f"the catalog database {path} is {state}; {restore_hint(self.data_dir)}")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextlib.contextmanager
    def _transaction(self, *, exclusive: bool = False) -> Iterator[Sql]:
        """One connection for every thread, so the lock makes the transactions one at a time
        (`exclusive` needs nothing more); IMMEDIATE makes another process wait for its turn."""
        with self._lock:
            if self._db is None:
                raise RuntimeError("store is not open")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield cast(Sql, db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _has_table(self, db: Sql, name: str) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return db.execute(query, (name,)).fetchone() is not None
