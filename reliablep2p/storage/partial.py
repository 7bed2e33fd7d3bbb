"""A file being received, kept safe on disk: verified chunk by chunk, resumable, renamed in whole.

Whole chunks are written `O_DIRECT` from page-aligned buffers where the system allows it, and
each chunk's write-back starts at once (`sync_file_range`, Linux); elsewhere both fall back to
ordinary writes, so this runs on any POSIX system.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..proto import CHUNK_SIZE, ErrorCode, FileInfo, RemoteProtocolError, chunk_count

SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's `sync_file_range(2)` through ctypes (Python has no wrapper), or None."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing these bytes to disk now, without waiting for it.

    Not durability (the `fsync` before the rename is): a big download written with no
    write-behind piles up dirty pages until the kernel throttles the writer to the disk's pace
    (a 512 MiB get spent 1-2 s in `pwrite` on a machine whose page cache was already dirty),
    and the final `fsync` then has the whole file still to write. Started chunk by chunk, the
    writes stay at page-cache speed and the `fsync` finds almost nothing left to do. A no-op
    where `sync_file_range` is missing; errors are ignored (the `fsync` reports real ones).
    """
    call = _sync_file_range()
    if call is not None:
        call(fd, offset, length, SYNC_FILE_RANGE_WRITE)  # ctypes releases the GIL


DIRECT_WRITES = True
"""Write whole, page-aligned chunks of a download with `O_DIRECT` where the file system allows
it (`Download._write`); if False, every chunk goes through the page cache."""
DIRECT_ALIGN = 4096


def _aligned(data: bytes | memoryview) -> bool:
    """True if `data` starts on a `DIRECT_ALIGN` boundary (a writable buffer only: an `mmap`)."""
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(data))
    except (TypeError, ValueError, BufferError):
        return False  # bytes, read-only or non-contiguous: use the page cache
    return address % DIRECT_ALIGN == 0


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of `data` at `offset` (`pwrite` may write less than asked)."""
    with memoryview(data) as view:
        written = 0
        while written < len(view):
            written += os.pwrite(fd, view[written:], offset + written)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Download:
    """A file being received: verified chunk by chunk into `part_path`, renamed in when complete.

    Chunks are written at their own offsets, so several worker threads may verify and store
    chunks at once, in any order (`store_chunk`); `received` counts the contiguous prefix of
    stored chunks, and only that prefix is ever recorded or trusted.

    With a `record_path`, the download is resumable: the number of verified chunks is recorded
    beside the partial file every `RECORD_EVERY` chunks and when the download is put aside, so a
    later download of the same content continues from there instead of starting over (only the
    last recorded chunk is re-checked, never the whole file). The record is made when the
    download starts and then rewritten in place, so it needs no new space: a download stopped by a
    full disk still records what it verified. Used for downloads into a share and, without a
    record, for uploads into the vault. Blocking methods: run them in a worker thread.
    """

    RECORD_EVERY = 8
    RECORD_WIDTH = 20
    """Digits of the record, padded: every rewrite covers the same bytes of the same block."""

    def __init__(
        self, info: FileInfo, part_path: Path, final_path: Path, record_path: Path | None = None
    ) -> None:
        self.info = info
        self.final_path = final_path
        self.part_path = part_path
        self.record_path = record_path
        self.received = self._verified_prefix()
        self.resumed_at = self.received
        self._lock = threading.Lock()
        self._direct: int | None = None
        """A second descriptor of the partial file, opened with `O_DIRECT` on first use."""
        self._direct_tried = not (DIRECT_WRITES and hasattr(os, "O_DIRECT"))
        self._direct_ok = True
        self._stored: set[int] = set()
        """Chunks stored beyond the prefix (a worker finished before the one before it)."""
        self._record_fd: int | None = None
        self._file = self.part_path.open("r+b" if self.received else "wb", buffering=0)
        try:
            self._file.truncate(self.received)
            if record_path is not None and chunk_count(info.size) > 1:
                self._record_fd = os.open(record_path, os.O_RDWR | os.O_CREAT, 0o644)
                self._record()  # takes the record's block now, while there is room
        except BaseException:
            self._close()
            raise

    def _verified_prefix(self) -> int:
        """Bytes of an earlier partial download we can keep (0 if none or in doubt)."""
        if self.record_path is None:
            return 0
        try:
            chunks = int(self.record_path.read_text())
            with self.part_path.open("rb") as part:
                if chunks > 0:
                    part.seek((chunks - 1) * CHUNK_SIZE)
                    last = part.read(CHUNK_SIZE)
                    if hashlib.sha256(last).digest() != self.info.chunks[chunks - 1]:
                        return 0
        except (OSError, ValueError, IndexError):
            return 0
        return min(chunks * CHUNK_SIZE, self.info.size)

    @property
    def next_chunk(self) -> int:
        return self.received // CHUNK_SIZE

    def write_chunk(self, data: bytes | memoryview) -> None:
        """Verify and append the next chunk; a bad one raises `RemoteProtocolError(BAD_CONTENT)`."""
        self.store_chunk(self.next_chunk, data)

    def store_chunk(self, index: int, data: bytes | memoryview) -> None:
        """Verify chunk `index` against the catalog and write it at its offset (thread-safe).

        A bad chunk raises `RemoteProtocolError(BAD_CONTENT)` and is not written. hashlib and the
        write release the GIL, so workers hash and write while the event loop receives. The
        chunk's write-back to disk is started at once (`start_writeback`).
        """
        if not 0 <= index < chunk_count(self.info.size):
            raise RemoteProtocolError(ErrorCode.BAD_CONTENT, "more data than the file has")
        expected = min(CHUNK_SIZE, self.info.size - index * CHUNK_SIZE)
        if len(data) != expected or hashlib.sha256(data).digest() != self.info.chunks[index]:
            raise RemoteProtocolError(
                ErrorCode.BAD_CONTENT, f"chunk {index} does not match the catalog"
            )
        self._write(index * CHUNK_SIZE, data)
        with self._lock:
            self._stored.add(index)
            before = self.next_chunk
            while self.next_chunk in self._stored and not self.complete:
                self._stored.remove(self.next_chunk)
                self.received = min(self.received + CHUNK_SIZE, self.info.size)
            if self.next_chunk // self.RECORD_EVERY > before // self.RECORD_EVERY:
                self._record()

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
        if length % DIRECT_ALIGN == 0 and (fd := self._direct_fd()) is not None and _aligned(data):
            try:
                _pwrite_all(fd, data, offset)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._direct_ok = False  # refused after all: the page cache from now on
        _pwrite_all(self._file.fileno(), data, offset)
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
        return self._direct if DIRECT_WRITES and self._direct_ok else None

    def _close(self) -> None:
        for fd in (self._direct, self._record_fd):
            if fd is not None:
                os.close(fd)
        self._direct = self._record_fd = None
        self._file.close()

    def _record(self) -> None:
        """Write the count of verified chunks over the last one (a torn or stale record is
        harmless: its last chunk is checked before it is trusted)."""
        if self._record_fd is not None:
            os.pwrite(self._record_fd, f"{self.next_chunk:>{self.RECORD_WIDTH}}\n".encode(), 0)

    @property
    def complete(self) -> bool:
        return self.received == self.info.size

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
        """Stop for now, keeping the verified chunks for a later resume.

        The partial file is cut back to its verified prefix (all a resume trusts), which also
        gives back the space of a chunk that a full disk cut short.
        """
        if self._file.closed:
            return
        if self.record_path is None:
            self.abandon()
            return
        try:
            self._file.truncate(self.received)
            self._record()
        finally:
            self._close()

    def abandon(self) -> None:
        self._close()
        for path in (self.part_path, self.record_path):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
