"""A kick's report: which online players refuse the kicked name now, on every database peer.

The database peer the host's `rp2p-db kick` reached waits for its own players' `refusing`;
with several database peers it also says `Kicked` on the bus with the time the kick waits.
Each other one waits for its own players (a little less long, so its answer comes back in
time) and answers `KickHeard`. The report counts them all; the players of a database peer
that did not answer in time are reported not told.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import trio

from ..peer.peerlist import Addr
from ..proto import PeerInfo, bus
from .sessions import Session

ANSWER_MARGIN = 1.0
"""How much sooner than the kick's wait another database peer answers, at most."""


def answer_within(wait: float) -> float:
    """How long another database peer waits for its players before it answers a kick."""
    return max(0.0, wait - min(ANSWER_MARGIN, wait / 4))


async def refusals(
    sessions: Iterable[Session], name: str, wait: float
) -> tuple[list[str], list[str]]:
    """Wait up to `wait` s for these sessions' players (but `name`'s) to refuse `name`: the
    players who did, and those who did not."""
    others = [s for s in sessions if s.peer.name != name]
    with trio.move_on_after(wait):
        async with trio.open_nursery() as nursery:
            for session in others:
                nursery.start_soon(session.refuses, name)
    told = sorted(s.peer.name for s in others if name in s.refusing)
    not_told = sorted(s.peer.name for s in others if name not in s.refusing)
    return told, not_told


class _Gathering:
    def __init__(self, members: Collection[str]) -> None:
        self.expected = set(members)
        self.heard: dict[str, bus.KickHeard] = {}
        self.done = trio.Event()

    def take(self, answer: bus.KickHeard) -> None:
        if answer.sender in self.expected:
            self.heard[answer.sender] = answer
            if self.heard.keys() >= self.expected:
                self.done.set()


class KickReports:
    """The kicking database peer's side: the other database peers' answers, gathered."""

    def __init__(self) -> None:
        self._gatherings: dict[str, list[_Gathering]] = {}

    async def gather(
        self,
        name: str,
        members: Collection[str],
        theirs: Mapping[str, Mapping[Addr, PeerInfo]],
        wait: float,
    ) -> tuple[list[str], list[str]]:
        """Wait up to `wait` s for every one of `members` to answer about `name`; who of their
        players refuse it, and who did not say so (all the players of a silent one, as
        `theirs` lists them)."""
        gathering = _Gathering(members)
        online = {m: [p.name for p in theirs.get(m, {}).values() if p.name != name]
                  for m in gathering.expected}  # fmt: skip
        self._gatherings.setdefault(name, []).append(gathering)
        try:
            if gathering.expected:
                with trio.move_on_after(wait):
                    await gathering.done.wait()
        finally:
            waiting = self._gatherings[name]
            waiting.remove(gathering)
            if not waiting:
                del self._gatherings[name]
        told: set[str] = set()
        not_told: set[str] = set()
        for member in gathering.expected:
            if (answer := gathering.heard.get(member)) is not None:
                told.update(answer.told)
                not_told.update(answer.not_told)
            else:
                not_told.update(online[member])
        return sorted(told), sorted(not_told - told)

    def heard(self, answer: bus.KickHeard) -> None:
        for gathering in self._gatherings.get(answer.name, []):
            gathering.take(answer)
