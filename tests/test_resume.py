"""A transfer that breaks keeps every verified chunk: other sources, or a later get, continue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from reliablep2p.net.channel import Channel
from reliablep2p.proto import CHUNK_SIZE, Chunk, Chunks, Connect, File, Get, Hello, Ping, Welcome

from .conftest import Network, random_bytes, until

SIZE = 6 * CHUNK_SIZE + 1000
GOOD_CHUNKS = 3

Misbehaviour = Callable[[Channel], Awaitable[None]]


async def hang_up(channel: Channel) -> None:
    # Once the fetcher has taken what was sent: closing with its requests unread resets the
    # connection, and a reset drops whatever our kernel had not yet put on the wire.
    await trio.testing.wait_all_tasks_blocked()
    await channel.aclose()


async def stall(channel: Channel) -> None:
    await trio.sleep_forever()


async def corrupt(channel: Channel) -> None:
    request = await channel.receive_message(Chunks)
    await channel.send(Chunk(request.indices[0]))
    await channel.send_data(b"\x00" * CHUNK_SIZE)
    await trio.sleep_forever()


class Flaky:
    """A peer that serves the first `GOOD_CHUNKS` chunks asked of it honestly (whichever they
    are, over all its connections), then misbehaves."""

    def __init__(self, port: int, data: bytes) -> None:
        self.port = port
        self.data = data
        self.served: list[int] = []

    @property
    def good_bytes(self) -> int:
        return sum(len(self.data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE]) for i in self.served)


async def bad_source(net: Network, data: bytes, misbehave: Misbehaviour) -> Flaky:
    """A `Flaky` peer that joined the network."""
    info = net.catalog_entry("big.bin")
    served: list[int] = []

    async def serve(channel: Channel) -> None:
        await channel.receive_message(Hello)
        request = await channel.receive_message(Get)
        await channel.send(File(request.name, info.size, info.hash))
        asked: list[int] = list(request.want)  # asked with the get itself
        while len(served) < GOOD_CHUNKS:
            if not asked:
                message = await channel.receive_message(Chunks, Ping)
                asked = message.indices if isinstance(message, Chunks) else []
                continue
            index = asked.pop(0)
            await channel.send(Chunk(index))
            await channel.send_data(data[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE])
            served.append(index)
        await misbehave(channel)

    port = await net.serve(serve, name="flaky")
    session = await net.connect(net.db.port, name="flaky", listen_port=port)
    await session.send(Connect())
    await session.receive_message(Welcome)
    net.nursery.start_soon(keep_quiet_session, session)
    flaky = Flaky(port, data)
    flaky.served = served
    return flaky


async def keep_quiet_session(session: Channel) -> None:
    while True:
        await session.receive()


@pytest.mark.parametrize("misbehave", [hang_up, stall, corrupt], ids=lambda f: f.__name__)
async def test_a_failing_source_is_continued_by_the_vault_from_its_last_good_chunk(
    network: Network, misbehave: Misbehaviour
) -> None:
    data = random_bytes(SIZE, seed=1)
    original = await network.peer({"big.bin": data})
    original.stop()
    flaky = await bad_source(network, data, misbehave)
    fetcher = await network.peer(stall_timeout=0.5)
    await until(lambda: [p.port for p in fetcher.peers] == [flaky.port])
    result = await fetcher.get("big.bin")
    assert result.path.read_bytes() == data
    assert len(flaky.served) == GOOD_CHUNKS
    assert result.sources == (("flaky", flaky.good_bytes), ("vault", SIZE - flaky.good_bytes))
    assert fetcher.address_book.holders("big.bin") == []


async def test_an_interrupted_get_resumes_where_it_stopped(network: Network) -> None:
    data = random_bytes(SIZE, seed=2)
    original = await network.peer({"big.bin": data})
    original.stop()
    flaky = await bad_source(network, data, stall)
    fetcher = await network.peer(stall_timeout=60)
    # its welcome may still list the stopped original: the next push round (50 ms) drops it
    await until(lambda: [p.port for p in fetcher.peers] == [flaky.port])
    progress: list[int] = []
    fetcher.subscribe(lambda e: progress.append(getattr(e, "done", 0)))
    with trio.move_on_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher.get, "big.bin")
            await until(lambda: len(flaky.served) == GOOD_CHUNKS)
            await until(lambda: max(progress, default=0) >= flaky.good_bytes)
            nursery.cancel_scope.cancel()  # the player gives up (or the process is stopped)
    assert not (fetcher.share.path / "big.bin").exists()  # type: ignore[union-attr]
    fetcher.fetcher.stall_timeout = 0.5
    result = await fetcher.get("big.bin")
    assert result.resumed_at == flaky.good_bytes  # the chunks it sent, wherever in the file
    assert result.fetched == SIZE - flaky.good_bytes
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
