"""Load: 200 concurrent fetchers against one seeder process and the database peer's vault."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.peer.node import Node

from .cluster import Cluster, peak_rss_kib

pytestmark = pytest.mark.slow

FETCHERS = 200
FILES = {"popular-a.bin": 2 * 1024 * 1024 + 17, "popular-b.bin": 256 * 1024}
SEEDER_GROWTH_LIMIT_KIB = 64 * 1024


async def fetch_all(cluster: Cluster, tmp_path: Path) -> list[tuple[str, bytes]]:
    """Start every fetcher at once; each gets every file. Returns (name, content digest)."""
    authority = NetworkAuthority.load_or_create(cluster.data)
    results: list[tuple[str, bytes]] = []

    async def one(index: int, nursery: trio.Nursery) -> None:
        name = f"load{index}"
        node = Node(
            identity=authority.identity(name, tmp_path / "profiles" / name),
            share_dir=tmp_path / name,
            database=("127.0.0.1", cluster.db_port),
            rescan_interval=3600,
            rng=random.Random(index),
        )
        await nursery.start(node.run)
        with trio.fail_after(60):
            await node.ready.wait()
        for filename in FILES:
            result = await node.get(filename)
            results.append((filename, hashlib.sha256(result.path.read_bytes()).digest()))

    with trio.fail_after(240):
        async with trio.open_nursery() as nursery:
            async with trio.open_nursery() as fetchers:
                for index in range(FETCHERS):
                    fetchers.start_soon(one, index, nursery)
            nursery.cancel_scope.cancel()
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
