"""File bytes over TLS through `Channel.receive_data_into`, which decrypts with our own
`TLSStream.receive_into` straight into the chunk buffer: a get arrives whole, and a transfer cut
short by close_notify, an abrupt close or a corrupt record is a clear `ConnectionLost`."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

import pytest
import trio

from reliablep2p.net.channel import Channel, ConnectionLost
from reliablep2p.net.tls import TLSStream
from reliablep2p.proto import CHUNK_SIZE, data_frame_header

from .conftest import Network, random_bytes


async def test_a_tls_get_arrives_whole(network: Network) -> None:
    data = random_bytes(3 * CHUNK_SIZE + 12345, seed=7)
    await network.peer({"big.bin": data})
    fetcher = await network.peer()
    result = await fetcher.get("big.bin")
    assert result.path.read_bytes() == data
    assert isinstance(fetcher.dialer.tls, ssl.SSLContext)  # the link was TLS


async def serve_then(network: Network, act: Callable[[Channel], Awaitable[None]]) -> Channel:
    """A TLS peer that runs `act` on the connection; our channel to it."""
    done = trio.Event()

    async def handler(channel: Channel) -> None:
        try:
            await act(channel)
        finally:
            done.set()

    port = await network.serve(handler, name="server")
    return await network.connect(port, name="client")


async def half_a_chunk(channel: Channel) -> None:
    await channel.stream.send_all(data_frame_header(1000) + b"x" * 400)


@pytest.mark.parametrize(
    "ending",
    ["close_notify", "abrupt", "corrupt record"],
)
async def test_a_transfer_cut_short_is_a_clear_connection_lost(
    network: Network, ending: str
) -> None:
    async def act(channel: Channel) -> None:
        await half_a_chunk(channel)
        stream = channel.stream
        assert isinstance(stream, TLSStream)
        if ending == "close_notify":
            await stream.aclose()
        elif ending == "abrupt":
            await stream.transport_stream.aclose()
        else:  # an application-data record of garbage: its authentication tag fails
            await stream.transport_stream.send_all(b"\x17\x03\x03\x00\x40" + b"\x99" * 64)
            await trio.sleep(5)

    channel = await serve_then(network, act)
    try:
        with pytest.raises(ConnectionLost) as caught, trio.fail_after(5):
            await channel.receive_data_into(bytearray(CHUNK_SIZE), timeout=4)
    finally:
        await channel.aclose()
    detail = caught.value.detail
    assert "SSL" not in detail and "(_ssl.c" not in detail, detail  # plain words, never raw SSL
    if ending == "corrupt record":
        assert "TLS failed" in detail or "connection lost" in detail
    else:
        assert "closed" in detail or "connection lost" in detail


async def test_our_contexts_allow_only_tls_1_3(network: Network) -> None:
    """`TLSStream` relies on it: TLS 1.3 never reads in order to write."""
    context = network.tls("someone")
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
