"""File bytes over TLS, through both receive paths of `Channel.receive_data_into`.

`wire._decrypt_into` reads TLS records with trio's private `SSLStream` parts for speed;
`SSLStream.receive_some` is the public fallback (taken when `wire.TLS_FAST_PATH` is off or the
private parts are not what it expects). Every test here runs on both, so neither goes untested.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

import pytest
import trio

from reliablep2p.net import channel as wire
from reliablep2p.net.channel import Channel, ConnectionLost
from reliablep2p.proto import CHUNK_SIZE, data_frame_header

from .conftest import Network, random_bytes


@pytest.fixture(params=[True, False], ids=["fast-path", "receive_some"])
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Switch the fast path on or off; the list counts the fast path's calls."""
    monkeypatch.setattr(wire, "TLS_FAST_PATH", request.param)
    calls: list[int] = []
    decrypt = wire._decrypt_into

    async def counted(parts: wire._TLSParts, view: memoryview) -> int:
        calls.append(len(view))
        return await decrypt(parts, view)

    monkeypatch.setattr(wire, "_decrypt_into", counted)
    return calls


def used_fast_path(calls: list[int]) -> bool:
    return bool(calls) == wire.TLS_FAST_PATH


async def test_a_tls_get_arrives_whole(network: Network, fast_path: list[int]) -> None:
    data = random_bytes(3 * CHUNK_SIZE + 12345, seed=7)
    await network.peer({"big.bin": data})
    fetcher = await network.peer()
    result = await fetcher.get("big.bin")
    assert result.path.read_bytes() == data
    assert used_fast_path(fast_path)


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
    network: Network, fast_path: list[int], ending: str
) -> None:
    async def act(channel: Channel) -> None:
        await half_a_chunk(channel)
        stream = channel.stream
        assert isinstance(stream, trio.SSLStream)
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
    if ending == "corrupt record":
        assert "TLS failed" in detail or "connection lost" in detail
    else:
        assert "closed" in detail or "connection lost" in detail
    assert used_fast_path(fast_path)


async def test_the_fast_path_steps_aside_when_trio_internals_differ(network: Network) -> None:
    async def act(channel: Channel) -> None:
        await channel.send_data(b"y" * 1000)
        await trio.sleep(5)

    channel = await serve_then(network, act)
    try:
        stream = channel.stream
        assert isinstance(stream, trio.SSLStream)
        assert wire._fast_tls(stream) is not None
        state = vars(stream)
        for name in ("_ssl_object", "_incoming", "_outgoing", "_inner_send_lock",
                     "_outer_recv_conflict_detector"):  # fmt: skip
            kept = state[name]
            state[name] = object()  # a trio that changed what these are
            assert wire._fast_tls(stream) is None, name
            del state[name]  # a trio without them
            assert wire._fast_tls(stream) is None, name
            state[name] = kept
        state["_delayed_outgoing"] = b"tickets"  # a server's held-back session tickets
        assert wire._fast_tls(stream) is None
        state["_delayed_outgoing"] = None
        assert wire._fast_tls(stream) is not None
        buffer = bytearray(CHUNK_SIZE)
        assert await channel.receive_data_into(buffer) == 1000
        assert bytes(buffer[:1000]) == b"y" * 1000
    finally:
        await channel.aclose()


async def test_our_contexts_allow_only_tls_1_3(network: Network) -> None:
    """`_decrypt_into` relies on it: TLS 1.3 never reads in order to write."""
    context = network.tls("someone")
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
