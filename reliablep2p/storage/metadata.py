"""The metadata's SQL, once for every SQL backend.

`SqliteMetadata` and `PostgresMetadata` differ in how they connect and lock, not in what they
ask: both speak the SQL below (placeholders written `?`, upserts as `ON CONFLICT`). Opening a
store brings its schema up to date first (`schema.MIGRATIONS`).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from ..proto import FileInfo, taken_by
from ..proto.codes import MAX_CODE_HOURS, MAX_NUMBER, is_current, new_join_code
from .gamekeeping import GameKeeping
from .interfaces import StoreError
from .schema import MIGRATIONS
from .sharing import SharingRecords
from .sqltypes import Sql, unpack_chunks
from .startcode import StartCodes

log = logging.getLogger("rp2p.store")

FORGET_DATABASE_PEERS = 24 * 3600.0
"""A database peer not heard of for this long (it never came back) leaves the table."""
KEEP_EXPIRED_ROUNDS = 500
"""Expired treasure is remembered this many rounds, then forgotten."""


class SqlMetadata(SharingRecords, GameKeeping, StartCodes):
    """The metadata's queries; a subclass gives `_transaction` and `_has_table`."""

    DIALECT = {"BLOB": "BLOB", "REAL": "REAL", "NOW": "(julianday('now') - 2440587.5) * 86400.0"}
    """The types of the schema, and the store's own clock in Unix seconds (`NOW`)."""

    @property
    def where(self) -> str:
        raise NotImplementedError

    def _transaction(self, *, exclusive: bool = False) -> contextlib.AbstractContextManager[Sql]:
        """A transaction, committed when the block ends without an error, rolled back if not.
        `exclusive`: no other writer (another thread, another database peer) runs meanwhile."""
        raise NotImplementedError

    def _has_table(self, db: Sql, name: str) -> bool:
        raise NotImplementedError

    # ------------------------------------------------------------------ schema

    def _migrate(self, db: Sql) -> None:
        """Bring the schema to `len(MIGRATIONS)`, each step and its version in `db`'s
        transaction (so a crash leaves the old version whole, never half of a step)."""
        version = self.schema_version(db)
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the metadata in {self.where} has schema version {version}, made by a newer"
                f" rp2p (this one knows up to {len(MIGRATIONS)}): run that version instead"
            )
        for number in range(version, len(MIGRATIONS)):
            for statement in MIGRATIONS[number]:
                db.execute(statement.format(**self.DIALECT))
            db.execute("UPDATE schema_version SET version = ?", (number + 1,))
        if version < len(MIGRATIONS):  # one line, however many steps it took
            was = f" (brought up from schema {version})" if version else ""
            log.info("%s: store at schema %d%s", self.where, len(MIGRATIONS), was)

    def schema_version(self, db: Sql) -> int:
        if not self._has_table(db, "schema_version"):
            return 0
        row = db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _drop_weak_invites(self) -> None:
        """Codes minted before codes had four words of a 2048-word list were guessable."""
        with self._transaction() as db:
            weak = [n for n, code in db.execute("SELECT number, code FROM invites")
                    if not is_current(code)]  # fmt: skip
            for number in weak:
                db.execute("DELETE FROM invites WHERE number = ?", (number,))
        if weak:
            log.warning("dropping %d join codes of the old, short kind", len(weak))

    # ------------------------------------------------------------------ catalog, players

    def catalog(self) -> list[FileInfo]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT name, size, hash, chunks FROM catalog ORDER BY added_at, name"
            ).fetchall()
        return [
            FileInfo(name=name, size=size, hash=bytes(digest), chunks=unpack_chunks(chunks))
            for name, size, digest, chunks in rows
        ]

    def add_file(self, info: FileInfo, publisher: str | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO catalog (name, size, hash, chunks, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET size = excluded.size, hash = excluded.hash,"
                " chunks = excluded.chunks, added_at = excluded.added_at",
                (info.name, info.size, info.hash, b"".join(info.chunks), time.time()),
            )
            if publisher is not None:
                db.execute(
                    "INSERT INTO shared (player, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (publisher, info.name),
                )

    def drop_file(self, name: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM catalog WHERE name = ?", (name,))
            db.execute("DELETE FROM shared WHERE name = ?", (name,))

    def load_players(self) -> dict[str, tuple[int, int, int]]:
        with self._transaction() as db:
            rows = db.execute("SELECT name, score, files_found, wins FROM players").fetchall()
        return {name: (score, found, wins) for name, score, found, wins in rows}

    def save_player(self, name: str, score: int, files_found: int, wins: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO players (name, score, files_found, wins) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET score = excluded.score,"
                " files_found = excluded.files_found, wins = excluded.wins",
                (name, score, files_found, wins),
            )

    def save_running_round(self, state: bytes | None) -> None:
        """Keep the running round (`game/saved.py`'s bytes), or forget it (None: it ended)."""
        with self._transaction() as db:
            if state is None:
                db.execute("DELETE FROM running_round")
            else:
                db.execute(
                    'INSERT INTO running_round ("only", state) VALUES (1, ?)'
                    ' ON CONFLICT ("only") DO UPDATE SET state = excluded.state',
                    (state,),
                )

    def load_running_round(self) -> bytes | None:
        with self._transaction() as db:
            row = db.execute("SELECT state FROM running_round").fetchone()
        return bytes(row[0]) if row else None

    # ------------------------------------------------------------------ invites, members

    def new_invite(self, *, uses: int, seconds: float) -> str:
        """Mint a join code, good for `uses` enrollments within `seconds` (a week at most).

        Wrong guesses never use it up (see `database/guesses.py` for what limits them).
        """
        if seconds > MAX_CODE_HOURS * 3600:
            raise ValueError(f"a join code lives {MAX_CODE_HOURS} hours at most")
        now = time.time()
        with self._transaction(exclusive=True) as db:
            db.execute("DELETE FROM invites WHERE expires_at < ? OR uses_left <= 0", (now,))
            taken = {n for (n,) in db.execute("SELECT number FROM invites")}
            free = [n for n in range(1, MAX_NUMBER + 1) if n not in taken]
            if not free:
                raise RuntimeError(f"{MAX_NUMBER} join codes are live already")
            code = new_join_code(secrets.choice(free))
            db.execute(
                "INSERT INTO invites (number, code, expires_at, uses_left) VALUES (?, ?, ?, ?)",
                (int(code.split("-")[0]), code, now + seconds, uses),
            )
        return code

    def invite_password(self, number: int) -> bytes | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT code FROM invites WHERE number = ? AND expires_at >= ? AND uses_left > 0",
                (number, time.time()),
            ).fetchone()
        return row[0].encode() if row else None

    def enroll_member(self, name: str, number: int) -> str | None:
        with self._transaction(exclusive=True) as db:
            members = [n for (n,) in db.execute("SELECT name FROM members")]
            if (taken := taken_by(name, members)) is not None:
                return taken
            db.execute("INSERT INTO members (name, enrolled_at) VALUES (?, ?)", (name, time.time()))
            db.execute("UPDATE invites SET uses_left = uses_left - 1 WHERE number = ?", (number,))
        return None

    def revoke(self, name: str) -> bool:
        with self._transaction() as db:
            return db.execute("UPDATE members SET revoked = 1 WHERE name = ?", (name,)).rowcount > 0

    def revoked(self) -> set[str]:
        with self._transaction() as db:
            return {n for (n,) in db.execute("SELECT name FROM members WHERE revoked <> 0")}

    # ------------------------------------------------------------------ database peers

    def register_database_peer(self, peer_id: str, addresses: Sequence[tuple[str, int]]) -> None:
        """Database peer `peer_id` is alive and reached at `addresses` (its earlier ones are
        dropped). The time is the store's own, so machines whose clocks differ agree."""
        with self._transaction() as db:
            db.execute("DELETE FROM database_peers WHERE peer_id = ? OR seen_at < {NOW} - ?"
                       .format(**self.DIALECT), (peer_id, FORGET_DATABASE_PEERS))  # fmt: skip
            for host, port in addresses:
                db.execute(
                    "INSERT INTO database_peers (host, port, peer_id, seen_at)"
                    " VALUES (?, ?, ?, {NOW}) ON CONFLICT (host, port) DO UPDATE"
                    " SET peer_id = excluded.peer_id, seen_at = excluded.seen_at"
                    .format(**self.DIALECT),
                    (host, port, peer_id),
                )  # fmt: skip

    def database_peers(self, max_age: float) -> list[tuple[str, int]]:
        """The addresses of the database peers registered within the last `max_age` seconds."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT host, port FROM database_peers WHERE seen_at >= {NOW} - ?"
                " ORDER BY host, port".format(**self.DIALECT),
                (max_age,),
            ).fetchall()
        return [(str(host), int(port)) for host, port in rows]

    def forget_database_peer(self, peer_id: str) -> None:
        """Database peer `peer_id` stops: it is no longer listed."""
        with self._transaction() as db:
            db.execute("DELETE FROM database_peers WHERE peer_id = ?", (peer_id,))

    # ------------------------------------------------------------------ the game

    def load_holdings(self) -> dict[str, dict[bytes, int]]:
        """Player -> content hash -> the round in which the host first saw it hold that."""
        held: dict[str, dict[bytes, int]] = {}
        with self._transaction() as db:
            for player, digest, number in db.execute("SELECT player, hash, round FROM holdings"):
                held.setdefault(player, {})[bytes(digest)] = number
        return held

    def record_holdings(self, rows: list[tuple[str, bytes, int, str]]) -> None:
        """(player, hash, round, how): how = published, vault, found or planted."""
        with self._transaction() as db:
            for row in rows:
                db.execute(
                    "INSERT INTO holdings (player, hash, round, how) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    row,
                )

    def rounds_played(self) -> int:
        with self._transaction() as db:
            row = db.execute("SELECT value FROM game WHERE key = 'rounds'").fetchone()
        return int(row[0]) if row else 0

    def save_rounds(self, number: int) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO game (key, value) VALUES ('rounds', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (number,),
            )

    def add_treasure(self, info: FileInfo, number: int) -> None:
        """Catalog a planted file (its blob is in the vault), remembering its round."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO catalog (name, size, hash, chunks, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET size = excluded.size, hash = excluded.hash,"
                " chunks = excluded.chunks, added_at = excluded.added_at",
                (info.name, info.size, info.hash, b"".join(info.chunks), time.time()),
            )
            db.execute(
                "INSERT INTO treasure (name, hash, round) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, round = excluded.round",
                (info.name, info.hash, number),
            )

    def load_treasure(self) -> dict[str, tuple[bytes, int]]:
        """Planted files still in the catalog: name -> (hash, round planted)."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT t.name, t.hash, t.round FROM treasure t JOIN catalog c ON c.name = t.name"
            ).fetchall()
        return {name: (bytes(digest), number) for name, digest, number in rows}

    def expire_treasure(self, names: list[str], number: int) -> set[bytes]:
        """Planted files leave the catalog and the records; their content is remembered as
        expired (see `expired_hashes`). Returns the content no catalog entry has any more:
        the caller takes it out of the vault."""
        if not names:
            return set()
        with self._transaction() as db:
            marks = ",".join("?" * len(names))
            digests = {bytes(d) for (d,) in db.execute(
                f"SELECT hash FROM treasure WHERE name IN ({marks})", names)}  # fmt: skip
            for name in names:
                db.execute("DELETE FROM catalog WHERE name = ?", (name,))
                db.execute("DELETE FROM treasure WHERE name = ?", (name,))
                db.execute("DELETE FROM shared WHERE name = ?", (name,))
            for digest in digests:
                db.execute("DELETE FROM holdings WHERE hash = ?", (digest,))
                db.execute(
                    "INSERT INTO expired (hash, round) VALUES (?, ?)"
                    " ON CONFLICT (hash) DO UPDATE SET round = excluded.round",
                    (digest, number),
                )
            db.execute("DELETE FROM expired WHERE round < ?", (number - KEEP_EXPIRED_ROUNDS,))
            shared = {bytes(d) for (d,) in db.execute("SELECT hash FROM catalog")}
        return digests - shared

    def expired_hashes(self) -> dict[bytes, int]:
        """Content of expired treasure -> the round it expired in."""
        with self._transaction() as db:
            rows = db.execute("SELECT hash, round FROM expired").fetchall()
        return {bytes(digest): number for digest, number in rows}


def signs_of_use(data_dir: Path, own: set[str]) -> str:
    """What in the data folder shows a network ran here, in words ('' if nothing): blobs in
    its local vault, and any file but the metadata store's `own`."""
    if not data_dir.is_dir():
        return ""
    blobs = sum(1 for _ in (data_dir / "vault").glob("??/*"))
    others = sorted(p.name for p in data_dir.iterdir() if p.name not in own | {"vault"})
    signs = [f"{blobs} backed-up file{'' if blobs == 1 else 's'} in the vault"] if blobs else []
    if others:
        signs.append(", ".join(others[:5]) + (", ..." if len(others) > 5 else ""))
    return "; ".join(signs)


def restore_hint(data_dir: Path) -> str:
    return (
        f"restore it from a backup copy, or move {data_dir} aside to start a new network"
        " (players then join again with a new code; the catalog, the members, the"
        " revocations and the scores are lost)"
    )
