"""Which chunk to ask of which source, without I/O: the piece picker and the request schedule.

A `Schedule` is fed what happens to one download (a source joined with the chunks it has, has
more, sent a chunk, sent a bad one, went away) and answers with the requests to send and the
requests to cancel. Every source keeps up to `depth` requests in flight (pipelining). A source
is asked for the rarest chunk it has that nobody is asked for (rarity among the sources we
know; ties broken in an order of our own, so a crowd's fetchers ask the seeder for different
chunks), the first few picks at random, so a fetcher soon has whole chunks to trade. A chunk is
asked of one source at a time, until the *endgame*: once every needed chunk some source has is
asked for, an idle source is asked for a chunk already in flight elsewhere (the one with fewest
copies, asked longest ago, at most `copies` at once): the first copy to arrive wins and the
others are cancelled, so a slow or silent source never holds up the end. With `patience`, a
chunk gets its second copy only once it is late (in flight `patience` times as long as a chunk
has taken to come on average): a 1 MiB copy that loses the race is a MiB sent, received and
thrown away, which a crowd of healthy sources on shared cores pays for in time. The chunks of a
source that goes away are asked of others at once.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

RANDOM_FIRST = 4
"""Picks made at random before rarest-first takes over."""
IN_FLIGHT = 6
"""Requests kept in flight over all sources together (each at least one, at most its `depth`):
one source is streamed from with several requests ahead, a crowd of sources one each, so every
request is chosen from fresh news (what is rare changes by the second when a crowd starts)."""
ENDGAME_COPIES = 2
"""In the endgame, a chunk is in flight at this many sources at most."""
FIRST_GUESS = 1.0
"""Seconds a chunk is taken to need before any has come (for `patience`)."""


@dataclass(frozen=True)
class Request:
    source: Hashable
    index: int


@dataclass(frozen=True)
class Cancel:
    source: Hashable
    index: int


@dataclass
class _Source:
    has: set[int] | None
    """The chunks it can send; None: every chunk (a holder of the whole file)."""
    depth: int
    order: int
    """Sources with free slots are filled in this order (capped sources last)."""
    asked: dict[int, int] = field(default_factory=dict)
    """Chunks in flight from it, with the sequence number of the request."""
    since: dict[int, float] = field(default_factory=dict)
    """When each chunk in flight was asked of it (the schedule's clock)."""


@dataclass
class Actions:
    """What to do after an event: requests to send, requests to cancel."""

    requests: list[Request] = field(default_factory=list)
    cancels: list[Cancel] = field(default_factory=list)


class Schedule:
    """The request schedule of one download: `count` chunks, of which `have` are verified."""

    def __init__(
        self,
        count: int,
        *,
        have: Iterable[int] = (),
        rng: random.Random,
        random_first: int = RANDOM_FIRST,
        copies: int = ENDGAME_COPIES,
        in_flight: int = IN_FLIGHT,
        patience: float = 0.0,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.count = count
        self.needed = set(range(count)) - set(have)
        """Chunks not verified yet."""
        self.free = set(self.needed)
        """Needed chunks nobody is asked for and none is arriving."""
        self.storing: set[int] = set()
        """Chunks that arrived and are being verified and written."""
        self.asked: dict[int, dict[Hashable, int]] = {}
        """Chunk -> the sources it is in flight from (with each request's sequence number)."""
        self.sources: dict[Hashable, _Source] = {}
        self.avail = [0] * count
        """How many live sources have each chunk."""
        ranks = list(range(count))
        rng.shuffle(ranks)
        self._score = ranks  # avail * count + rank: the smallest is the rarest, then ours first
        self._rng = rng
        self._random_first = random_first
        self._copies = copies
        self._in_flight = in_flight
        self._sequence = 0
        self._patience = patience
        self._clock = clock
        self.typical = FIRST_GUESS
        """How long a chunk takes from request to arrival, on average (a moving one)."""
        self._timed = 0
        self.coming = 0
        """Sources expected to join soon (probes under way): the share of each is smaller."""
        self.duplicates = 0
        """Requests made in the endgame for chunks already in flight elsewhere."""

    # ------------------------------------------------------------------------------ state

    @property
    def complete(self) -> bool:
        return not self.needed

    def in_flight(self, source: Hashable) -> int:
        known = self.sources.get(source)
        return len(known.asked) if known else 0

    def wants(self, index: int) -> bool:
        """True if a chunk arriving now would be used (needed, and no copy is being stored)."""
        return index in self.needed and index not in self.storing

    def unavailable(self) -> int:
        """Needed chunks that no live source has (and none is arriving)."""
        return sum(1 for i in self.needed if not self.avail[i] and i not in self.storing)

    def endgame(self) -> bool:
        """Every needed chunk that some source has is asked for already."""
        return not any(self.avail[i] for i in self.free)

    # ----------------------------------------------------------------------------- events

    def first_picks(self, count: int, *, besides: Iterable[int] = ()) -> list[int]:
        """Up to `count` chunks to ask of a source not heard yet (`join(asked=...)`), in our
        own order, leaving out `besides` (what other probes ask for)."""
        skip = set(besides)
        free = [i for i in self.free if i not in skip]
        return sorted(free, key=self._score.__getitem__)[:count]

    def join(
        self,
        source: Hashable,
        has: Iterable[int] | None,
        *,
        depth: int,
        last: bool = False,
        asked: Iterable[int] = (),
    ) -> Actions:
        """A source answered: it has `has` (None: every chunk); keep `depth` requests at it.
        A `last` source (the vault) is filled after the others. `asked`: chunks asked of it
        with the first question, which it sends if it has them."""
        assert source not in self.sources, f"{source!r} joined twice"
        chunks = None if has is None else {i for i in has if 0 <= i < self.count}
        order = len(self.sources) + (1 << 20 if last else 0)
        known = self.sources[source] = _Source(chunks, depth, order)
        self._count_in(range(self.count) if chunks is None else chunks)
        for index in asked:
            if index in self.free and (chunks is None or index in chunks):
                self._sequence += 1
                known.asked[index] = self._sequence
                known.since[index] = self._clock()
                self.asked.setdefault(index, {})[source] = self._sequence
                self.free.discard(index)
        return self._fill()

    def learned(self, source: Hashable, indices: Iterable[int]) -> Actions:
        """A source has more chunks now."""
        known = self.sources.get(source)
        if known is None or known.has is None:
            return Actions()
        new = {i for i in indices if 0 <= i < self.count} - known.has
        known.has |= new
        self._count_in(new)
        return self._fill()

    def arrived(self, source: Hashable, index: int) -> tuple[bool, Actions]:
        """Chunk `index` arrived from `source`: whether to store it (False: a copy is here
        already, or it is not needed), and what to do now (its slot is free; in the endgame,
        the other copies in flight are cancelled)."""
        known = self.sources.get(source)
        if known is not None:
            known.asked.pop(index, None)
            since = known.since.pop(index, None)
            if since is not None:
                self._time(self._clock() - since)
        actions = Actions()
        wanted = self.wants(index)
        at = self.asked.get(index, {})
        at.pop(source, None)
        if wanted:
            self.storing.add(index)
            self.free.discard(index)
            for other in at:
                self.sources[other].asked.pop(index, None)
                self.sources[other].since.pop(index, None)
                actions.cancels.append(Cancel(other, index))
            self.asked.pop(index, None)
        elif not at:
            self.asked.pop(index, None)
        actions.requests = self._fill().requests
        return wanted, actions

    def spread(self, indices: Iterable[int]) -> None:
        """A source began sending these chunks to others: they count as one copy more in the
        crowd, so they are picked after chunks nobody is getting yet."""
        for index in indices:
            if 0 <= index < self.count:
                self._score[index] += self.count

    def stored(self, index: int) -> None:
        """Chunk `index` was verified and written."""
        self.storing.discard(index)
        self.needed.discard(index)

    def corrupt(self, source: Hashable, index: int) -> Actions:
        """Chunk `index` from `source` failed verification: it is needed again, and `source` is
        dropped (its other chunks are asked of others)."""
        if index in self.storing:
            self.storing.discard(index)
            if index not in self.asked:
                self.free.add(index)
        return self.leave(source)

    def leave(self, source: Hashable) -> Actions:
        """`source` is gone (dead, stalled, sent bad bytes): its chunks are asked of others."""
        known = self.sources.pop(source, None)
        if known is None:
            return self._fill()
        for index in known.asked:
            self._release(index, source)
        for index in range(self.count) if known.has is None else known.has:
            self.avail[index] -= 1
            self._score[index] -= self.count
        return self._fill()

    def cancelled(self, source: Hashable, index: int) -> None:
        """We withdrew a request ourselves (not one of the schedule's own cancels)."""
        known = self.sources.get(source)
        if known is not None and known.asked.pop(index, None) is not None:
            known.since.pop(index, None)
            self._release(index, source)

    def _release(self, index: int, source: Hashable) -> None:
        """`source` no longer has `index` asked of it: free again if nobody else has."""
        at = self.asked.get(index, {})
        at.pop(source, None)
        if not at:
            self.asked.pop(index, None)
            if self.wants(index):
                self.free.add(index)

    # ---------------------------------------------------------------------------- picking

    def fill(self) -> Actions:
        """Requests for every free slot (after changing sources by other means, or at
        `late_at()`)."""
        return self._fill()

    def late_at(self) -> float:
        """When the next chunk in flight becomes late enough for a second copy (`patience`),
        if it is not yet: the time to `fill()` again (inf: no such chunk, or no patience)."""
        if not self._patience or not self.endgame():
            return math.inf
        now, wait = self._clock(), self._patience * self.typical
        due = math.inf
        for index, at in self.asked.items():
            if len(at) < self._copies:
                first = self._first_asked(index, at)
                if first + wait > now:
                    due = min(due, first + wait)
        return due

    def _first_asked(self, index: int, at: dict[Hashable, int]) -> float:
        return min((self.sources[s].since.get(index, math.inf) for s in at), default=math.inf)

    def _late(self, index: int, at: dict[Hashable, int]) -> bool:
        if not self._patience:
            return True
        return self._clock() - self._first_asked(index, at) >= self._patience * self.typical

    def _time(self, seconds: float) -> None:
        """A chunk took `seconds` from request to arrival: into the moving average."""
        self._timed += 1
        weight = max(1 / self._timed, 0.2)
        self.typical += weight * (max(seconds, 0.0) - self.typical)

    def _count_in(self, indices: Iterable[int]) -> None:
        for index in indices:
            self.avail[index] += 1
            self._score[index] += self.count

    def depth(self, source: Hashable) -> int:
        """Requests `source` may have in flight now (its `_share`, within its cap)."""
        return min(self.sources[source].depth, self._share())

    def _share(self) -> int:
        """Requests each source may have in flight now (within its own cap): its share of
        `IN_FLIGHT` among the sources there are and those expected soon (`coming`)."""
        return max(1, self._in_flight // max(1, len(self.sources) + self.coming))

    def _fill(self) -> Actions:
        """Every source's free slots filled. It runs after every event (hundreds of times a
        round in a crowd's fetcher), so the share and the endgame are worked out once a fill,
        the endgame again only after a pick shrank the free chunks."""
        actions = Actions()
        share = self._share()
        endgame: bool | None = None  # not known yet
        for source, known in sorted(self.sources.items(), key=lambda item: item[1].order):
            while len(known.asked) < min(known.depth, share):
                candidates = self.free if known.has is None else known.has & self.free
                if candidates:
                    index: int | None = self._choose(candidates)
                    endgame = None  # one chunk fewer is free: it may have begun
                else:
                    if endgame is None:
                        endgame = self.endgame()
                    index = self._copy_for(source, known) if endgame else None
                if index is None:
                    break
                self._sequence += 1
                known.asked[index] = self._sequence
                known.since[index] = self._clock()
                at = self.asked.setdefault(index, {})
                if at:
                    self.duplicates += 1
                at[source] = self._sequence
                self.free.discard(index)
                actions.requests.append(Request(source, index))
        return actions

    def _choose(self, candidates: set[int]) -> int:
        """The chunk to ask for among `candidates`: at random at first, then the rarest."""
        if self._sequence < self._random_first:
            return self._rng.choice(sorted(candidates))
        return min(candidates, key=self._score.__getitem__)

    def _copy_for(self, source: Hashable, known: _Source) -> int | None:
        """In the endgame, a chunk in flight elsewhere to ask of `source` too, if any."""
        best: tuple[int, int] | None = None
        chosen = None
        for index, at in self.asked.items():
            if source in at or len(at) >= self._copies:
                continue
            if known.has is not None and index not in known.has:
                continue
            if not self._late(index, at):
                continue  # its source may well deliver in time: no copy to throw away
            rank = (len(at), min(at.values()))
            if best is None or rank < best:
                best, chosen = rank, index
        return chosen
