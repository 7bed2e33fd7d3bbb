"""What several database peers on one PostgreSQL share besides the metadata: a bus, a lease,
and the join-code tries.

* The bus is PostgreSQL's LISTEN/NOTIFY: every database peer listens on one channel on a
  connection of its own and hears what each one says, in the order each said it. A payload
  over NOTIFY's 8000-byte limit is kept in the table `bus_payloads`; the notification names
  its row (rows older than a minute are dropped).
* The lease is a session-level advisory lock, held on a connection of its own: PostgreSQL
  lets it go when that connection ends (the process died, or its machine vanished: TCP
  keepalives on both ends notice within seconds).
* The join-code tries (`database/guesses.py`'s waits) are rows of `join_tries`, so a guesser
  gets no more tries by asking several database peers.

Every call blocks (worker threads); `psycopg.OperationalError` means the server cannot be
reached now.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from .postgres import CONNECT_SECONDS, PostgresMetadata

CHANNEL = "rp2p_bus"
MAX_NOTIFY = 7900
"""Payloads longer than this (NOTIFY takes 8000 bytes) go through `bus_payloads`. Each is
numbered: PostgreSQL delivers equal payloads of one transaction once."""
PAYLOAD_SECONDS = 60.0
HOST_LOCK = 0x72703271  # the round host's lease
TRIES_LOCK = 0x72703272  # join-code tries, one transaction at a time
KEEPALIVE: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 2,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    # the server's side too: it lets the lease go once the machine holding it is gone
    "options": "-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3",
}
TABLES = [
    """CREATE TABLE IF NOT EXISTS bus_payloads (
        id BIGSERIAL PRIMARY KEY, body BYTEA NOT NULL, at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS join_tries (
        source TEXT PRIMARY KEY, tries INTEGER NOT NULL, next_try DOUBLE PRECISION NOT NULL)""",
]
"""Passing state only (no data of the network): made when first needed, never migrated."""


def dedicated(url: str) -> psycopg.Connection[Any]:
    """A connection of its own (autocommit, keepalives): the bus's listener, the lease."""
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_SECONDS, **KEEPALIVE)


class ClusterStore:
    """The shared tables, through the metadata store's pool."""

    def __init__(self, metadata: PostgresMetadata) -> None:
        self.metadata = metadata
        self.url = metadata.url
        self._said = itertools.count()

    def prepare(self) -> None:
        with self.metadata.transaction(exclusive=True) as db:
            for statement in TABLES:
                db.execute(statement)

    # ------------------------------------------------------------------------ the bus

    def publish(self, *bodies: bytes) -> None:
        """Say `bodies`, in order, to every database peer listening (itself included): one
        transaction, so they are heard together, at its commit."""
        with self.metadata.transaction() as db:
            for body in bodies:
                text = base64.b64encode(body).decode()
                number = next(self._said)  # PostgreSQL folds equal payloads of a transaction
                if len(text) > MAX_NOTIFY:
                    now = time.time()
                    db.execute("DELETE FROM bus_payloads WHERE at < ?", (now - PAYLOAD_SECONDS,))
                    row = db.execute(
                        "INSERT INTO bus_payloads (body, at) VALUES (?, ?) RETURNING id",
                        (body, now),
                    ).fetchone()
                    text = f"#{row[0]}"
                db.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{number} {text}"))

    def listen(self, deliver: Callable[[bytes], None], stop: threading.Event) -> None:
        """Hear the bus until `stop` is set (raises `psycopg.OperationalError` if the
        connection is lost: what was said meanwhile was missed)."""
        with dedicated(self.url) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            while not stop.is_set():
                # one at a time: the connection is busy while `notifies` waits, and a large
                # payload's row is read on it after
                notes = [n.payload for n in connection.notifies(timeout=0.5, stop_after=1)]
                for payload in notes:
                    body = _body(connection, payload)
                    if body is not None:
                        deliver(body)

    # ---------------------------------------------------------------------- join tries

    def try_join(self, source: str, now: float, wait_after: Callable[[int], float],
                 forget_after: float) -> float:  # fmt: skip
        """Count a try from `source` and return 0, or the seconds it must still wait."""
        with self.metadata.transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (TRIES_LOCK,))
            db.execute("DELETE FROM join_tries WHERE next_try < ?", (now - forget_after,))
            row = db.execute(
                "SELECT tries, next_try FROM join_tries WHERE source = ?", (source,)
            ).fetchone()
            if row is not None and now < row[1]:
                return float(row[1] - now)
            tries = row[0] + 1 if row else 1
            db.execute(
                "INSERT INTO join_tries (source, tries, next_try) VALUES (?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET tries = excluded.tries,"
                " next_try = excluded.next_try",
                (source, tries, now + wait_after(tries)),
            )
        return 0.0

    def forget_tries(self, source: str) -> None:
        with self.metadata.transaction() as db:
            db.execute("DELETE FROM join_tries WHERE source = ?", (source,))


def _body(connection: psycopg.Connection[Any], payload: str) -> bytes | None:
    """The body a notification's payload (`NUMBER TEXT`) carries, or names."""
    payload = payload.partition(" ")[2]
    if not payload.startswith("#"):
        return base64.b64decode(payload)
    row = connection.execute(
        "SELECT body FROM bus_payloads WHERE id = %s", (int(payload[1:]),)
    ).fetchone()
    return bytes(row[0]) if row else None  # dropped already: too old to matter


class HostLease:
    """The round host's lease: an advisory lock on a connection of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: psycopg.Connection[Any] | None = None

    def try_take(self) -> bool:
        """Take the lease if nobody holds it (raises `psycopg.OperationalError`)."""
        if self._connection is None or self._connection.closed:
            self._connection = dedicated(self.url)
        row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (HOST_LOCK,)).fetchone()
        return bool(row and row[0])

    def still_held(self) -> bool:
        """False once the lease's connection is gone (then PostgreSQL has let it go)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the lock goes with its session
            self._connection = None
