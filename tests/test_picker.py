"""The piece picker and the request schedule, without sockets (`peer/swarm/picker.py`).

A state machine drives one `Schedule` with random sources (some holding the whole file, some
a few chunks, learning more), random arrivals, bad chunks and sources that die, and checks
after every step: nothing is asked twice outside the endgame (and, with patience, only once a
chunk is late), a dead source's chunks are asked of the others, and every source with a free
slot and a needed chunk is kept busy.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reliablep2p.peer.swarm.picker import ENDGAME_COPIES, Actions, Schedule

COUNT = 24


class Swarm(RuleBasedStateMachine):
    """One download of `COUNT` chunks; `flights` is our own record of what is asked of whom."""

    @initialize(
        seed=st.integers(0, 2**32),
        have=st.sets(st.integers(0, COUNT - 1), max_size=6),
        patience=st.sampled_from([0.0, 2.0]),
    )
    def start(self, seed: int, have: set[int], patience: float) -> None:
        self.now = 0.0
        self.patience = patience
        self.schedule = Schedule(COUNT, have=have, rng=random.Random(seed), patience=patience,
                                 clock=lambda: self.now)  # fmt: skip
        self.asked_at: dict[tuple[int, int], float] = {}  # (source, chunk) -> when asked
        self.verified = set(have)
        self.flights: dict[int, set[int]] = {}  # source -> chunks asked of it
        self.has: dict[int, set[int]] = {}
        self.depth: dict[int, int] = {}
        self.arriving: dict[int, int] = {}  # chunk -> the source whose copy is being stored
        self.stored_twice: list[int] = []
        self.next_source = 0

    # ---------------------------------------------------------------------- bookkeeping

    def apply(self, actions: Actions) -> None:
        for cancel in actions.cancels:
            self.flights[cancel.source].discard(cancel.index)
        for request in actions.requests:
            source, index = request.source, request.index
            assert index in self.has[source], f"asked {source} for {index}, which it lacks"
            assert index not in self.verified and index not in self.arriving
            others = [s for s, chunks in self.flights.items() if index in chunks and s != source]
            if others:  # a second copy: only in the endgame, and only so many
                assert self.schedule.endgame(), f"{index} asked twice outside the endgame"
                assert len(others) < ENDGAME_COPIES
                first = min(self.asked_at[other, index] for other in others)
                late = self.patience * self.schedule.typical
                assert self.now - first >= late, f"{index} doubled before it was late"
            self.asked_at[source, index] = self.now
            assert index not in self.flights[source]
            self.flights[source].add(index)
            assert len(self.flights[source]) <= self.depth[source]

    # ---------------------------------------------------------------------------- rules

    @rule(
        whole=st.booleans(),
        chunks=st.sets(st.integers(0, COUNT - 1), max_size=COUNT),
        depth=st.integers(1, 4),
        last=st.booleans(),
    )
    def join(self, whole: bool, chunks: set[int], depth: int, last: bool) -> None:
        source = self.next_source
        self.next_source += 1
        self.has[source] = set(range(COUNT)) if whole else set(chunks)
        self.depth[source] = depth
        self.flights[source] = set()
        self.apply(self.schedule.join(source, None if whole else chunks, depth=depth, last=last))

    @rule(seconds=st.floats(0.1, 3.0))
    def time_passes(self, seconds: float) -> None:
        """The engine fills again at `late_at()`: any second copy must be of a late chunk."""
        self.now += seconds
        self.apply(self.schedule.fill())

    @precondition(lambda self: self.has)
    @rule(data=st.data())
    def learns(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(sorted(self.has)))
        new = data.draw(st.sets(st.integers(0, COUNT - 1), max_size=6))
        self.has[source] |= new
        self.apply(self.schedule.learned(source, new))

    @precondition(lambda self: any(self.flights.values()))
    @rule(data=st.data())
    def arrives(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(sorted(s for s, f in self.flights.items() if f)))
        index = data.draw(st.sampled_from(sorted(self.flights[source])))
        self.flights[source].discard(index)
        wanted, actions = self.schedule.arrived(source, index)
        assert wanted == (index not in self.verified and index not in self.arriving)
        if wanted:
            self.arriving[index] = source
        self.apply(actions)
        if wanted:  # the other copies in flight were cancelled
            assert not any(index in chunks for chunks in self.flights.values())

    @precondition(lambda self: self.arriving)
    @rule(data=st.data(), good=st.booleans())
    def verified_or_not(self, data: st.DataObject, good: bool) -> None:
        index = data.draw(st.sampled_from(sorted(self.arriving)))
        source = self.arriving.pop(index)
        if good:
            self.schedule.stored(index)
            if index in self.verified:
                self.stored_twice.append(index)
            self.verified.add(index)
        else:
            self.drop(source, self.schedule.corrupt(source, index))

    @precondition(lambda self: self.has)
    @rule(data=st.data())
    def dies(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(sorted(self.has)))
        self.drop(source, self.schedule.leave(source))

    def drop(self, source: int, actions: Actions) -> None:
        orphans = self.flights.pop(source, set())
        self.has.pop(source, None)
        self.depth.pop(source, None)
        self.apply(actions)
        for index in orphans:  # asked of another source that has it, or free again
            if index in self.verified or index in self.arriving:
                continue
            asked = any(index in chunks for chunks in self.flights.values())
            assert asked or index in self.schedule.free

    # ----------------------------------------------------------------------- invariants

    @invariant()
    def nothing_stored_twice(self) -> None:
        assert not self.stored_twice

    @invariant()
    def our_record_agrees(self) -> None:
        for source, chunks in self.flights.items():
            assert self.schedule.in_flight(source) == len(chunks)
        assert self.schedule.needed == set(range(COUNT)) - self.verified

    @invariant()
    def every_source_that_can_help_is_kept_busy(self) -> None:
        free = set(range(COUNT)) - self.verified - set(self.arriving)
        free -= {i for chunks in self.flights.values() for i in chunks}
        for source, chunks in self.flights.items():
            assert self.schedule.depth(source) <= self.depth[source]
            if len(chunks) < self.schedule.depth(source):
                assert not (self.has[source] & free), f"{source} idles with chunks to give"


TestSwarm = Swarm.TestCase
TestSwarm.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    sources=st.lists(st.tuples(st.booleans(), st.integers(1, 4)), min_size=1, max_size=6),
    deaths=st.integers(0, 3),
)
def test_a_download_always_completes_while_a_live_source_has_every_chunk(
    seed: int, sources: list[tuple[bool, int]], deaths: int
) -> None:
    """Arrivals in random order, some sources dying mid-way: every chunk arrives once (copies
    only in the endgame), and the download completes from the one holder that stays."""
    rng = random.Random(seed)
    schedule = Schedule(COUNT, rng=random.Random(seed + 1))
    flights: dict[int, set[int]] = {}

    def apply(actions: Actions) -> None:
        for cancel in actions.cancels:
            flights[cancel.source].discard(cancel.index)
        for request in actions.requests:
            flights[request.source].add(request.index)  # type: ignore[index]

    flights[0] = set()
    apply(schedule.join(0, None, depth=2))  # the holder that stays
    for key, (whole, depth) in enumerate(sources, start=1):
        flights[key] = set()
        chunks = None if whole else {i for i in range(COUNT) if rng.random() < 0.5}
        apply(schedule.join(key, chunks, depth=depth))
    arrivals = 0
    while not schedule.complete:
        busy = [s for s, f in flights.items() if f]
        assert busy, "nothing in flight, yet chunks are missing"
        source = rng.choice(busy)
        if deaths and source and rng.random() < 0.05:
            deaths -= 1
            del flights[source]
            apply(schedule.leave(source))
            continue
        index = rng.choice(sorted(flights[source]))
        flights[source].discard(index)
        wanted, actions = schedule.arrived(source, index)
        apply(actions)
        arrivals += 1
        if wanted:
            schedule.stored(index)
    assert arrivals <= COUNT + schedule.duplicates


def test_the_rarest_chunk_is_asked_first_after_the_random_picks() -> None:
    schedule = Schedule(10, rng=random.Random(1), random_first=0)
    schedule.join("a", {0, 1, 2, 3, 4}, depth=1)
    actions = schedule.join("b", set(range(10)), depth=1)  # 5..9 only b has: rarer
    assert actions.requests and all(r.index >= 5 for r in actions.requests)
    assert schedule.sources["a"].asked.keys() <= {0, 1, 2, 3, 4}


def test_fetchers_of_one_crowd_ask_the_seeder_for_different_chunks_first() -> None:
    firsts = set()
    for seed in range(8):
        schedule = Schedule(64, rng=random.Random(seed))
        actions = schedule.join("seeder", None, depth=4)
        firsts.add(tuple(sorted(r.index for r in actions.requests)))
    assert len(firsts) == 8


def test_the_endgame_asks_an_idle_source_for_a_slow_ones_chunk_and_cancels_the_loser() -> None:
    schedule = Schedule(3, have={0, 1}, rng=random.Random(0))
    slow = schedule.join("slow", None, depth=1)
    assert [r.index for r in slow.requests] == [2]
    fast = schedule.join("fast", None, depth=1)  # nothing free: the last chunk, a second copy
    assert [(r.source, r.index) for r in fast.requests] == [("fast", 2)]
    wanted, actions = schedule.arrived("fast", 2)
    assert wanted and [(c.source, c.index) for c in actions.cancels] == [("slow", 2)]
    late, _ = schedule.arrived("slow", 2)
    assert not late  # the loser's copy, if it comes anyway, is not stored
    schedule.stored(2)
    assert schedule.complete


def test_the_vault_joined_last_gets_what_the_peers_leave_of_a_dead_sources_chunks() -> None:
    schedule = Schedule(4, rng=random.Random(0), random_first=0, copies=1)
    schedule.join("dying", None, depth=4)
    schedule.join("vault", None, depth=2, last=True)  # joined before the peer, filled after it
    schedule.join("peer", None, depth=3)
    actions = schedule.leave("dying")
    assert sorted(r.source for r in actions.requests) == ["peer", "peer", "peer", "vault"]


def test_with_patience_the_endgame_doubles_a_chunk_only_once_it_is_late() -> None:
    """A healthy source's last chunk is not asked twice (the loser's MiB would be thrown away);
    one that takes twice as long as chunks have been taking is, and `late_at` says when."""
    now = [0.0]
    schedule = Schedule(4, have={0, 1}, rng=random.Random(0), random_first=0, patience=2.0,
                        clock=lambda: now[0])  # fmt: skip
    schedule.join("a", None, depth=1)
    schedule.join("b", None, depth=1)  # each has one of the two last chunks in flight
    now[0] = 0.5
    _, actions = schedule.arrived("a", schedule.sources["a"].asked.copy().popitem()[0])
    assert not actions.requests  # b's chunk is 0.5 s old; chunks take 0.5 s: not late
    assert schedule.typical == 0.5 and schedule.late_at() == 1.0  # 2 x 0.5 after it was asked
    now[0] = 0.9
    assert not schedule.fill().requests
    now[0] = 1.0
    (copy,) = schedule.fill().requests
    assert copy.source == "a" and copy.index in schedule.sources["b"].asked
