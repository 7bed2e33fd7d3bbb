"""Whom a download asks next, and when the vault is due, without I/O: a search that cannot be
stalled.

Fed the state of the download at each step (does some needed chunk lie on no source we have,
how many sources are linked, is the vault one of them, when did a chunk last land), a `Finder`
says which peers to probe now, and when to look again. Up to `PROBES_AT_ONCE` known holders and
crowd peers are probed at once, random peers one at a time while a chunk is missing (beside the
crowd's probes for a file of `CROWD_CHUNKS` or more: a crowd that all asks at once knows only
itself, and finds the holder by random probes alone); a small file wants few sources (unless
they lack what it needs), and peers still fetching it are `CROWD_SOURCES` of them at most
(crowd and random probes wait while that many are linked). A holder too busy is asked again
later (1, 2, 4, 8 s), while we need what it has. The vault joins once a needed chunk has been
on no source for `VAULT_AFTER` seconds, at once for a file rare in a crowd (`RARE_HOLDERS`), or
at once when nobody is left to ask (a busy holder does not keep it waiting); a busy
vault is asked again the same way, a little earlier or later at random (a crowd it turned away
does not come back all at once), and the search waits for it (it holds every file) for
`VAULT_PATIENCE` at most. With nothing left at all, the search gives up
after `HOPELESS` seconds without a chunk (at once, with no source linked).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from ...proto import PeerInfo
from ..peerlist import Addr
from ..search import OneSource, SearchPlan
from .crowd import CROWD_CHUNKS

PROBES_AT_ONCE = 4
MAX_SOURCES = 16
"""Sources one download links at most, while some chunk it needs is on none of them."""
ENOUGH_SOURCES = 8
"""...and once every chunk it needs is on one: more cost CPU and bring no bytes a downlink lacks.
Each costs both ends a TLS handshake, a link's tasks and its news (`have`, `sent`, `crowd`,
pings), and a flash crowd is CPU-bound: at N=12 on 100 Mbit/s links, 16 sources each used
about 10 % more CPU a round than 8 (issue 14). While a chunk is on no source the search goes on
(up to `MAX_SOURCES`), so a crowd of peers still fetching never hides the seeder."""
CROWD_SOURCES = 5
"""Peers still fetching the file (and crowd and random peers being probed, who may be) one
download links at most, besides holders and the vault; while no peer holding it whole is linked,
random probes go on beside (one at a time, while a chunk is on no source): the seeder a crowd
does not know of is found by them alone. At N=12 each fetcher linked about 8 of the other 11
and was CPU-bound: each link costs both ends a TLS handshake, its tasks and its news, and 5
crowd sources with the seeder and the vault keep a 100 Mbit/s downlink full (issue 14)."""
VAULT_AFTER = 3.0
"""A needed chunk on no source for this long brings in the vault."""
RARE_HOLDERS = 1
"""A file of `CROWD_CHUNKS` or more that at most this many linked peers hold whole, while others
link fetching it too, is rare in a crowd: the vault is brought in at once, as one capped source.
At a round's start every player fetches the new target from its one holder, and until fetchers
have whole chunks to trade that holder's uplink is all the swarm has: the vault's doubles it."""
HOPELESS = 10.0
"""With nobody left to ask, a needed chunk on no source for this long ends the get."""
REASK_FIRST, REASK_CAP = 1.0, 8.0
VAULT_PATIENCE = 60.0
"""A busy vault is asked again until it has been busy this long (about 10 asks): a get waits for
the backup of every file rather than fail, but not for ever. It is twice the span of `fetch`'s
own retries of a get that found every source busy, which do not start over after it (see
`waited_out`): a vault that stays full ends a get once, after about a minute, not 7 times over."""


@dataclass
class Step:
    """What to do now: probe these peers (each with whether it is the vault), give up or not,
    and look again at `wake_at` at the latest."""

    probes: list[tuple[PeerInfo, bool]] = field(default_factory=list)
    give_up: bool = False
    wake_at: float = math.inf


class Finder:
    """The search of one download: a `SearchPlan` asked with deadlines."""

    def __init__(
        self,
        plan: SearchPlan | OneSource,
        *,
        count: int,
        now: float,
        rng: random.Random | None = None,
    ) -> None:
        self.plan = plan
        self.count = count
        self.probing: set[Addr] = set()
        self.vault_asked = isinstance(plan, OneSource)
        self.waited_out = False
        """The vault stayed busy for `VAULT_PATIENCE`: it is not asked again in this get."""
        self._later: dict[Addr, tuple[PeerInfo, float, bool]] = {}
        """Busy holders (and the vault: True) to ask again, and when."""
        self._backoff: dict[Addr, float] = {}
        self._vault_busy_since: float | None = None
        self._rng = rng
        self._missing_since: float | None = now
        self._random: Addr | None = None
        """The random peer probed last."""
        self._stuck_since: float | None = None
        self._crowd_probing: set[Addr] = set()
        """Crowd and random peers being probed (each may become a crowd source)."""

    def ask_later(self, peer: PeerInfo, now: float, *, vault: bool = False) -> None:
        """`peer` holds the file but was too busy: ask again after a while (longer each time).
        The vault is waited for (`VAULT_PATIENCE`), each wait drawn from half to 1.5 times."""
        wait = min(2 * self._backoff.get(peer.addr, REASK_FIRST / 2), REASK_CAP)
        self._backoff[peer.addr] = wait
        if vault:
            if self._vault_busy_since is None:
                self._vault_busy_since = now
            if now - self._vault_busy_since >= VAULT_PATIENCE:
                self.waited_out = True
                return
            if self._rng is not None:
                wait *= self._rng.uniform(0.5, 1.5)
        self._later[peer.addr] = (peer, now + wait, vault)

    def answered(self, addr: Addr) -> None:
        self.probing.discard(addr)

    def step(
        self,
        now: float,
        *,
        missing: bool,
        links: int,
        vault_linked: bool,
        progress_at: float,
        rare: bool = False,
        crowd_links: int = 0,
        seeking: bool = False,
    ) -> Step:
        """The probes to start now, and when to look again; `rare`: see `RARE_HOLDERS`;
        `crowd_links`: how many of the `links` are peers still fetching the file; `seeking`:
        no peer holding it whole is linked (see `CROWD_SOURCES`)."""
        step = Step()
        self._probe_more(step, now, missing=missing, links=links, crowd_links=crowd_links,
                         seeking=seeking)  # fmt: skip
        if not missing:
            self._missing_since = self._stuck_since = None
        elif self._missing_since is None:
            self._missing_since = now
        if missing:
            step.wake_at = min((due for _, due, _ in self._later.values()), default=math.inf)
        crowd_open = self._crowd_open(crowd_links, seeking)  # those held back: no search
        searching = bool(self.probing) or self.plan.has_candidates(crowd=crowd_open)
        vault_due = any(vault for _, _, vault in self._later.values())  # it will be asked again
        if rare and not self.vault_asked and self.count >= CROWD_CHUNKS:
            self.vault_asked = True
            if (vault := self.plan.vault()) is not None:
                self._start(step, vault, vault=True)
        elif missing and not self.vault_asked:
            assert self._missing_since is not None
            if not searching or now - self._missing_since >= VAULT_AFTER:
                self.vault_asked = True
                if (vault := self.plan.vault()) is not None:
                    self._start(step, vault, vault=True)
            else:
                step.wake_at = min(step.wake_at, self._missing_since + VAULT_AFTER)
        elif missing and not searching and not vault_linked and not vault_due:
            self._stuck_since = max(self._stuck_since or now, progress_at)
            if not links or now - self._stuck_since >= HOPELESS:
                step.give_up = True  # nobody left to ask, nothing coming
            step.wake_at = min(step.wake_at, self._stuck_since + HOPELESS)
        return step

    def _crowd_open(self, crowd_links: int, seeking: bool) -> bool:
        """Whether peers that may be fetching it too may be probed: room among the crowd
        sources, or no holder linked (random probes alone find one)."""
        return seeking or self._crowd_room(crowd_links) > 0

    def _crowd_room(self, crowd_links: int) -> int:
        self._crowd_probing &= self.probing
        return CROWD_SOURCES - crowd_links - len(self._crowd_probing)

    def _probe_more(
        self,
        step: Step,
        now: float,
        *,
        missing: bool,
        links: int,
        crowd_links: int,
        seeking: bool,
    ) -> None:
        wanted = MAX_SOURCES if missing else min(ENOUGH_SOURCES, 1 + self.count // 2)
        room = wanted - links  # a small file needs few sources, unless they lack it
        for addr, (again, due, vault) in list(self._later.items()):
            if not missing:
                break  # a busy holder is asked again only while we need what it has
            if due <= now and (vault or len(self.probing) < min(PROBES_AT_ONCE, room)):
                del self._later[addr]  # (the vault is one source more, whatever the room)
                self.plan.probes += 1
                self._start(step, again, vault=vault)
        while len(self.probing) < min(PROBES_AT_ONCE, room):
            known = self.plan.next_holder()
            if known is None and self._crowd_room(crowd_links) > 0:
                known = self.plan.next_crowd()
                if known is not None:
                    self._crowd_probing.add(known.addr)
            if known is None:
                break
            self._start(step, known, vault=False)
        # One random peer at a time while a chunk is on none of our sources; beside the crowd's
        # probes for a file a crowd trades: its members have nothing yet when a crowd starts, and
        # only a random probe can find the holder none of them knows of.
        # A random peer may be fetching it too: it counts as a crowd probe, and waits for room
        # among the crowd sources once a holder is linked (while none is, only it finds one).
        beside = self.count >= CROWD_CHUNKS and self._random not in self.probing
        crowd_open = self._crowd_open(crowd_links, seeking)
        if (not self.probing or beside) and len(self.probing) < room and missing and crowd_open:
            other = self.plan.next_random()
            if other is not None:
                self._random = other.addr
                self._crowd_probing.add(other.addr)
                self._start(step, other, vault=False)

    def _start(self, step: Step, peer: PeerInfo, *, vault: bool) -> None:
        self.probing.add(peer.addr)
        step.probes.append((peer, vault))
