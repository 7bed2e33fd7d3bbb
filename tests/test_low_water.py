"""The receive low-water mark on a data frame's rest (`sockets.LowWater`, `SO_RCVLOWAT`): the
kernel wakes a chunk's reader once a good part of it is queued, never waits for bytes that are
not coming (a frame shorter than the mark, the message after it), and a slow sender is still read
as it trickles in (its link's stall watch sees it move). Real sockets on loopback, TLS and plain."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from reliablep2p.net import sockets
from reliablep2p.net.channel import Channel, ConnectionLost
from reliablep2p.net.tls import RECORD_ROOM
from reliablep2p.proto import CHUNK_SIZE, ErrorCode, Ping, data_frame_header

from .conftest import Network, random_bytes

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_RCVLOWAT is Linux's")


async def pair(
    nursery: trio.Nursery, root: Path, secure: bool, act: object
) -> tuple[Channel, trio.Event]:
    """Our channel to a hand-written peer that runs `act(channel, go)` once we set `go`."""
    network = Network(nursery, root, secure=secure)
    await network.start_db()
    go = trio.Event()

    async def handler(channel: Channel) -> None:
        await act(channel, go)  # type: ignore[operator]
        await trio.sleep_forever()

    port = await network.serve(handler, name="server")
    return await network.connect(port, name="client"), go


@pytest.mark.parametrize("secure", [True, False], ids=["tls", "plain"])
async def test_a_frame_shorter_than_the_mark_and_the_message_after_it_never_wait_for_more(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secure: bool
) -> None:
    monkeypatch.setattr(sockets, "LOW_WATER_PATIENCE", 3600.0)  # no way out but the bytes
    size = RECORD_ROOM + 24_000  # over one record (TLS raises the mark), under `LOW_WATER`
    assert size < sockets.LOW_WATER
    data = random_bytes(size, seed=3)

    async def act(channel: Channel, go: trio.Event) -> None:
        await go.wait()
        await channel.stream.send_all(data_frame_header(size) + data[:1000])
        await trio.sleep(0.2)  # the reader is waiting for the rest, at the raised mark
        await channel.stream.send_all(data[1000:])
        await trio.sleep(0.2)  # ...and then for a message, which is a few bytes
        await channel.send(Ping())

    channel, go = await pair(nursery, tmp_path, secure, act)
    buffer = bytearray(CHUNK_SIZE)
    async with channel:
        go.set()
        with trio.fail_after(30):
            assert await channel.receive_data_into(buffer) == size
            assert isinstance(await channel.receive_message(Ping), Ping)
    assert buffer[:size] == data


@pytest.mark.parametrize("secure", [True, False], ids=["tls", "plain"])
async def test_a_slow_sender_is_read_as_it_trickles_in_so_its_stall_watch_sees_it_move(
    nursery: trio.Nursery, tmp_path: Path, secure: bool
) -> None:
    size, piece = 48 * 1024, 4 * 1024  # one piece each 0.15 s: 1.8 s for the frame
    data = random_bytes(size, seed=4)

    async def act(channel: Channel, go: trio.Event) -> None:
        await go.wait()
        await channel.stream.send_all(data_frame_header(size))
        for start in range(0, size, piece):
            await trio.sleep(0.15)  # an upload cap's pace
            await channel.stream.send_all(data[start : start + piece])

    channel, go = await pair(nursery, tmp_path, secure, act)
    buffer = bytearray(CHUNK_SIZE)
    async with channel:
        go.set()
        # a silence of 1 s ends it: it must see the bytes come, not wait for the mark's worth
        assert await channel.receive_data_into(buffer, timeout=1.0, idle=True) == size
    assert buffer[:size] == data


@pytest.mark.parametrize("secure", [True, False], ids=["tls", "plain"])
async def test_a_sender_gone_silent_mid_frame_is_still_cut_off_by_the_idle_watch(
    nursery: trio.Nursery, tmp_path: Path, secure: bool
) -> None:
    size = 400_000  # it sends the first quarter, then nothing

    async def act(channel: Channel, go: trio.Event) -> None:
        await go.wait()
        await channel.stream.send_all(data_frame_header(size) + random_bytes(size // 4, seed=5))

    channel, go = await pair(nursery, tmp_path, secure, act)
    async with channel:
        go.set()
        with pytest.raises(ConnectionLost) as caught, trio.fail_after(30):
            await channel.receive_data_into(bytearray(CHUNK_SIZE), timeout=0.5, idle=True)
    assert caught.value.code == ErrorCode.TIMEOUT
