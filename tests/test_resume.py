"""A transfer that breaks continues from the last verified chunk: next source, or a later get."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from reliablep2p.net.channel import Channel
from reliablep2p.proto import CHUNK_SIZE, Connect, File, Get, Hello, Welcome

from .conftest import Network, random_bytes, until

SIZE = 6 * CHUNK_SIZE + 1000
GOOD_CHUNKS = 3

Misbehaviour = Callable[[Channel], Awaitable[None]]


async def hang_up(channel: Channel) -> None:
    await channel.aclose()


async def stall(channel: Channel) -> None:
    await trio.sleep_forever()


async def corrupt(channel: Channel) -> None:
    await channel.send_data(b"\x00" * CHUNK_SIZE)
    await trio.sleep_forever()


async def bad_source(net: Network, data: bytes, misbehave: Misbehaviour) -> int:
    """A peer that joins, serves the first chunks of `data` honestly, then misbehaves."""
    info = net.catalog_entry("big.bin")

    async def serve(channel: Channel) -> None:
        await channel.receive_message(Hello)
        request = await channel.receive_message(Get)
        await channel.send(File(request.name, info.size, info.hash, request.offset))
        for index in range(request.offset // CHUNK_SIZE, GOOD_CHUNKS):
            await channel.send_data(data[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE])
        await misbehave(channel)

    port = await net.serve(serve, name="flaky")
    session = await net.connect(net.db.port, name="flaky", listen_port=port)
    await session.send(Connect())
    await session.receive_message(Welcome)
    net.nursery.start_soon(keep_quiet_session, session)
    return port


async def keep_quiet_session(session: Channel) -> None:
    while True:
        await session.receive()


@pytest.mark.parametrize("misbehave", [hang_up, stall, corrupt], ids=lambda f: f.__name__)
async def test_a_failing_source_is_continued_by_the_vault_from_the_last_good_chunk(
    network: Network, misbehave: Misbehaviour
) -> None:
    data = random_bytes(SIZE, seed=1)
    original = await network.peer({"big.bin": data})
    original.stop()
    flaky_port = await bad_source(network, data, misbehave)
    fetcher = await network.peer(stall_timeout=0.5)
    await until(lambda: [p.port for p in fetcher.peers] == [flaky_port])
    result = await fetcher.get("big.bin")
    assert result.path.read_bytes() == data
    assert result.sources == (
        ("flaky", GOOD_CHUNKS * CHUNK_SIZE),
        ("vault", SIZE - GOOD_CHUNKS * CHUNK_SIZE),
    )
    assert fetcher.address_book.holders("big.bin") == []


async def test_an_interrupted_get_resumes_where_it_stopped(network: Network) -> None:
    data = random_bytes(SIZE, seed=2)
    original = await network.peer({"big.bin": data})
    original.stop()
    await bad_source(network, data, stall)
    fetcher = await network.peer(stall_timeout=60)
    await until(lambda: len(fetcher.peers) == 1)
    progress: list[int] = []
    fetcher.subscribe(lambda e: progress.append(getattr(e, "done", 0)))
    with trio.move_on_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher.get, "big.bin")
            await until(lambda: max(progress, default=0) >= GOOD_CHUNKS * CHUNK_SIZE)
            nursery.cancel_scope.cancel()  # the player gives up (or the process is stopped)
    assert not (fetcher.share.path / "big.bin").exists()  # type: ignore[union-attr]
    fetcher.fetcher.stall_timeout = 0.5
    result = await fetcher.get("big.bin")
    assert result.resumed_at == GOOD_CHUNKS * CHUNK_SIZE
    assert result.fetched == SIZE - GOOD_CHUNKS * CHUNK_SIZE
    assert result.path.read_bytes() == data


async def test_a_damaged_partial_file_is_not_trusted(network: Network) -> None:
    data = random_bytes(SIZE, seed=3)
    await network.peer({"big.bin": data})
    fetcher = await network.peer()
    info = network.catalog_entry("big.bin")
    work = fetcher.share.path / ".rp2p"  # type: ignore[union-attr]
    (work / f"{info.hash.hex()}.part").write_bytes(b"\xff" * (4 * CHUNK_SIZE))
    (work / f"{info.hash.hex()}.chunks").write_text("4")
    result = await fetcher.get("big.bin")
    assert result.resumed_at == 0 and result.path.read_bytes() == data
