"""Where each of many in-process fetchers is, told when a load test stops waiting for them.

Only what the test already sees: each node's events (its step, the bytes of the file it is
getting, who sent its chunks), the swarm's debug lines (each probe's answer, each chunk a node
sent to whom) and the upload slots of the nodes it fetches from. A timeout then says which step
stalled, for whom, and on which source, instead of only that the limit ran out.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from reliablep2p.peer import events
from reliablep2p.peer.node import Node

SWARM_LOG = logging.getLogger("rp2p.swarm")
BUSY_WORDS = ("busy", "too many")
"""How a source says it is too busy (the vault: "serving too many files")."""


class Whereabouts:
    """One fetcher: its step, its progress, and the last things its swarm said."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.step = "starting"
        self.bytes = 0
        self.sources: Counter[str] = Counter()
        self.busy_answers = 0
        self.moved_at = time.monotonic()
        """When it last made progress: a step, or a chunk stored."""
        self.events: list[str] = []
        self.lines: list[str] = []
        self.linked: list[str] = []
        """Who answered its probes `file` (its sources), latest last."""

    def moved(self, step: str) -> None:
        self.step, self.moved_at = step, time.monotonic()

    def heard(self, event: events.Event) -> None:
        if isinstance(event, events.TransferProgress):
            self.bytes = event.done
            self.sources[event.source] += 1
            self.moved_at = time.monotonic()
        elif not isinstance(event, events.PeersChanged | events.MapChanged | events.Scoreboard):
            self.events = [*self.events[-3:], type(event).__name__]

    def said(self, line: str) -> None:
        self.lines = [*self.lines[-7:], line]
        answer = line.rsplit(": ", 1)[-1]
        self.busy_answers += any(word in answer for word in BUSY_WORDS)
        if ": file after" in line:
            self.linked = [*self.linked[-3:], line.split("probe of ", 1)[1].split(" ", 1)[0]]

    def describe(self, now: float, nodes: Mapping[str, Node]) -> str:
        sources = ", ".join(f"{who} x{n}" for who, n in self.sources.most_common(3)) or "none"
        slots = [
            f"{who}'s upload slots: {node.uploads.slots.free} free, "
            f"{node.uploads.slots.waiting()} waiting"
            for who in dict.fromkeys(self.linked)
            if (node := nodes.get(who)) is not None
        ]
        return "\n    ".join([
            f"{self.name}: {self.step}, no progress for {now - self.moved_at:.1f} s,"
            f" {self.bytes} bytes of its file (chunks from {sources}), busy answers"
            f" {self.busy_answers}, events {self.events}", *self.lines, *slots,
        ])  # fmt: skip


class SwarmLines(logging.Handler):
    """The swarm's debug lines handed to the fetcher they are about: a probe (`NAME: probe of
    ...`) to the prober, a chunk sent (`sent chunk I of F to NAME ...`) to its receiver."""

    def __init__(self, fetchers: Mapping[str, Whereabouts]) -> None:
        super().__init__(logging.DEBUG)
        self.fetchers = fetchers

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if line.startswith("sent chunk"):
            who = line.rsplit(" to ", 1)[-1].split(" ", 1)[0]
        else:
            who, _, line = line.partition(": ")
        fetcher = self.fetchers.get(who)
        if fetcher is not None:
            fetcher.said(line)


@contextmanager
def listening(fetchers: Mapping[str, Whereabouts]) -> Iterator[None]:
    """The swarm's debug lines go to `fetchers` while this lasts."""
    handler = SwarmLines(fetchers)
    SWARM_LOG.addHandler(handler)
    SWARM_LOG.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        SWARM_LOG.removeHandler(handler)
        SWARM_LOG.setLevel(logging.NOTSET)


def report(fetchers: Mapping[str, Whereabouts], nodes: Mapping[str, Node]) -> str:
    """Every fetcher not done, longest stalled first, after a count of them by step."""
    now = time.monotonic()
    steps = Counter(who.step for who in fetchers.values())
    stuck = sorted((who for who in fetchers.values() if who.step != "done"),
                   key=lambda who: who.moved_at)  # fmt: skip
    return "\n".join([f"fetchers by step: {dict(steps)}",
                      *(who.describe(now, nodes) for who in stuck)])  # fmt: skip
