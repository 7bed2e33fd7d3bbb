"""The database peer's durable state: the catalog in SQLite (WAL), blobs content-addressed on disk.

A blob is written to `vault/tmp/`, verified, flushed and renamed to `vault/<ab>/<hash>`; only then
is its catalog row committed. So after any crash a catalog entry always has its complete blob, and
no half-written blob is ever visible under a content address. `open()` sweeps what a crash left.
A database that was emptied or damaged is refused with one line (`StoreError`), never started
empty: that would forget the catalog, the members, the revocations and the scores in silence.
All methods block: the database peer calls them from a worker thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from ..proto import FileInfo, taken_by
from ..proto.codes import MAX_CODE_HOURS, MAX_NUMBER, is_current, new_join_code
from .partial import Download, fsync_dir

log = logging.getLogger("rp2p.store")

DB_FILE = "rp2p.sqlite3"
OWN_FILES = {DB_FILE + suffix for suffix in ("", "-wal", "-shm", "-journal", ".new")}
"""The database and what SQLite (or `_create`) keeps beside it."""

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
    uses_left INTEGER NOT NULL
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
CREATE TABLE IF NOT EXISTS running_round (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    state BLOB NOT NULL
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


class StoreError(Exception):
    """The data folder's database cannot be used as it is; the message is one line for people."""


class SqliteStore:
    """Catalog and vault under one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db_path = data_dir / DB_FILE
        self.vault = data_dir / "vault"
        self._tmp = self.vault / "tmp"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

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
        if in_use := self._signs_of_use():
            state = "missing" if size is None else "empty (0 bytes)"
            raise StoreError(
                f"the catalog database {self.db_path} is {state}, but {self.data_dir} was in use"
                f" ({in_use}); {self._restore_hint()}"
            )
        if size == 0:
            log.warning("%s was empty and nothing else is in %s: starting a new network",
                        self.db_path, self.data_dir)  # fmt: skip
        self._create()

    def _signs_of_use(self) -> str:
        """What in the data folder shows the network ran here, in words ('' if nothing)."""
        if not self.data_dir.is_dir():
            return ""
        blobs = sum(1 for _ in self.vault.glob("??/*"))
        others = sorted(
            p.name for p in self.data_dir.iterdir() if p.name not in OWN_FILES | {"vault"}
        )
        signs = [f"{blobs} backed-up file{'' if blobs == 1 else 's'} in the vault"] if blobs else []
        if others:
            signs.append(", ".join(others[:5]) + (", ..." if len(others) > 5 else ""))
        return "; ".join(signs)

    def _restore_hint(self) -> str:
        return (
            f"restore it from a backup copy, or move {self.data_dir} aside to start a new network"
            " (players then join again with a new code; the catalog, the members, the"
            " revocations and the scores are lost)"
        )

    def _create(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        new = self.db_path.with_name(DB_FILE + ".new")
        new.unlink(missing_ok=True)
        db = sqlite3.connect(new)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()  # the last connection: the WAL is checkpointed into the file
        with new.open("rb") as made:
            os.fsync(made.fileno())
        os.replace(new, self.db_path)
        fsync_dir(self.data_dir)

    def open(self) -> list[FileInfo]:
        """Open the database, check it is whole, repair after a crash, and return the catalog.

        Only a database `prepare` made sure of is opened; none is created here (so
        `rp2p-db invite` pointed at the wrong folder says so instead of minting a useless code).
        """
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        db.executescript(GAME_SCHEMA)
        self._db = db
        self._drop_weak_invites()
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():
            log.info("removing unfinished upload %s", leftover.name)
            leftover.unlink()
        catalog = []
        for info in self._load():
            if self.has_blob(info.hash, info.size):
                catalog.append(info)
            else:
                log.warning("dropping %s from the catalog: its backup is missing", info.name)
                with self._lock, db:
                    db.execute("DELETE FROM catalog WHERE name = ?", (info.name,))
        return catalog

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
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
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
        raise StoreError(f"the catalog database {path} is {state}; {self._restore_hint()}")

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

    def save_running_round(self, state: bytes | None) -> None:
        """Keep the running round (`game/saved.py`'s bytes), or forget it (None: it ended)."""
        with self._lock, self._conn as db:
            if state is None:
                db.execute("DELETE FROM running_round")
            else:
                db.execute("INSERT OR REPLACE INTO running_round (only, state) VALUES (1, ?)",
                           (state,))  # fmt: skip

    def load_running_round(self) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT state FROM running_round").fetchone()
        return bytes(row[0]) if row else None

    # ------------------------------------------------------------------ invites, members

    def new_invite(self, *, uses: int, seconds: float) -> str:
        """Mint a join code, good for `uses` enrollments within `seconds` (a week at most).

        Wrong guesses never use it up (see `database/guesses.py` for what limits them).
        """
        if seconds > MAX_CODE_HOURS * 3600:
            raise ValueError(f"a join code lives {MAX_CODE_HOURS} hours at most")
        now = time.time()
        with self._lock, self._conn as db:
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
        """The code of a live invite, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT code FROM invites WHERE number = ? AND expires_at >= ? AND uses_left > 0",
                (number, time.time()),
            ).fetchone()
        return row[0].encode() if row else None

    def _drop_weak_invites(self) -> None:
        """Codes minted before codes had four words of a 2048-word list were guessable."""
        with self._lock, self._conn as db:
            weak = [n for n, code in db.execute("SELECT number, code FROM invites")
                    if not is_current(code)]  # fmt: skip
            if weak:
                log.warning("dropping %d join codes of the old, short kind", len(weak))
                db.executemany("DELETE FROM invites WHERE number = ?", [(n,) for n in weak])

    def enroll_member(self, name: str, number: int) -> str | None:
        """Record a new member and use up one enrollment of the invite; or, recording nothing,
        the member (kicked ones too) whose name `name` is or looks like."""
        with self._lock, self._conn as db:
            members = [n for (n,) in db.execute("SELECT name FROM members")]
            if (taken := taken_by(name, members)) is not None:
                return taken
            db.execute("INSERT INTO members (name, enrolled_at) VALUES (?, ?)", (name, time.time()))
            db.execute("UPDATE invites SET uses_left = uses_left - 1 WHERE number = ?", (number,))
        return None

    def revoke(self, name: str) -> bool:
        """Mark a member revoked, for good; False if no member has this name (nothing changes,
        so a typo in `rp2p-db kick` cannot bar a name nobody has)."""
        with self._lock, self._conn as db:
            cursor = db.execute("UPDATE members SET revoked = 1 WHERE name = ?", (name,))
            return cursor.rowcount > 0

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
