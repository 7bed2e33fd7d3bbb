"""The metadata in PostgreSQL, for groups that outgrow one machine (`rp2p-db --store URL`).

psycopg 3's sync API, called from the database peer's worker threads through a small pool
(psycopg_pool): each transaction takes a connection, checked alive first, so a restarted server
costs nothing but a reconnect. Writes that must not interleave with another database peer's (a
join code's number, a member's name) hold a transaction-scoped advisory lock. A server that
cannot be reached at start stops the database peer with one line (`StoreError`); one that goes
away later fails only the requests that need it (`StoreUnavailable`), until it is back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from .interfaces import CACHE_DIR, StoreError, StoreUnavailable
from .metadata import SqlMetadata, restore_hint, signs_of_use
from .sqltypes import Rows, Sql

log = logging.getLogger("rp2p.store")

POOL_SIZE = 4
CONNECT_SECONDS, WAIT_SECONDS = 5, 10
"""A new connection's limit; how long a request waits for a connection of the pool."""
LOCK_KEY = 0x72703270  # "rp2p": the advisory lock of `exclusive` transactions


def is_postgres_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


class _Qmark:
    """A connection that takes the `?` placeholders the shared SQL is written with."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        return self.connection.execute(sql.replace("?", "%s"), params)


class PostgresMetadata(SqlMetadata):
    """The metadata in one PostgreSQL database (the URL's), in its default schema."""

    DIALECT = {
        "BLOB": "BYTEA",
        "REAL": "DOUBLE PRECISION",
        "NOW": "extract(epoch FROM clock_timestamp())::double precision",
    }

    def __init__(self, url: str, data_dir: Path, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.url = url
        self.data_dir = data_dir
        self.wait_seconds = wait_seconds
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        try:
            parts = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"--store: {url!r} is not a PostgreSQL URL ({exc})") from None
        host, port = parts.get("host", "localhost"), parts.get("port", "5432")
        self._where = f"postgresql://{host}:{port}/{parts.get('dbname', '')}"

    @property
    def where(self) -> str:
        return self._where

    def prepare(self) -> None:
        """Connect, and make the tables in a database that has none yet; a database without
        them beside a data folder in use was lost (dropped, or the wrong one) and is refused."""
        self._connect()
        with self._transaction(exclusive=True) as db:
            if not self._has_table(db, "catalog"):
                if in_use := signs_of_use(self.data_dir, {CACHE_DIR}):
                    raise StoreError(
                        f"the PostgreSQL database {self.where} holds no rp2p catalog, but"
                        f" {self.data_dir} was in use ({in_use}): point --store at the database"
                        f" this network used, or {restore_hint(self.data_dir)}"
                    )
                log.info("%s: making the tables of a new network", self.where)
                self._migrate(db)

    def open(self) -> None:
        self._connect()
        with self._transaction(exclusive=True) as db:  # two peers starting: one migrates
            if not self._has_table(db, "catalog"):
                raise StoreError(
                    f"the PostgreSQL database {self.where} holds no rp2p catalog: is it the"
                    " database peer's (--store)?"
                )
            self._migrate(db)
        self._drop_weak_invites()

    def _connect(self) -> None:
        if self._pool is not None:
            return
        try:  # one connection first: its error says why (refused, no such database, ...)
            psycopg.connect(self.url, connect_timeout=CONNECT_SECONDS).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self.where}: {_one_line(exc)}") from None
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=self.wait_seconds,
            kwargs={"connect_timeout": CONNECT_SECONDS},
            check=ConnectionPool.check_connection,
            name="rp2p-metadata",
            open=False,
        )
        pool.open()
        self._pool = pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextlib.contextmanager
    def _transaction(self, *, exclusive: bool = False) -> Iterator[Sql]:
        if self._pool is None:
            raise RuntimeError("store is not open")
        try:
            with self._pool.connection() as connection:  # commits, or rolls back on an error
                if exclusive:
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                yield _Qmark(connection)
        except psycopg.OperationalError as exc:  # PoolTimeout is one too
            log.warning("%s failed: %s", self.where, exc)
            raise StoreUnavailable(
                f"the metadata database cannot be reached now ({_one_line(exc)})"
            ) from None

    def transaction(self, *, exclusive: bool = False) -> contextlib.AbstractContextManager[Sql]:
        """One transaction, for the tables several database peers share (`pgcluster.py`)."""
        return self._transaction(exclusive=exclusive)

    def _has_table(self, db: Sql, name: str) -> bool:
        row = db.execute("SELECT to_regclass(?)", (name,)).fetchone()
        return row is not None and row[0] is not None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 240 else text[:237] + "..."
