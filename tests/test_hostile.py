"""Hostile and broken input: the node answers or hangs up, and keeps serving everyone else."""

from __future__ import annotations

import logging
import socket
import struct
from pathlib import Path

import pytest
import trio

from reliablep2p.peer.node import Node
from reliablep2p.proto import (
    PROTOCOL_VERSION,
    Connect,
    Error,
    FrameDecoder,
    Get,
    Hello,
    decode_body,
    encode_message,
)

from .conftest import Network, until

HOSTILE = {
    "garbage": b"\x00\x00\x00\x10\xde\xad\xbe\xef not a frame at all, just noise",
    "absurd length": b"\xff\xff\xff\xff" + b"x" * 64,
    "http request": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n",
    "silence": b"",
}


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    received = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some():
            received += chunk
    return received


@pytest.fixture(params=["tls", "plain"])
async def hostile_network(
    nursery: trio.Nursery, tmp_path: Path, request: pytest.FixtureRequest
) -> Network:
    net = Network(nursery, tmp_path, secure=request.param == "tls")
    await net.start_db(read_timeout=0.5)
    return net


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("target", ["database peer", "peer"])
async def test_hostile_input_is_cut_off_while_others_are_served(
    hostile_network: Network, kind: str, target: str
) -> None:
    net = hostile_network
    seeder = await net.peer({"safe.txt": b"still here"}, read_timeout=0.5)
    port = net.db.port if target == "database peer" else seeder.port
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    if HOSTILE[kind]:
        await stream.send_all(HOSTILE[kind])
    # while the hostile connection is open, business goes on as usual
    fetcher = await net.peer()
    result = await fetcher.get("safe.txt")
    assert result.path.read_bytes() == b"still here"
    # and the hostile connection is answered with a typed error (or a TLS alert), or closed;
    # the database peer reads a first byte that is not TLS's as plaintext (where newcomers enroll)
    reply = await read_until_closed(stream)
    if reply and net.secure and target == "peer":
        assert reply[0] == 0x15, "not a TLS alert"
    elif reply:
        decoder = FrameDecoder()
        decoder.feed(reply)
        body = decoder.next_body()
        assert body is not None
        message = decode_body(body)
        assert isinstance(message, Error)
        assert message.code in {"too-large", "malformed", "timeout"}
    await stream.aclose()
    late = await net.peer()
    await until(lambda: late.me.addr in seeder.peers.peers)


async def test_absurd_length_gets_a_too_large_error_at_once(plain_network: Network) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", plain_network.db.port)
    await stream.send_all(b"\xff\xff\xff\xff")
    reply = await read_until_closed(stream)
    decoder = FrameDecoder()
    decoder.feed(reply)
    body = decoder.next_body()
    assert body is not None
    message = decode_body(body)
    assert isinstance(message, Error) and message.code == "too-large"


async def test_a_silent_client_is_hung_up_on_after_the_read_timeout(
    hostile_network: Network,
) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", hostile_network.db.port)
    assert await read_until_closed(stream) == b""


async def test_a_peer_survives_a_client_vanishing_mid_request(network: Network) -> None:
    big = b"z" * (3 * 1024 * 1024)
    seeder: Node = await network.peer({"big.bin": big})
    for _ in range(5):
        channel = await network.connect(seeder.port, name="rude")
        await channel.send(Get("big.bin"))
        await channel.receive()
        await channel.aclose()
    fetcher = await network.peer()
    result = await fetcher.get("big.bin")
    assert result.path.read_bytes() == big


async def test_a_player_that_hangs_up_before_its_welcome_is_no_internal_error(
    plain_network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    # what a join storm's backlog looks like: the player gave up waiting and reset the connection
    caplog.set_level(logging.DEBUG, logger="rp2p")
    join = encode_message(Hello(PROTOCOL_VERSION, "quitter", 40999)) + encode_message(Connect())
    with socket.create_connection(("127.0.0.1", plain_network.db.port)) as quitter:
        quitter.sendall(join)  # no checkpoint until it is gone: the database peer reads it later
        quitter.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def told() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "welcome" in r.getMessage() or r.exc_info]

    await until(told)
    assert [(r.levelname, r.getMessage()) for r in told()] == [
        ("DEBUG", "database: connection from a vanished peer ended: hung up before its welcome")
    ]
    late = await plain_network.peer()
    assert late.ready.is_set() and "quitter" not in [p.name for p in late.peers]


async def test_hundreds_of_idle_connections_do_not_stop_service(network: Network) -> None:
    seeder = await network.peer({"safe.txt": b"still here"})
    idle = []
    for _ in range(500):
        idle.append(await trio.open_tcp_stream("127.0.0.1", seeder.port, local_address="127.0.0.2"))
    for stream in idle[-50:]:  # over the per-address cap: refused (busy, or hung up) at once
        with trio.fail_after(5):
            while await stream.receive_some():
                pass
    fetcher = await network.peer()
    result = await fetcher.get("safe.txt")
    assert result.path.read_bytes() == b"still here"
    for stream in idle:
        await stream.aclose()


async def test_a_busy_holder_answers_busy_and_the_asker_uses_another_source(
    network: Network,
) -> None:
    data = b"q" * (4 * 1024 * 1024)
    seeder = await network.peer({"popular.bin": data}, max_serving=1)
    hog = await network.connect(seeder.port, name="hog")
    await hog.send(Get("popular.bin"))
    await hog.receive()  # the file header; then it never reads on, holding the only slot
    fetcher = await network.peer()
    await fetcher.request_map("127.0.0.1", seeder.port)
    result = await fetcher.get("popular.bin")
    assert result.from_vault and result.probes == 2
    assert result.path.read_bytes() == data
    # busy is not "does not have it": the holder stays in the address book
    assert [p.port for p in fetcher.address_book.holders("popular.bin")] == [seeder.port]
    await hog.aclose()
