"""What a source link has to tell its fetcher besides chunks, and when: sans-IO, time passed in.

In a crowd every chunk a peer verifies is news (`have`) on each of its source links, and every
chunk a holder is asked for is a hint (`sent`) on each of its others: one small message per
chunk per link, each a TLS record, a system call and a wake-up at both ends, on cores a flash
crowd keeps busy. So news goes out at most every `TELL_EVERY` seconds: the first at once, what
comes in the next quarter second together, in one write; or sooner, once `TELL_CHUNKS` chunks
are waiting to be told (on a fast link a quarter second is many chunks, news too late to trade).
A chunk verified while the link is idle (nothing its fetcher asked for waits or goes out now)
is told at once, whatever the pace: that fetcher has nothing to take from us until it hears (at
a crowd's start, every chunk of the first few is such news; a 9-round A/B on the simulated LAN,
N=6 median 4.36 -> 4.18 s, N=12 5.39 -> 5.31 s, issue 14).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...proto import Crowd, Have, Message, PeerInfo, Sent
from .crowd import CROWD_TOLD

TELL_EVERY = 0.25
"""Seconds between two tellings of news on one link, at least (at 100 Mbit/s about 3 chunks)..."""
TELL_CHUNKS = 4
"""...unless this many chunks wait to be told (at 1 Gbit/s a quarter second is 30 chunks)."""


@dataclass
class News:
    """The news one link has not told yet, and when it last told some."""

    every: float = TELL_EVERY
    enough: int = TELL_CHUNKS
    have: list[int] = field(default_factory=list)
    spread: list[int] = field(default_factory=list)
    crowd: list[PeerInfo] = field(default_factory=list)
    told_at: float = -math.inf

    @property
    def pending(self) -> bool:
        return bool(self.have or self.spread or self.crowd)

    def due_at(self, idle: bool = False) -> float:
        """When what is pending may go out: at once after a quiet spell, with `enough`
        chunks waiting or a chunk to tell an `idle` link, else a pace after the last telling
        (never, with nothing pending)."""
        if not self.pending:
            return math.inf
        if len(self.have) + len(self.spread) >= self.enough or (idle and self.have):
            return -math.inf
        return self.told_at + self.every

    def take(self, now: float, idle: bool = False) -> list[Message]:
        """The messages to send now (none before `due_at`), the news emptied."""
        if now < self.due_at(idle):
            return []
        messages: list[Message] = []
        if self.have:
            messages.append(Have(self.have))
        if self.spread:
            messages.append(Sent(self.spread))
        if self.crowd:
            messages.append(Crowd(self.crowd[:CROWD_TOLD]))
        self.have, self.spread, self.crowd = [], [], []
        self.told_at = now
        return messages
