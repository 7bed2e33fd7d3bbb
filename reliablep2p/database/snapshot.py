"""`rp2p-db backup DIR`: a consistent copy of the database peer's data, taken while it runs.

The metadata is copied first, with SQLite's online backup API (one read transaction: the
database as it was at one instant, whatever the running database peer writes meanwhile). Then
the vault: every blob, read chunk by chunk and checked against its content hash (its name),
written aside and renamed in. A blob is durable before its catalog row is committed, so every
file the copied catalog lists has its blob, unless it was removed (or expired) since: such a
row is dropped from the copy, as the running database peer dropped it. Then the keys, their
modes kept (0600). The copy is built in a hidden folder beside DIR and renamed to DIR at the
end: an interrupted backup leaves no DIR that looks whole.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..proto import CHUNK_SIZE, chunk_hash, content_hash
from ..storage.interfaces import CACHE_DIR
from ..storage.portable import fsync_dir
from ..storage.sqlite import DB_FILE, OWN_FILES

VAULT_DIR = "vault"


class BackupRefused(Exception):
    """The backup cannot be made (one line for people)."""


@dataclass
class BackupReport:
    files: int = 0
    """Catalog entries in the copy."""
    blobs: int = 0
    blob_bytes: int = 0
    keys: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Catalog entries whose blob went away (removed, expired) while we copied."""
    damaged: list[str] = field(default_factory=list)
    """Blobs of the vault that do not match their hash: not copied."""


def backup(
    data: Path, target: Path, *, sqlite: bool, local_vault: bool, say: Callable[[str], None]
) -> BackupReport:
    """Copy what is in `data` into the new folder `target` (blocking)."""
    if not (data / "ca.pem").exists() and not (data / DB_FILE).exists():
        raise BackupRefused(f"{data} is not a database peer's data folder (--data)")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupRefused(f"{target} is not empty: give a new or empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    report = BackupReport()
    try:
        if sqlite:
            _copy_database(data / DB_FILE, work / DB_FILE)
            say(f"metadata copied ({DB_FILE})")
        if local_vault:
            _copy_vault(data / VAULT_DIR, work / VAULT_DIR, report, say)
        if sqlite:
            _drop_lost_entries(work / DB_FILE, work / VAULT_DIR, local_vault, report)
        _copy_keys(data, work, report)
        fsync_dir(work)
        os.replace(work, target)  # onto an empty folder too
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def _copy_database(source: Path, copy: Path) -> None:
    if not source.exists():
        raise BackupRefused(f"there is no catalog database {source}")
    live = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)
    try:
        new = sqlite3.connect(copy)
        try:
            live.backup(new)  # every page in one step: one consistent read
            problems = [row[0] for row in new.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise BackupRefused(f"the copy of {source} is damaged: {problems[0]}")
        finally:
            new.close()
    except sqlite3.Error as exc:
        raise BackupRefused(f"cannot copy {source}: {exc}") from None
    finally:
        live.close()
    with copy.open("rb") as made:
        os.fsync(made.fileno())


def _copy_vault(vault: Path, copy: Path, report: BackupReport, say: Callable[[str], None]) -> None:
    (copy / "tmp").mkdir(parents=True)
    blobs = sorted(p for p in vault.glob("??/*") if p.is_file()) if vault.is_dir() else []
    for number, blob in enumerate(blobs, 1):
        folder = copy / blob.parent.name
        folder.mkdir(exist_ok=True)
        try:
            size = _copy_blob(blob, folder / blob.name)
        except FileNotFoundError:
            continue  # taken out of the vault since we listed it
        if size is None:
            report.damaged.append(blob.name)
            say(f"not copied: the vault's blob {blob.name} does not match its hash (damaged)")
            continue
        report.blobs += 1
        report.blob_bytes += size
        if number % 100 == 0 or number == len(blobs):
            say(f"vault: {number} of {len(blobs)} blobs copied")
    for folder in copy.glob("??"):
        fsync_dir(folder)


def _copy_blob(blob: Path, copy: Path) -> int | None:
    """Copy one blob, verified chunk by chunk against its name; its size, or None if damaged."""
    part = copy.with_name(copy.name + ".part")
    chunks: list[bytes] = []
    size = 0
    with blob.open("rb") as source, part.open("wb") as out:
        while chunk := source.read(CHUNK_SIZE):
            chunks.append(chunk_hash(chunk))
            out.write(chunk)
            size += len(chunk)
        if content_hash(chunks).hex() != blob.name:
            out.close()
            part.unlink()
            return None
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, copy)
    return size


def _drop_lost_entries(db_path: Path, vault: Path, local_vault: bool, report: BackupReport) -> None:
    """Catalog rows of the copy whose blob the copied vault lacks go (they went meanwhile)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        rows = db.execute("SELECT name, hash FROM catalog").fetchall()
        if local_vault:
            lost = [
                n for n, d in rows if not (vault / bytes(d).hex()[:2] / bytes(d).hex()).exists()
            ]
            db.execute("BEGIN IMMEDIATE")
            for name in lost:
                for table in ("catalog", "shared", "treasure"):
                    db.execute(f"DELETE FROM {table} WHERE name = ?", (name,))
            db.execute("COMMIT")
            report.dropped = lost
        report.files = len(rows) - len(report.dropped)
    finally:
        db.close()


def _copy_keys(data: Path, copy: Path, report: BackupReport) -> None:
    """Everything else in the data folder: the network's keys and the database peer's identity."""
    skip = OWN_FILES | {VAULT_DIR, CACHE_DIR}
    for path in sorted(data.iterdir()):
        if path.name in skip or path.name.startswith("."):
            continue
        if path.is_dir():
            shutil.copytree(path, copy / path.name, copy_function=_copy_kept)
            fsync_dir(copy / path.name)
        elif path.is_file():
            _copy_kept(path, copy / path.name)
        report.keys.append(path.name)


def _copy_kept(source: Path | str, copy: Path | str) -> None:
    """A file copied with its mode (a private key stays 0600), flushed."""
    source, copy = Path(source), Path(copy)
    part = copy.with_name(copy.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(part, source.stat().st_mode & 0o777)
    os.replace(part, copy)
