"""The database peer's durable state: the catalog in SQLite (WAL), blobs content-addressed on disk.

A blob is written to `vault/tmp/`, verified, flushed and renamed to `vault/<ab>/<hash>`; only then
is its catalog row committed. So after any crash a catalog entry always has its complete blob, and
no half-written blob is ever visible under a content address. `open()` sweeps what a crash left.
All methods block: the database peer calls them from a worker thread.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from ..proto import FileInfo
from ..proto.codes import new_join_code
from .partial import Download

log = logging.getLogger("rp2p.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog (
    name TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    hash BLOB NOT NULL,
    chunks BLOB NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    number INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    expires_at REAL NOT NULL,
    uses_left INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS members (
    name TEXT PRIMARY KEY,
    enrolled_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS players (
    name TEXT PRIMARY KEY,
    score INTEGER NOT NULL,
    files_found INTEGER NOT NULL,
    wins INTEGER NOT NULL
);
"""
GAME_SCHEMA = """
CREATE TABLE IF NOT EXISTS holdings (
    player TEXT NOT NULL,
    hash BLOB NOT NULL,
    round INTEGER NOT NULL,
    how TEXT NOT NULL,
    PRIMARY KEY (player, hash)
);
CREATE TABLE IF NOT EXISTS treasure (
    name TEXT PRIMARY KEY,
    hash BLOB NOT NULL,
    round INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS expired (
    hash BLOB PRIMARY KEY,
    round INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS game (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
"""The game's records: who has held what content (and since which round), the planted
treasure, the treasure that expired (so it is not taken back), the round counter."""
KEEP_EXPIRED_ROUNDS = 500
"""Expired treasure is remembered this many rounds, then forgotten."""


class SqliteStore:
    """Catalog and vault under one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.vault = data_dir / "vault"
        self._tmp = self.vault / "tmp"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> list[FileInfo]:
        """Open (creating if needed), repair after a crash, and return the catalog."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():
            log.info("removing unfinished upload %s", leftover.name)
            leftover.unlink()
        db = sqlite3.connect(self.data_dir / "rp2p.sqlite3", check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        db.executescript(GAME_SCHEMA)
        self._db = db
        catalog = []
        for info in self._load():
            if self.has_blob(info.hash, info.size):
                catalog.append(info)
            else:
                log.warning("dropping %s from the catalog: its backup is missing", info.name)
                with self._lock, db:
                    db.execute("DELETE FROM catalog WHERE name = ?", (info.name,))
        return catalog

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    def _load(self) -> list[FileInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, size, hash, chunks FROM catalog ORDER BY added_at, name"
            ).fetchall()
        return [
            FileInfo(name=name, size=size, hash=digest, chunks=_unpack_chunks(chunks))
            for name, size, digest, chunks in rows
        ]

    def blob_path(self, digest: bytes) -> Path:
        hexdigest = digest.hex()
        return self.vault / hexdigest[:2] / hexdigest

    def has_blob(self, digest: bytes, size: int) -> bool:
        try:
            return self.blob_path(digest).stat().st_size == size
        except FileNotFoundError:
            return False

    def start_blob(self, info: FileInfo) -> Download:
        """A writer for `info`'s bytes; `Download.finish()` makes the blob visible."""
        final = self.blob_path(info.hash)
        final.parent.mkdir(exist_ok=True)
        part = self._tmp / f"{info.hash.hex()}-{secrets.token_hex(4)}.part"
        return Download(info, part, final)

    def add_file(self, info: FileInfo) -> None:
        """Catalog a file whose blob is already in the vault."""
        with self._lock, self._conn as db:
            db.execute(
                "INSERT OR REPLACE INTO catalog (name, size, hash, chunks, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (info.name, info.size, info.hash, b"".join(info.chunks), time.time()),
            )

    def load_players(self) -> dict[str, tuple[int, int, int]]:
        """Every player's (score, files found, rounds won), kept across restarts."""
        with self._lock:
            rows = self._conn.execute("SELECT name, score, files_found, wins FROM players")
            return {name: (score, found, wins) for name, score, found, wins in rows}

    def save_player(self, name: str, score: int, files_found: int, wins: int) -> None:
        with self._lock, self._conn as db:
            db.execute(
                "INSERT OR REPLACE INTO players (name, score, files_found, wins) VALUES (?, ?, ?, ?)",
                (name, score, files_found, wins),
            )

    # ------------------------------------------------------------------ invites, members

    MAX_FAILURES = 3
    """Wrong guesses an invite survives; then it is gone, so codes cannot be brute-forced."""

    def new_invite(self, *, uses: int, seconds: float) -> str:
        """Mint a join code, good for `uses` enrollments within `seconds`."""
        now = time.time()
        with self._lock, self._conn as db:
            db.execute("DELETE FROM invites WHERE expires_at < ? OR uses_left <= 0", (now,))
            taken = {n for (n,) in db.execute("SELECT number FROM invites")}
            free = [n for n in range(1, 1000) if n not in taken]
            if not free:
                raise RuntimeError("999 join codes are live already")
            code = new_join_code(secrets.choice(free))
            db.execute(
                "INSERT INTO invites (number, code, expires_at, uses_left) VALUES (?, ?, ?, ?)",
                (int(code.split("-")[0]), code, now + seconds, uses),
            )
        return code

    def invite_password(self, number: int) -> bytes | None:
        """The code of a live invite, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT code FROM invites WHERE number = ? AND expires_at >= ? AND uses_left > 0",
                (number, time.time()),
            ).fetchone()
        return row[0].encode() if row else None

    def invite_failed(self, number: int) -> None:
        with self._lock, self._conn as db:
            db.execute("UPDATE invites SET failures = failures + 1 WHERE number = ?", (number,))
            db.execute("DELETE FROM invites WHERE failures >= ?", (self.MAX_FAILURES,))

    def enroll_member(self, name: str, number: int) -> bool:
        """Record a new member and use up one enrollment of the invite; False if name taken."""
        with self._lock, self._conn as db:
            if db.execute("SELECT 1 FROM members WHERE name = ?", (name,)).fetchone():
                return False
            db.execute("INSERT INTO members (name, enrolled_at) VALUES (?, ?)", (name, time.time()))
            db.execute("UPDATE invites SET uses_left = uses_left - 1 WHERE number = ?", (number,))
        return True

    def revoke(self, name: str) -> None:
        with self._lock, self._conn as db:
            db.execute(
                "INSERT INTO members (name, enrolled_at, revoked) VALUES (?, ?, 1)"
                " ON CONFLICT(name) DO UPDATE SET revoked = 1",
                (name, time.time()),
            )

    def revoked(self) -> set[str]:
        with self._lock:
            return {n for (n,) in self._conn.execute("SELECT name FROM members WHERE revoked")}

    # ---------------------------------------------------------------------- the game

    def load_holdings(self) -> dict[str, dict[bytes, int]]:
        """Player -> content hash -> the round in which the host first saw it hold that."""
        held: dict[str, dict[bytes, int]] = {}
        with self._lock:
            for player, digest, number in self._conn.execute(
                "SELECT player, hash, round FROM holdings"
            ):
                held.setdefault(player, {})[digest] = number
        return held

    def record_holdings(self, rows: list[tuple[str, bytes, int, str]]) -> None:
        """(player, hash, round, how): how = published, vault, found or planted."""
        with self._lock, self._conn as db:
            db.executemany(
                "INSERT OR IGNORE INTO holdings (player, hash, round, how) VALUES (?, ?, ?, ?)",
                rows,
            )

    def rounds_played(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM game WHERE key = 'rounds'").fetchone()
        return int(row[0]) if row else 0

    def save_rounds(self, number: int) -> None:
        with self._lock, self._conn as db:
            db.execute("INSERT OR REPLACE INTO game (key, value) VALUES ('rounds', ?)", (number,))

    def add_treasure(self, info: FileInfo, number: int) -> None:
        """Catalog a planted file (its blob is in the vault), remembering its round."""
        with self._lock, self._conn as db:
            db.execute(
                "INSERT OR REPLACE INTO catalog (name, size, hash, chunks, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (info.name, info.size, info.hash, b"".join(info.chunks), time.time()),
            )
            db.execute(
                "INSERT OR REPLACE INTO treasure (name, hash, round) VALUES (?, ?, ?)",
                (info.name, info.hash, number),
            )

    def load_treasure(self) -> dict[str, tuple[bytes, int]]:
        """Planted files still in the catalog: name -> (hash, round planted)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT t.name, t.hash, t.round FROM treasure t JOIN catalog c ON c.name = t.name"
            ).fetchall()
        return {name: (digest, number) for name, digest, number in rows}

    def expire_treasure(self, names: list[str], number: int) -> None:
        """Planted files leave the catalog, the vault and the records; their content is
        remembered as expired (see `expired_hashes`)."""
        with self._lock, self._conn as db:
            marks = ",".join("?" * len(names))
            digests = [d for (d,) in db.execute(
                f"SELECT hash FROM treasure WHERE name IN ({marks})", names)]  # fmt: skip
            db.executemany("DELETE FROM catalog WHERE name = ?", [(n,) for n in names])
            db.executemany("DELETE FROM treasure WHERE name = ?", [(n,) for n in names])
            db.executemany("DELETE FROM holdings WHERE hash = ?", [(d,) for d in digests])
            db.executemany(
                "INSERT OR REPLACE INTO expired (hash, round) VALUES (?, ?)",
                [(d, number) for d in digests],
            )
            db.execute("DELETE FROM expired WHERE round < ?", (number - KEEP_EXPIRED_ROUNDS,))
            shared = {d for (d,) in db.execute("SELECT hash FROM catalog")} & set(digests)
        for digest in set(digests) - shared:
            self.blob_path(digest).unlink(missing_ok=True)

    def expired_hashes(self) -> dict[bytes, int]:
        """Content of expired treasure -> the round it expired in."""
        with self._lock:
            return dict(self._conn.execute("SELECT hash, round FROM expired").fetchall())


def _unpack_chunks(packed: bytes) -> list[bytes]:
    return [packed[i : i + 32] for i in range(0, len(packed), 32)]
