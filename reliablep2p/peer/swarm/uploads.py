"""A peer's uploads: a few slots shared round-robin among the peers asking, and a rate cap.

`FairSlots`: each chunk sent takes a slot for its length; a requester waiting for one is served
in turn with the others, never behind every queued request of a first-come fetcher. Among those
waiting, one whose next chunk has gone out fewer times goes first (`priority`): when a crowd all
asks one seeder at once, its upload goes to chunks nobody has yet, and the crowd trades the
rest. `RateLimit` is a token bucket over all uploads (`--max-upload`); its arithmetic is
`TokenBucket`, without I/O.
"""

from __future__ import annotations

import contextlib
import mmap
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable

import trio

from ...proto import CHUNK_SIZE

UPLOAD_SLOTS = 6
"""Chunks sent at once; more requesters wait their turn, round-robin. Measured on the LAN
flash crowd (12 fetchers, 100 Mbit/s links): 2 slots 1.6x the ideal, 4 1.43x, 6 1.35x, 8 1.40x;
likely because a few chunks more at once keep an uplink busy while some fetchers' downlinks
are full."""


class FairSlots:
    """`slots` places, handed out round-robin among requesters (by key), each with a chunk
    buffer of its own (made on first use), so uploads never hold more than `slots` buffers."""

    def __init__(self, slots: int = UPLOAD_SLOTS) -> None:
        self.free = slots
        self._waiting: dict[Hashable, deque[tuple[trio.Event, Callable[[], int]]]] = {}
        """Requesters with someone waiting, in turn order (served ones go to the back)."""
        self._buffers: list[memoryview] = []

    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @contextlib.asynccontextmanager
    async def turn(
        self, requester: Hashable, priority: Callable[[], int] = lambda: 0
    ) -> AsyncIterator[memoryview]:
        """Wait for a slot in `requester`'s turn; yields a chunk-sized page-aligned buffer.

        `priority()` is asked when a slot frees: the lowest waiting goes first, ties in turn.
        """
        if self.free > 0 and not self._waiting:
            self.free -= 1
            await trio.lowlevel.cancel_shielded_checkpoint()  # cancelled here, it kept the slot
        else:
            granted = trio.Event()
            self._waiting.setdefault(requester, deque()).append((granted, priority))
            try:
                await granted.wait()
            except BaseException:
                if granted.is_set():
                    self._release()  # it was handed to us as we were cancelled: pass it on
                else:
                    self._withdraw(requester, granted)
                raise
        buffer = self._buffers.pop() if self._buffers else memoryview(mmap.mmap(-1, CHUNK_SIZE))
        try:
            yield buffer
        finally:
            self._buffers.append(buffer)
            self._release()

    def _withdraw(self, requester: Hashable, granted: trio.Event) -> None:
        queue = self._waiting.get(requester)
        if queue is not None:
            for entry in queue:
                if entry[0] is granted:
                    queue.remove(entry)
                    break
            if not queue:
                del self._waiting[requester]

    def _release(self) -> None:
        chosen: Hashable = None
        best = 0
        for requester, queue in self._waiting.items():  # in turn order: ties go to the first
            rank = queue[0][1]()
            if chosen is None or rank < best:
                chosen, best = requester, rank
        if chosen is None:
            self.free += 1
            return
        queue = self._waiting.pop(chosen)
        granted, _ = queue.popleft()
        if queue:
            self._waiting[chosen] = queue  # to the back of the turn order
        granted.set()


class TokenBucket:
    """A rate cap's arithmetic: `rate` bytes a second, up to `burst` saved up; sending more than
    the bucket holds runs into debt, paid back by waiting."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp: float | None = None

    def take(self, amount: int, now: float) -> float:
        """Take `amount` bytes at time `now`; how long to wait before sending them."""
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= amount
        return max(0.0, -self.tokens / self.rate)


class RateLimit:
    """All of a peer's uploads under one token bucket (None: no cap)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._bucket = TokenBucket(rate, burst=max(rate / 10, 128 * 1024)) if rate else None

    async def take(self, amount: int) -> None:
        """Wait until `amount` bytes may go out (a checkpoint, even when uncapped)."""
        wait = self._bucket.take(amount, trio.current_time()) if self._bucket else 0.0
        if wait > 0:
            await trio.sleep(wait)
        else:
            await trio.lowlevel.checkpoint()


class Uploads:
    """What every upload of a node shares: the fair slots and the rate cap."""

    def __init__(self, *, slots: int = UPLOAD_SLOTS, max_rate: float | None = None) -> None:
        self.slots = FairSlots(slots)
        self.limit = RateLimit(max_rate)


_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "ki": 1024, "mi": 1024**2, "gi": 1024**3}
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*(ki|mi|gi|k|m|g)?(b|bit|bits)?(/s|ps)?", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """A rate as bytes per second: ``50M`` (50,000,000 B/s), ``10MiB/s``, ``100mbit``, ``800k``;
    raises ValueError with one line for people."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a rate (say 50M, 10MiB/s or 100mbit)")
    number, prefix, unit, _ = match.groups()
    rate = float(number) * _UNITS[(prefix or "").lower()]
    if unit and unit.lower().startswith("bit"):
        rate /= 8
    if rate < 1024:
        raise ValueError(f"{text!r} is below 1 KiB/s: too slow to send a chunk")
    return rate
