"""Load: 200 concurrent fetchers against one seeder process and the database peer's vault.

What it asserts is that the fetchers keep making progress until all have every file intact,
so that is what it waits for: it fails once none of them has made any for `STALLED` seconds
(a step, or a chunk stored), saying where every unfinished fetcher is (`whereabouts`). The
whole run takes what the machine gives it (32-52 s alone on 2 cores, 60-110 s on one; one
fetcher can wait 90 s for its first chunk there, while the crowd moves); `RUNAWAY` only ends a
run that moves forever without finishing. It hung when a seeder's upload slots leaked: the
last fetchers sat linked to it with nothing coming, until the old 240 s limit.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import pytest
import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.peer.node import Node

from .cluster import Cluster, peak_rss_kib
from .whereabouts import Whereabouts, listening, report

pytestmark = pytest.mark.slow

FETCHERS = 200
FILES = {"popular-a.bin": 2 * 1024 * 1024 + 17, "popular-b.bin": 256 * 1024}
SEEDER_GROWTH_LIMIT_KIB = 64 * 1024
STALLED = 90.0
"""No fetcher making progress for this long is a hang: longer than a get's busy retries back
off in all (`fetch.BUSY_RETRIES` from 0.5 s, capped at 15 s: about 45 s at most)."""
RUNAWAY = 900.0


async def fetch_all(cluster: Cluster, tmp_path: Path) -> list[tuple[str, bytes]]:
    """Start every fetcher at once; each gets every file. Returns (name, content digest)."""
    authority = NetworkAuthority.load_or_create(cluster.data)
    results: list[tuple[str, bytes]] = []
    fetchers = {f"load{index}": Whereabouts(f"load{index}") for index in range(FETCHERS)}
    nodes: dict[str, Node] = {}

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
        nodes[name] = node
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

    stuck: list[str] = []

    async def watch(nursery: trio.Nursery) -> None:
        """Poll for the crowd stalled (or a runaway run); then say where everyone is, and stop
        (before cancelling changes what they are doing)."""
        began = time.monotonic()
        while True:
            await trio.sleep(1)
            now = time.monotonic()
            stalled = now - max(who.moved_at for who in fetchers.values())
            if stalled > STALLED or now - began > RUNAWAY:
                why = f"no progress for {stalled:.0f} s" if stalled > STALLED else "a runaway"
                stuck.append(f"{why} after {now - began:.0f} s; " + report(fetchers, nodes))
                nursery.cancel_scope.cancel()

    with listening(fetchers):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, nursery)
            async with trio.open_nursery() as started:
                for index in range(FETCHERS):
                    started.start_soon(one, index, nursery)
            nursery.cancel_scope.cancel()
    assert not stuck, stuck[0]
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
