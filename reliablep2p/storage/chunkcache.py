"""A bounded folder of recently read chunks, so an object-store vault is not read whole per
request: many players proving or fetching one round's targets read each chunk from the object
store once. Only a cache: entries are checked by their reader (each is named by its hash) and
written without fsync; the least recently used go first once `max_bytes` is reached.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections import OrderedDict
from pathlib import Path


class ChunkCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        """Take over what an earlier run cached (oldest use first); drop unfinished writes."""
        self.root.mkdir(parents=True, exist_ok=True)
        found = []
        for path in self.root.iterdir():
            if path.suffix == ".tmp":
                path.unlink(missing_ok=True)
            elif path.is_file():
                stat = path.stat()
                found.append((stat.st_mtime_ns, path.name, stat.st_size))
        with self._lock:
            for _, name, size in sorted(found):
                self._sizes[name] = size
                self._total += size
        self._evict()

    def get(self, key: str) -> bytes | None:
        try:
            data = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        with self._lock:
            if key in self._sizes:
                self._sizes.move_to_end(key)
        with contextlib.suppress(OSError):
            os.utime(self.root / key)  # the order survives a restart
        return data

    def put(self, key: str, data: bytes | memoryview) -> None:
        if len(data) > self.max_bytes:
            return
        part = self.root / f"{key}-{secrets.token_hex(4)}.tmp"
        try:
            with part.open("wb") as out:
                out.write(data)
            os.replace(part, self.root / key)
        except OSError:  # a full or broken cache disk costs speed, nothing else
            part.unlink(missing_ok=True)
            return
        with self._lock:
            self._total += len(data) - self._sizes.pop(key, 0)
            self._sizes[key] = len(data)
        self._evict()

    def discard(self, key: str) -> None:
        with self._lock:
            self._total -= self._sizes.pop(key, 0)
        (self.root / key).unlink(missing_ok=True)

    def _evict(self) -> None:
        while True:
            with self._lock:
                if self._total <= self.max_bytes or not self._sizes:
                    return
                key, size = self._sizes.popitem(last=False)
                self._total -= size
            (self.root / key).unlink(missing_ok=True)
