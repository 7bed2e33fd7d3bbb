"""System calls that not every system has, each with the plain fallback used where it is missing.

The core runs on Linux and macOS (any POSIX system with Python): `os.preadv` (Linux; macOS only
from 11 with a recent Python), `os.sendfile` to a socket (Linux, macOS; some file systems
refuse it), `fcntl.flock` (refused on some network file systems); and for writing a download,
`O_DIRECT`, `sync_file_range` and `fallocate` (Linux's, through ctypes where Python has no
wrapper) and `fdatasync` (not macOS's).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("rp2p.storage")

UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTSOCK}
"""What a call answers where this system or file system does not do it."""


def read_into(fd: int, view: memoryview, offset: int) -> int:
    """Read into `view` from `offset` of the file: the bytes read (fewer only at its end).

    `os.preadv` reads straight into the buffer; without it, `os.pread` and a copy.
    """
    preadv = getattr(os, "preadv", None)
    if preadv is not None:
        count: int = preadv(fd, [view], offset)
        return count
    done = 0
    while done < len(view):
        piece = os.pread(fd, len(view) - done, offset + done)
        if not piece:
            break
        view[done : done + len(piece)] = piece
        done += len(piece)
    return done


def read_cached(fd: int, view: memoryview, offset: int) -> int:
    """Read into `view` from `offset` what the page cache already holds, without waiting for
    the disk (`preadv2` with `RWF_NOWAIT`, Linux): the bytes read, 0 where nothing is cached
    or the call is missing. A file being served is mostly in the cache, so most chunks are
    read right here, not in a worker thread (whose hand-off cost more than the copy)."""
    preadv, nowait = getattr(os, "preadv", None), getattr(os, "RWF_NOWAIT", None)
    if not _nowait_ok or preadv is None or nowait is None:
        return 0
    try:
        count: int = preadv(fd, [view], offset, nowait)
    except BlockingIOError:
        return 0
    except OSError as exc:
        if exc.errno not in UNSUPPORTED:
            raise
        _nowait_refused()
        return 0
    return count


def _nowait_refused() -> None:
    global _nowait_ok
    _nowait_ok = False


_nowait_ok = True


def sendfile_works() -> bool:
    """`os.sendfile` is here, and has not been refused yet (`sendfile_refused`)."""
    return _sendfile_ok and hasattr(os, "sendfile")


def sendfile_refused(exc: OSError) -> bool:
    """Whether `exc` from `os.sendfile` says it cannot be used here; if so it is not used again."""
    global _sendfile_ok
    if exc.errno not in UNSUPPORTED:
        return False
    if _sendfile_ok:
        log.info("sendfile is refused here (%s): files are read and sent instead", exc.strerror)
    _sendfile_ok = False
    return True


_sendfile_ok = True


def lock_exclusively(fd: int) -> bool:
    """Take an `flock` on `fd` without waiting: False if another process holds one.

    Where the file system has no locks (some network file systems), the folder is used without
    one, with a warning: nothing then stops a second peer on the same share.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in UNSUPPORTED | {errno.ENOLCK}:
            raise
        log.warning("this file system cannot lock the share (%s): make sure no other peer "
                    "uses it", exc.strerror)  # fmt: skip
    return True


# --------------------------------------------------------------- writing a download

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
