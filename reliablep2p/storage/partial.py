"""A file being received, kept safe on disk: verified chunk by chunk, resumable, renamed in whole.

Chunks arrive in any order (several sources at once); the set of verified ones is recorded in a
small file beside the partial one, so a later download continues from any set of chunks. Whole
chunks are written `O_DIRECT` from page-aligned buffers where the system allows it, and each
chunk's write-back starts at once (`portable`); what is written is made durable as the download
goes (`sync`), so the `fsync` before the rename has little left to do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import struct
import threading
from pathlib import Path

from ..proto import (
    CHUNK_SIZE,
    ErrorCode,
    FileInfo,
    ProtocolError,
    RemoteProtocolError,
    bitfield_size,
    chunk_count,
    from_bitfield,
    to_bitfield,
)
from . import portable
from .portable import (
    DIRECT_ALIGN,
    aligned,
    fsync_dir,
    give_back,
    pwrite_all,
    start_writeback,
    sync_data,
)


class Download:
    """A file being received: verified chunk by chunk into `part_path`, renamed in when complete.

    Chunks are written at their own offsets, so several worker threads may verify and store
    chunks at once, in any order (`store_chunk`), from any number of sources; `received` counts
    the bytes of the verified chunks, wherever they are in the file.

    With a `record_path`, the download is resumable: the set of verified chunks is recorded
    beside the partial file (`_Record`) every `RECORD_EVERY` chunks and when the download is put
    aside, so a later download of the same content continues from those chunks instead of
    starting over. Only the chunks stored since the record before last are re-checked (never the
    whole file): a torn or stale record is harmless, and one re-checked chunk that does not
    match distrusts the whole partial file. The record is made when the download starts and then
    rewritten in place, so it needs no new space: a download stopped by a full disk still
    records what it verified. Used for downloads into a share and, without a record, for
    uploads into the vault. Blocking methods: run them in a worker thread.
    """

    RECORD_EVERY = 8
    SYNC_EVERY = 16 * 1024 * 1024
    """Bytes written between two `sync`s while the download goes on."""

    def __init__(
        self, info: FileInfo, part_path: Path, final_path: Path, record_path: Path | None = None
    ) -> None:
        self.info = info
        self.final_path = final_path
        self.part_path = part_path
        self.record_path = record_path
        self.count = chunk_count(info.size)
        self._lock = threading.Lock()
        self._record = _Record(self.count)
        self._stored: set[int] = self._verified_chunks()
        """Every chunk verified and written (the trio thread reads it; workers add to it)."""
        self.received = sum(self.chunk_length(index) for index in self._stored)
        self.resumed_at = self.received
        self._unsynced = 0
        """Bytes written since the last `sync`."""
        self._next = 0
        """No chunk below this one is missing (`next_chunk`)."""
        self._direct: int | None = None
        """A second descriptor of the partial file, opened with `O_DIRECT` on first use."""
        self._direct_tried = not (portable.DIRECT_WRITES and hasattr(os, "O_DIRECT"))
        self._direct_ok = True
        self._record_fd: int | None = None
        self._file = self.part_path.open("r+b" if self._stored else "wb", buffering=0)
        try:
            if os.fstat(self._file.fileno()).st_size > info.size:
                self._file.truncate(info.size)
            if record_path is not None and self.count > 1:
                self._record_fd = os.open(record_path, os.O_RDWR | os.O_CREAT, 0o644)
                self._write_record()  # takes the record's blocks now, while there is room
        except BaseException:
            self._close()
            raise

    def chunk_length(self, index: int) -> int:
        return min(CHUNK_SIZE, self.info.size - index * CHUNK_SIZE)

    def _verified_chunks(self) -> set[int]:
        """The chunks of an earlier partial download we can keep (none if none or in doubt)."""
        if self.record_path is None:
            return set()
        try:
            stored, recheck = self._record.load(self.record_path.read_bytes())
            with self.part_path.open("rb") as part:
                size = os.fstat(part.fileno()).st_size
                if stored and size < max(stored) * CHUNK_SIZE + self.chunk_length(max(stored)):
                    return set()  # cut short: the record is not about this file
                for index in recheck:
                    part.seek(index * CHUNK_SIZE)
                    data = part.read(self.chunk_length(index))
                    if hashlib.sha256(data).digest() != self.info.chunks[index]:
                        return set()
        except (OSError, ValueError, IndexError, ProtocolError):
            return set()
        return stored

    @property
    def next_chunk(self) -> int:
        """The first chunk not verified yet (the count, once complete)."""
        while self._next in self._stored:
            self._next += 1
        return self._next

    def has(self, index: int) -> bool:
        return index in self._stored

    def stored(self) -> set[int]:
        """A copy of the set of verified chunks."""
        with self._lock:
            return set(self._stored)

    def write_chunk(self, data: bytes | memoryview) -> None:
        """Verify and write the first missing chunk; a bad one raises
        `RemoteProtocolError(BAD_CONTENT)` (the vault's uploads arrive in order)."""
        self.store_chunk(self.next_chunk, data)

    def store_chunk(self, index: int, data: bytes | memoryview) -> None:
        """Verify chunk `index` against the catalog and write it at its offset (thread-safe).

        A bad chunk raises `RemoteProtocolError(BAD_CONTENT)` and is not written; a chunk we
        already have is not written again. hashlib and the write release the GIL, so workers hash
        and write while the event loop receives. The chunk's write-back to disk is started at
        once (`start_writeback`); a write the disk refuses gives back what it took (`give_back`).
        """
        if not 0 <= index < self.count:
            raise RemoteProtocolError(ErrorCode.BAD_CONTENT, "more data than the file has")
        length = self.chunk_length(index)
        if len(data) != length or hashlib.sha256(data).digest() != self.info.chunks[index]:
            raise RemoteProtocolError(
                ErrorCode.BAD_CONTENT, f"chunk {index} does not match the catalog"
            )
        if index in self._stored:
            return
        try:
            self._write(index * CHUNK_SIZE, data)
        except OSError:
            with contextlib.suppress(OSError):
                give_back(self._file.fileno(), index * CHUNK_SIZE, length)
            raise
        with self._lock:
            if index in self._stored:
                return
            self._stored.add(index)
            self.received += length
            self._unsynced += length
            if self._record_fd is not None and self._record.added(index) >= self.RECORD_EVERY:
                self._write_record()

    def _write(self, offset: int, data: bytes | memoryview) -> None:
        """Write `data` at `offset`: straight to the disk where possible, else via the cache.

        A whole chunk in a page-aligned buffer (the receive path's `mmap` buffers) is written
        with `O_DIRECT`, skipping the page cache: the file is fsynced before anyone reads it, so
        caching it bought nothing, and on the 2-core VM copying 512 MiB into fresh page-cache
        pages cost 0.3-2.2 s of system time (perf: `copy_folio_from_iter_atomic`, and the
        second writer spinning on the inode lock), where 512 direct 1 MiB writes take ~0.2 s
        of wall and ~0.04 s of CPU. The `fsync` before the rename stays: it makes the block
        allocation durable and flushes the disk's cache. Anything else (the last, short chunk;
        `bytes` from the vault's uploads; a file system that refuses `O_DIRECT`) goes through
        the page cache, its write-back started at once (`start_writeback`).
        """
        length = len(data)
        if length % DIRECT_ALIGN == 0 and (fd := self._direct_fd()) is not None and aligned(data):
            try:
                pwrite_all(fd, data, offset)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._direct_ok = False  # refused after all: the page cache from now on
        pwrite_all(self._file.fileno(), data, offset)
        start_writeback(self._file.fileno(), offset, length)

    def _direct_fd(self) -> int | None:
        if not self._direct_tried:
            with self._lock:
                if not self._direct_tried:
                    try:
                        self._direct = os.open(self.part_path, os.O_WRONLY | os.O_DIRECT)
                    except OSError:
                        self._direct = None  # not on this file system
                    self._direct_tried = True
        return self._direct if portable.DIRECT_WRITES and self._direct_ok else None

    def _close(self) -> None:
        for fd in (self._direct, self._record_fd):
            if fd is not None:
                os.close(fd)
        self._direct = self._record_fd = None
        self._file.close()

    def _write_record(self) -> None:
        """Write the set of verified chunks over the last record (under `_lock`, or alone)."""
        if self._record_fd is not None:
            os.pwrite(self._record_fd, self._record.encode(self._stored), 0)

    @property
    def complete(self) -> bool:
        return len(self._stored) == self.count

    @property
    def sync_due(self) -> bool:
        """True once `SYNC_EVERY` bytes were written since the last `sync`, and more will come."""
        return self._unsynced >= self.SYNC_EVERY and not self.complete

    def sync(self) -> None:
        """Make the chunks written so far durable while the others arrive (a worker thread).

        The `fsync` before the rename flushes whatever is not yet on the disk, and where the
        disk has a write cache (the test VM's) that takes as long as writing it: 0.3 s for a
        256 MiB file, an eighth of its transfer at 1 Gbit/s, all of it after the last byte. Made
        durable as the download goes, that flush overlaps the transfer and the last `fsync`
        finds almost nothing left. Errors are left to that `fsync`, which reports real ones.
        Never called once the file is sealed or put aside (the caller waits for it first).
        """
        with self._lock:
            self._unsynced = 0
        with contextlib.suppress(OSError):
            sync_data(self._file.fileno())

    def finish(self) -> None:
        """Make the verified file durable and visible under its name."""
        self.seal()
        self.place()
        fsync_dir(self.final_path.parent)

    def seal(self) -> None:
        """Check the file is complete and make its bytes durable (`finish`, first half)."""
        if not self.complete:
            raise RemoteProtocolError(ErrorCode.BAD_CONTENT, "transfer ended before the last chunk")
        os.fsync(self._file.fileno())
        self._close()

    def place(self) -> None:
        """Rename the sealed file into place (`finish`, second half; fsync the folder after)."""
        os.replace(self.part_path, self.final_path)
        if self.record_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.record_path.unlink()

    def put_aside(self) -> None:
        """Stop for now, keeping the verified chunks (recorded) for a later resume."""
        if self._file.closed:
            return
        if self.record_path is None:
            self.abandon()
            return
        try:
            with self._lock:
                self._write_record()
        finally:
            self._close()

    def abandon(self) -> None:
        self._close()
        for path in (self.part_path, self.record_path):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


class _Record:
    """The resume record's bytes, of one size for the whole download (rewritten in place):
    a magic line, the chunk count, the chunks stored since the record before last (re-checked on
    resume), then the bitfield of every verified chunk.

    A record of the earlier format (the count of a verified prefix, in digits) is read too: its
    last chunk is re-checked.
    """

    MAGIC = b"rp2p-chunks 2\n"
    RECENT = 2 * Download.RECORD_EVERY
    _HEAD = struct.Struct(">IH")

    def __init__(self, count: int) -> None:
        self.count = count
        self._previous: list[int] = []
        self._current: list[int] = []

    @property
    def size(self) -> int:
        return len(self.MAGIC) + self._HEAD.size + 4 * self.RECENT + bitfield_size(self.count)

    def added(self, index: int) -> int:
        """Note a newly stored chunk; how many since the last record was written."""
        self._current.append(index)
        return len(self._current)

    def encode(self, stored: set[int]) -> bytes:
        recent = (self._previous + self._current)[-self.RECENT :]
        self._previous, self._current = self._current, []
        slots = recent + [0] * (self.RECENT - len(recent))
        return b"".join([
            self.MAGIC,
            self._HEAD.pack(self.count, len(recent)),
            struct.pack(f">{self.RECENT}I", *slots),
            to_bitfield(stored, self.count),
        ])  # fmt: skip

    def load(self, data: bytes) -> tuple[set[int], list[int]]:
        """The chunks a record says are verified, and those to check before trusting it
        (raises ValueError, or `ProtocolError` for a bad bitfield, on a record in doubt)."""
        if not data.startswith(self.MAGIC):
            prefix = min(int(data), self.count)  # the earlier format; ValueError if not it
            return set(range(prefix)), [prefix - 1] if prefix > 0 else []
        if len(data) != self.size:
            raise ValueError("a record of another size")
        at = len(self.MAGIC)
        count, recent = self._HEAD.unpack_from(data, at)
        if count != self.count or recent > self.RECENT:
            raise ValueError("a record of another file")
        slots = struct.unpack_from(f">{self.RECENT}I", data, at + self._HEAD.size)
        stored = from_bitfield(data[at + self._HEAD.size + 4 * self.RECENT :], count)
        recheck = list(slots[:recent])
        if not set(recheck) <= stored:
            raise ValueError("re-checked chunks the record does not have")
        if stored and not recheck:
            recheck = [max(stored)]
        return stored, recheck
