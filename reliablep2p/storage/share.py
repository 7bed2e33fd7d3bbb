"""A peer's shared folder: what it seeds, and where downloads land in it safely.

Downloads are written to a hidden work folder inside the share (`.rp2p/`), verified chunk by
chunk, flushed to disk and only then renamed into place, so a visible file is always complete
and correct. Names are checked before any path is built from them. A share belongs to one node
at a time (`claim`): two would write the same partial files.

A file is shared under the NFC form of its name (the only form the protocol accepts), whatever
form the disk keeps: macOS hands out NFD names, so `café.txt` typed there is stored as
`cafe` + U+0301. The table remembers each file's name on disk, and `path_of` maps back to it.
If a folder holds two names with one NFC form, the one already in NFC is shared.
"""

from __future__ import annotations

import hashlib
import os
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..proto import CHUNK_SIZE, FileInfo, check_name, content_hash, name_problem
from .partial import Download
from .portable import fsync_dir, lock_exclusively

WORK_DIR = ".rp2p"


def hash_file(path: Path, name: str) -> FileInfo:
    """Describe a file on disk, reading it in chunks (memory stays flat)."""
    chunks = []
    size = 0
    with path.open("rb") as f:
        while piece := f.read(CHUNK_SIZE):
            chunks.append(hashlib.sha256(piece).digest())
            size += len(piece)
    return FileInfo(name=name, size=size, hash=content_hash(chunks), chunks=chunks)


def possession_proof(path: Path, nonce: bytes) -> bytes:
    """SHA-256 of `nonce` followed by the file's bytes: only a holder of the bytes can answer."""
    digest = hashlib.sha256(nonce)
    with path.open("rb") as f:
        while piece := f.read(CHUNK_SIZE):
            digest.update(piece)
    return digest.digest()


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    info: FileInfo
    disk_name: str
    """The file's name in the folder: `info.name` (NFC) or another form of it."""


@dataclass(frozen=True)
class Skipped:
    """A file in the share that is not shared, and why: `kind` is "link" (a symbolic link),
    "folder" (only the top of the share is shared), "special" (a pipe, socket or device) or
    "name" (`problem`: what is wrong with the name, as `name_problem` says)."""

    name: str
    """As on disk: may hold the very characters that made it unshareable."""
    kind: str
    problem: str = ""


class ShareUnusable(Exception):
    """The folder cannot be this node's share (another node holds it, or it cannot be made);
    the message is one line for people."""


class SharedFolder:
    """The files a peer seeds, rescanned from disk; hashes are cached by size and mtime.

    `scan` and `finish` run in worker threads while the trio thread reads `files()`: the table
    of seen files is replaced whole, never changed in place, and `_lock` makes a finished
    download's rename and its entry in the table one step, so a rescan never hashes it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._claim: int | None = None
        self._told: set[Skipped] = set()
        self._untold: list[Skipped] = []

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / WORK_DIR).mkdir(exist_ok=True)

    def claim(self) -> None:
        """Make the folder and hold it for this node until `release` (or the process ends).

        An `flock` on the work folder itself (Linux and macOS): no lock file to leave behind,
        and the kernel lets go when the process dies, however it dies. Blocking: run it in a
        thread. Raises `ShareUnusable`.
        """
        try:
            self.ensure()
            fd = os.open(self.path / WORK_DIR, os.O_RDONLY)
        except OSError as exc:
            raise ShareUnusable(f"cannot use {self.path} as a share: {exc.strerror}") from None
        try:
            held = lock_exclusively(fd)
        except OSError as exc:
            os.close(fd)
            raise ShareUnusable(f"cannot lock {self.path}: {exc.strerror}") from None
        if not held:
            os.close(fd)
            raise ShareUnusable(
                f"{self.path} is the share of another running peer; give each peer its own --share"
            )
        self._claim = fd

    def release(self) -> None:
        if self._claim is not None:
            os.close(self._claim)
            self._claim = None

    def path_of(self, name: str) -> Path:
        """Where the file shared as `name` is (or a download of it goes)."""
        check_name(name)
        seen = self._seen.get(name)
        return self.path / (seen.disk_name if seen else name)

    def scan(self) -> dict[str, FileInfo]:
        """Rescan the folder (blocking: run it in a thread); returns every seedable file."""
        known = self._seen
        found: dict[str, _Seen] = {}
        shareable, skipped = _shareable(self.path)
        with self._lock:  # each told once while it stays; told again if it comes back
            self._untold.extend(s for s in skipped if s not in self._told)
            self._told = set(skipped)
        for name, entry in shareable.items():
            try:
                stat = entry.stat(follow_symlinks=False)
                seen = known.get(name)
                if not _matches(seen, entry.name, stat):
                    with self._lock:  # a download may be placing it right now: wait
                        seen = self._seen.get(name)
                    if not _matches(seen, entry.name, stat):
                        info = hash_file(Path(entry.path), name)
                        seen = _Seen(stat.st_size, stat.st_mtime_ns, info, entry.name)
                        if not _matches(seen, entry.name, os.stat(entry.path)):
                            continue  # still being written (a copy under way): not yet whole
            except OSError:
                continue  # vanished or unreadable while we looked: next scan will tell
            assert seen is not None
            found[name] = seen
        with self._lock:  # keep what downloads placed while we were listing
            for name, seen in self._seen.items():
                if name not in found and seen is not known.get(name):
                    found[name] = seen
            self._seen = found
        return self.files()

    def untold(self) -> list[Skipped]:
        """What scans skipped that the player has not been told of yet (then it is told)."""
        with self._lock:
            news, self._untold = self._untold, []
        return news

    def files(self) -> dict[str, FileInfo]:
        return {name: seen.info for name, seen in self._seen.items()}

    def get(self, name: str) -> FileInfo | None:
        seen = self._seen.get(name)
        return seen.info if seen else None

    def start_download(self, info: FileInfo) -> Download:
        """A resumable `Download` into this folder (blocking): continues any earlier partial."""
        work = self.path / WORK_DIR / info.hash.hex()
        return Download(
            info, work.with_suffix(".part"), self.path_of(info.name), work.with_suffix(".chunks")
        )

    def finish(self, download: Download) -> None:
        """Make a verified download durable, visible and seeded (blocking: run it in a thread).

        The rename and the entry in the table happen under the lock, so a rescan sees the
        file either already recorded (no hashing) or not at all.
        """
        download.seal()
        with self._lock:
            download.place()
            stat = download.final_path.stat()
            seen = _Seen(stat.st_size, stat.st_mtime_ns, download.info, download.final_path.name)
            self._seen = {**self._seen, download.info.name: seen}
        fsync_dir(self.path)

    def discard(self, name: str, digest: bytes) -> bool:
        """Delete `name` if it holds exactly the content `digest`, and any partial download of
        that content (blocking: run it in a thread); True if the file was there."""
        work = self.path / WORK_DIR / digest.hex()
        for leftover in (work.with_suffix(".part"), work.with_suffix(".chunks")):
            leftover.unlink(missing_ok=True)
        with self._lock:
            seen = self._seen.get(name)
            if seen is None or seen.info.hash != digest:
                return False
            self.path_of(name).unlink(missing_ok=True)
            self._seen = {n: s for n, s in self._seen.items() if n != name}
        fsync_dir(self.path)
        return True


def _shareable(folder: Path) -> tuple[dict[str, os.DirEntry[str]], list[Skipped]]:
    """The regular files of `folder` by shared (NFC) name, and what is skipped, but for
    hidden names (dot files, our work folder), which nobody expects to be shared."""
    chosen: dict[str, os.DirEntry[str]] = {}
    skipped: list[Skipped] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = unicodedata.normalize("NFC", entry.name)
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                skipped.append(Skipped(entry.name, "link"))
                continue
            if entry.is_dir(follow_symlinks=False):
                skipped.append(Skipped(entry.name, "folder"))
                continue
            if not entry.is_file(follow_symlinks=False):
                skipped.append(Skipped(entry.name, "special"))
                continue
            if problem := name_problem(name):
                skipped.append(Skipped(entry.name, "name", problem))
                continue
            other = chosen.get(name)
            if (
                other is None
                or entry.name == name
                or (other.name != name and entry.name < other.name)
            ):
                chosen[name] = entry
    return chosen, skipped


def _matches(seen: _Seen | None, disk_name: str, stat: os.stat_result) -> bool:
    return (
        seen is not None
        and seen.disk_name == disk_name
        and (seen.size, seen.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    )
