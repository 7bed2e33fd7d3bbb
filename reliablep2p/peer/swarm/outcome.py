"""What one download yields (`Outcome`, or `NoSource` when nobody could provide the file), and
the chunk buffers it reuses: the plain parts of `engine.SwarmFetch`, kept apart so it stays
readable."""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

import trio

from ...proto import PeerInfo
from ..peerlist import Addr


class NoSource(Exception):
    """No source could provide the file; `busy` if some holder was only too busy to."""

    def __init__(self, failures: list[str], *, busy: bool) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures
        self.busy = busy


@dataclass
class Outcome:
    sources: dict[str, int] = field(default_factory=dict)
    """Bytes verified from each source, by label, in the order their first chunk was."""
    holders: dict[Addr, PeerInfo] = field(default_factory=dict)
    """Peers holding the whole file that sent us chunks (for the address book)."""
    wasted: int = 0
    """Bytes that arrived twice (endgame copies that lost the race)."""


class BufferPool:
    """At most `limit` page-aligned chunk buffers, made on first use and reused."""

    def __init__(self, limit: int) -> None:
        self._free: list[memoryview] = []
        self._places = trio.Semaphore(limit)

    async def take(self) -> memoryview:
        await self._places.acquire()
        return self._free.pop() if self._free else memoryview(mmap.mmap(-1, 1 << 20))

    def give(self, buffer: memoryview) -> None:
        self._free.append(buffer)
        self._places.release()
