"""The disk calls under our files: direct writes, write-back started early, holes punched.

Linux calls Python has no wrapper for go through ctypes; where a system lacks one, the caller
falls back to plain writes, so everything runs on any POSIX system.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

SYNC_FILE_RANGE_WRITE = 2
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def _libc_call(name: str, argtypes: list[Any]) -> Callable[[int, int, int, int], int] | None:
    """A libc function through ctypes, or None where the C library lacks it."""
    try:
        call = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (AttributeError, OSError):
        return None
    call.argtypes = argtypes
    call.restype = ctypes.c_int
    return call


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's `sync_file_range(2)` (Python has no wrapper), or None."""
    return _libc_call(
        "sync_file_range", [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    )


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    """Linux's `fallocate(2)` (`os.posix_fallocate` cannot punch holes), or None."""
    return _libc_call("fallocate", [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64])


def give_back(fd: int, offset: int, length: int) -> None:
    """Free the disk blocks of a chunk whose write failed (a full disk cut it short), so a full
    disk gets back the room a torn chunk took. Best effort: a no-op where holes are not had."""
    call = _fallocate()
    if call is not None:
        call(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)


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
it (`partial.Download._write`); if False, every chunk goes through the page cache."""
DIRECT_ALIGN = 4096


def aligned(data: bytes | memoryview) -> bool:
    """True if `data` starts on a `DIRECT_ALIGN` boundary (a writable buffer only: an `mmap`)."""
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(data))
    except (TypeError, ValueError, BufferError):
        return False  # bytes, read-only or non-contiguous: use the page cache
    return address % DIRECT_ALIGN == 0


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of `data` at `offset` (`pwrite` may write less than asked)."""
    with memoryview(data) as view:
        written = 0
        while written < len(view):
            written += os.pwrite(fd, view[written:], offset + written)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_data(fd: int) -> None:
    """Make a file's written bytes durable: `fdatasync` where there is one, else `fsync`."""
    getattr(os, "fdatasync", os.fsync)(fd)
