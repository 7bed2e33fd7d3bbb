"""System calls that not every system has, each with the plain fallback used where it is missing.

The core runs on Linux and macOS (any POSIX system with Python): `os.preadv` (Linux; macOS only
from 11 with a recent Python), `os.sendfile` to a socket (Linux, macOS; some file systems
refuse it), `fcntl.flock` (refused on some network file systems). `O_DIRECT` and
`sync_file_range` are Linux's and fall back in `partial.py`.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os

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
