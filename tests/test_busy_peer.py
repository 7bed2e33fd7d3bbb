"""A `secure-get` from one named peer that is busy serving others waits for it: it was asked
once, and the player was told "every source is busy" while the peer was a moment from free."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from reliablep2p.app import commands, words
from reliablep2p.peer.fetch import GetResult
from reliablep2p.proto import CHUNK_SIZE, File, Get

from .conftest import Network, random_bytes, until

NAME = "mixtape.ogg"
DATA = random_bytes(3 * CHUNK_SIZE + 5, seed=31)


@pytest.fixture
async def network(nursery: trio.Nursery, tmp_path: Path) -> Network:
    net = Network(nursery, tmp_path)
    await net.start_db()
    return net


def busy_answers(caplog: pytest.LogCaptureFixture) -> int:
    """The probes the seeder answered `busy` (the swarm's own account of each probe)."""
    return sum(1 for record in caplog.records if record.name == "rp2p.swarm"
               and "serving too many files" in record.getMessage())  # fmt: skip


async def test_a_secure_get_from_a_busy_peer_waits_for_its_place(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rp2p.swarm")
    seeder = await network.peer({NAME: DATA}, max_serving=1)
    fetcher = await network.peer()
    hog = await network.connect(seeder.port, name="hog")  # its one place, held
    await hog.send(Get(NAME, swarm=True))
    assert isinstance(await hog.receive_message(File), File)
    results: list[commands.Result] = []

    async def secure_get() -> None:
        typed = commands.parse(f"secure-get {NAME} 127.0.0.1:{seeder.port}")
        results.append(await commands.execute(fetcher, typed))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(secure_get)
        await until(lambda: busy_answers(caplog) >= 2 or results)  # turned away, asked again
        assert not results, words.result_lines(results[0])
        await hog.aclose()  # the other transfer ends: the place is free
    (result,) = results
    assert isinstance(result, GetResult), words.result_lines(result)
    assert result.path.read_bytes() == DATA
    assert result.sources == ((seeder.name, len(DATA)),)
