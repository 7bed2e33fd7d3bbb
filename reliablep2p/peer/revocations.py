"""The players a peer was told are kicked out, kept in its profile folder across restarts.

A peer refuses a kicked certificate whenever it runs: after a restart it does so from its first
connection on, before the database peer's `welcome` says it again, and while that peer is down.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import msgspec
import trio

from ..net.identity import write_private

log = logging.getLogger("rp2p.node")

FILE_NAME = "revoked.json"


class RevocationFile:
    """A sorted JSON list of names, rewritten atomically when it grows; `None`: kept nowhere."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._saved: frozenset[str] = frozenset()
        self._lock = trio.Lock()

    @classmethod
    def in_profile(cls, folder: Path | None) -> RevocationFile:
        return cls(folder / FILE_NAME if folder is not None else None)

    def load(self) -> set[str]:
        """What we were told before (blocks: call it before the node runs)."""
        if self.path is None or not self.path.exists():
            return set()
        try:
            names = msgspec.json.decode(self.path.read_bytes(), type=list[str])
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("ignored %s (%s): the database peer will tell us again", self.path, exc)
            return set()
        self._saved = frozenset(names)
        return set(names)

    async def keep(self, names: Collection[str]) -> None:
        """Write `names` down, unless that is what is there already."""
        if self.path is None:
            return
        async with self._lock:
            now = frozenset(names)
            if now == self._saved:
                return
            data = msgspec.json.encode(sorted(now))
            await trio.to_thread.run_sync(write_private, self.path, data)
            self._saved = now
