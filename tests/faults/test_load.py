"""Load: 200 concurrent fetchers against one seeder process and the database peer's vault."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter
from pathlib import Path

import pytest
import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.peer import events
from reliablep2p.peer.node import Node

from .cluster import Cluster, peak_rss_kib

pytestmark = pytest.mark.slow

FETCHERS = 200
FILES = {"popular-a.bin": 2 * 1024 * 1024 + 17, "popular-b.bin": 256 * 1024}
SEEDER_GROWTH_LIMIT_KIB = 64 * 1024
LIMIT = 240.0


class Whereabouts:
    """Where one fetcher is, from its node's events and its swarm's probe log: said for every
    fetcher when the test runs out of time, so a timeout tells which step stalled."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.step = "starting"
        self.bytes = 0
        self.sources: Counter[str] = Counter()
        self.last_probe = ""
        self.busy_answers = 0
        self.since = time.monotonic()
        self.events: list[str] = []
        self.all: list[str] = []

    def moved(self, step: str) -> None:
        self.step, self.since = step, time.monotonic()

    def heard(self, event: events.Event) -> None:
        if isinstance(event, events.TransferProgress):
            self.bytes = event.done
            self.sources[event.source] += 1
        elif not isinstance(event, events.PeersChanged | events.MapChanged):
            self.events = [*self.events[-3:], type(event).__name__]

    def probed(self, line: str) -> None:
        self.all.append(line)
        self.last_probe = line
        self.busy_answers += "busy" in line.lower()

    def line(self, now: float) -> str:
        sources = ", ".join(f"{who} x{n}" for who, n in self.sources.most_common(3)) or "none"
        return (f"{self.name}: {self.step} for {now - self.since:.1f} s, {self.bytes} bytes of it"
                f" (chunks from {sources}), busy answers {self.busy_answers}, events"
                f" {self.events}, last probe: {self.last_probe or 'none'}" + "\n    ".join(["", *self.all[-12:]]))


class ProbeLog(logging.Handler):
    """The swarm's debug line for each probe, handed to the fetcher it names."""

    def __init__(self, fetchers: dict[str, Whereabouts]) -> None:
        super().__init__(logging.DEBUG)
        self.fetchers = fetchers

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if line.startswith("sent chunk"):
            to = line.rsplit(" to ", 1)[1].split()[0]
            who = self.fetchers.get(to)
            if who is not None:
                who.all.append("GOT-SENT " + line)
            return
        who = self.fetchers.get(line.split(":", 1)[0])
        if who is not None:
            who.probed(line.split(":", 1)[1].strip())


def report(fetchers: dict[str, Whereabouts], cluster: Cluster) -> str:
    """Every fetcher not done, grouped by step, and the ends of the other processes' logs."""
    now = time.monotonic()
    steps = Counter(who.step for who in fetchers.values())
    stuck = [who.line(now) for who in fetchers.values() if who.step != "done"]
    return "\n".join([
        f"fetchers by step: {dict(steps)}", *stuck,
        "db log ends: " + cluster.db_log()[-1500:],
        "seeder log ends: " + cluster.peer_log("popular")[-1500:],
    ])  # fmt: skip


async def fetch_all(cluster: Cluster, tmp_path: Path) -> list[tuple[str, bytes]]:
    """Start every fetcher at once; each gets every file. Returns (name, content digest)."""
    authority = NetworkAuthority.load_or_create(cluster.data)
    results: list[tuple[str, bytes]] = []
    fetchers = {f"load{index}": Whereabouts(f"load{index}") for index in range(FETCHERS)}

    async def one(index: int, nursery: trio.Nursery) -> None:
        name = f"load{index}"
        where = fetchers[name]
        node = Node(
            identity=authority.identity(name, tmp_path / "profiles" / name),
            share_dir=tmp_path / name,
            database=("127.0.0.1", cluster.db_port),
            rescan_interval=3600,
            rng=random.Random(index),
        )
        node.subscribe(where.heard)
        await nursery.start(node.run)
        where.moved("joining")
        with trio.fail_after(60):
            await node.ready.wait()
        for filename in FILES:
            where.moved(f"getting {filename}")
            result = await node.get(filename)
            results.append((filename, hashlib.sha256(result.path.read_bytes()).digest()))
        where.moved("done")

    probes = ProbeLog(fetchers)
    swarm_log = logging.getLogger("rp2p.swarm")
    swarm_log.addHandler(probes)
    swarm_log.setLevel(logging.DEBUG)
    late: list[str] = []

    async def time_limit(nursery: trio.Nursery) -> None:
        """At the limit: where each fetcher is (before cancelling changes it), then stop."""
        await trio.sleep(LIMIT)
        late.append(report(fetchers, cluster))
        import gc
        from reliablep2p.peer.swarm.engine import SwarmFetch
        for obj in gc.get_objects():
            if isinstance(obj, SwarmFetch) and not obj._done.is_set():
                f = obj.finder
                late.append(f"SWARM {obj.view.me.name} {obj.info.name} missing={obj._missing()} busy={obj.busy} vault_asked={f.vault_asked} probing={f.probing} later={f._later} cand={obj.plan.has_candidates()} failures={obj.failures[-5:]} wanted={obj._wanted} stored={obj.schedule.complete}")
                for link in obj.links.values():
                    src = obj.schedule.sources.get(link.key)
                    late.append(f"   LINK {link.label} full={link.full} expected={link.expected} asks={link._asks} inflight={obj.in_flight(link)} has={getattr(src, 'has', '?')} src={src}")
        nursery.cancel_scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(time_limit, nursery)
            async with trio.open_nursery() as started:
                for index in range(FETCHERS):
                    started.start_soon(one, index, nursery)
            nursery.cancel_scope.cancel()
    finally:
        swarm_log.removeHandler(probes)
        swarm_log.setLevel(logging.NOTSET)
    assert not late, f"not done after {LIMIT:g} s; " + late[0]
    return results


def test_two_hundred_fetchers_get_every_file_intact_with_the_seeder_memory_bounded(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    files = {name: rng.randbytes(size) for name, size in FILES.items()}
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start_db()
        seeder = cluster.seeder("popular", files)
        cluster.wait_cataloged(*files)
        baseline = peak_rss_kib(seeder.pid)
        results = trio.run(fetch_all, cluster, tmp_path / "fetchers")
        assert len(results) == FETCHERS * len(files), "some gets were lost"
        expected = {name: hashlib.sha256(data).digest() for name, data in files.items()}
        assert all(digest == expected[name] for name, digest in results)
        growth = peak_rss_kib(seeder.pid) - baseline
        print(f"seeder peak RSS grew by {growth} KiB under load")
        assert growth < SEEDER_GROWTH_LIMIT_KIB, f"the seeder grew by {growth} KiB under load"
    finally:
        cluster.close()
