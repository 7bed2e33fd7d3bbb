"""The search learns: the more a peer asks, the fewer peers it has to probe per `get`."""

from __future__ import annotations

import random
import statistics

from .conftest import Network

PEERS = 30
FILES_EACH = 3
QUERIES = 30


async def test_probes_per_get_fall_as_a_peer_keeps_searching(network: Network) -> None:
    catalog = []
    for index in range(PEERS):
        files = {f"f{index}-{k}.txt": f"{index}/{k}".encode() for k in range(FILES_EACH)}
        catalog += files
        await network.peer(files, rescan_interval=60)
    hunter = await network.peer(rescan_interval=60)
    assert len(hunter.peers) == PEERS
    wanted = random.Random(7).sample(catalog, QUERIES)
    probes = []
    for name in wanted:
        result = await hunter.get(name)
        assert not result.from_vault
        probes.append(result.probes)
    first, last = probes[:10], probes[-10:]
    assert statistics.mean(last) < statistics.mean(first) / 2, probes
    assert len(hunter.address_book) > PEERS
