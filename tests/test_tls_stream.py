"""`net.tls.TLSStream` on real loopback sockets, with the network's own certificates.

trio's `SSLStream`, an independent implementation, is the oracle: our stream must talk to it
both ways. A tiny TCP relay corrupts a record on the wire. Nothing here sleeps: tests wait for
what they assert (`wait_all_tasks_blocked`, events, byte counts).
"""

from __future__ import annotations

import os
import random
import select
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import trio
import trio.testing

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.net.channel import ConnectionLost, certificate_name, secure
from reliablep2p.net.tls import TLSStream

Contexts = tuple[ssl.SSLContext, ssl.SSLContext]
AnyTLS = TLSStream | trio.SSLStream[trio.SocketStream]


@pytest.fixture
def contexts(tmp_path: Path) -> Contexts:
    """A server and a client context from one network, as the product builds them."""
    authority = NetworkAuthority.load_or_create(tmp_path / "ca")
    server = authority.identity("the-server", tmp_path / "server").server_context()
    client = authority.identity("the-client", tmp_path / "client").client_context()
    return server, client


async def tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """Two ends of one loopback TCP connection: (client, server)."""
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    client = await trio.open_tcp_stream("127.0.0.1", listener.socket.getsockname()[1])
    server = await listener.accept()
    await listener.aclose()
    return client, server


def wrap(kind: str, sock: trio.SocketStream, context: ssl.SSLContext, server: bool) -> AnyTLS:
    if kind == "ours":
        return TLSStream(sock, context, server_side=server)
    return trio.SSLStream(sock, context, server_side=server)


async def connected(
    contexts: Contexts,
    client_kind: str = "ours",
    server_kind: str = "ours",
    socks: tuple[trio.SocketStream, trio.SocketStream] | None = None,
) -> tuple[AnyTLS, AnyTLS]:
    """A client and a server stream, handshake done on both."""
    client_sock, server_sock = socks or await tcp_pair()
    client = wrap(client_kind, client_sock, contexts[1], False)
    server = wrap(server_kind, server_sock, contexts[0], True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.do_handshake)
        nursery.start_soon(server.do_handshake)
    return client, server


async def receive_exactly(stream: AnyTLS, size: int, piece: int = 1 << 20) -> bytes:
    """`size` bytes, with `receive_into` on ours (random buffer sizes) and `receive_some` on
    trio's; fails on an early end."""
    out = bytearray(size)
    view, got = memoryview(out), 0
    rng = random.Random(size)
    while got < size:
        want = min(size - got, rng.randint(1, piece))
        if isinstance(stream, TLSStream):
            count = await stream.receive_into(view[got : got + want])
        else:
            data = await stream.receive_some(want)
            count = len(data)
            view[got : got + count] = data
        assert count, f"the stream ended after {got} of {size} bytes"
        got += count
    return bytes(out)


async def exchange(a: AnyTLS, b: AnyTLS, size_ab: int, size_ba: int) -> None:
    """Both directions at once, byte-identical."""
    to_b, to_a = os.urandom(size_ab), os.urandom(size_ba)
    got: dict[str, bytes] = {}

    async def take(name: str, stream: AnyTLS, size: int) -> None:
        got[name] = await receive_exactly(stream, size)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(take, "b", b, size_ab)
            nursery.start_soon(take, "a", a, size_ba)
            nursery.start_soon(a.send_all, to_b)
            nursery.start_soon(b.send_all, to_a)
    assert got == {"b": to_b, "a": to_a}


async def test_secure_checks_certificates_both_ways(contexts: Contexts) -> None:
    client_sock, server_sock = await tcp_pair()
    servers: list[TLSStream] = []

    async def serve() -> None:
        servers.append(await secure(server_sock, contexts[0], server_side=True))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        client = await secure(client_sock, contexts[1], server_side=False)
    assert certificate_name(client) == "the-server"
    assert certificate_name(servers[0]) == "the-client"
    await client.aclose()
    await servers[0].aclose()


async def test_a_foreign_certificate_is_refused_and_the_socket_closed(
    contexts: Contexts, tmp_path: Path
) -> None:
    other = NetworkAuthority.load_or_create(tmp_path / "other-ca")
    intruder = other.identity("intruder", tmp_path / "intruder").client_context()
    client_sock, server_sock = await tcp_pair()
    server = TLSStream(server_sock, contexts[0], server_side=True)
    refusals: list[trio.BrokenResourceError] = []

    async def serve() -> None:
        with pytest.raises(trio.BrokenResourceError) as refused:
            await server.do_handshake()
        refusals.append(refused.value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        with pytest.raises(ConnectionLost) as caught:
            await secure(client_sock, intruder, server_side=False)
    assert caught.value.detail.startswith("TLS refused: ")
    assert client_sock.socket.fileno() == -1
    # the client told the server why (an alert), rather than just hanging up
    assert isinstance(refusals[0].__cause__, ssl.SSLError)
    assert "unknown ca" in str(refusals[0].__cause__).lower()
    await server.aclose()


async def test_only_tls_1_3_is_spoken(contexts: Contexts) -> None:
    """The stream relies on TLS 1.3 (no renegotiation: a write never needs a read)."""
    for context in contexts:
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    client_sock, server_sock = await tcp_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.SSLStream(server_sock, contexts[0], server_side=True).do_handshake)
        with pytest.raises(ConnectionLost, match=r"TLS 1\.3 needed"):
            await secure(client_sock, contexts[1], server_side=False)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("size", [1, 1000, 16384, 16385, 200_001, 3 << 20])
async def test_random_sizes_arrive_byte_identical_both_ways(contexts: Contexts, size: int) -> None:
    client, server = await connected(contexts)
    await exchange(client, server, size, random.Random(size).randint(1, 2 * size))
    await exchange(server, client, 1, size)


async def test_receive_into_a_multi_megabyte_stream(contexts: Contexts) -> None:
    client, server = await connected(contexts)
    data = os.urandom(48 << 20)
    received = bytearray(len(data))
    view, got = memoryview(received), 0
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.send_all, data)
            assert isinstance(client, TLSStream)
            while got < len(data):
                got += await client.receive_into(view[got:])  # straight into place
    assert received == data


@pytest.mark.parametrize(
    "kinds", [("ours", "trio"), ("trio", "ours")], ids=["vs-trio-server", "vs-trio-client"]
)
async def test_interoperates_with_trio_ssl_stream(
    contexts: Contexts, kinds: tuple[str, str]
) -> None:
    client, server = await connected(contexts, *kinds)
    await exchange(client, server, 5 << 20, 3 << 20)
    await exchange(client, server, 17, 0)
    await client.aclose()  # close_notify, seen as a clean end by either implementation
    with trio.fail_after(5):
        assert await server.receive_some(100) == b""
    await server.aclose()


async def test_close_notify_is_a_clean_end(contexts: Contexts) -> None:
    client, server = await connected(contexts)
    await server.send_all(b"last words")
    await server.aclose()
    await server.aclose()  # idempotent
    assert isinstance(client, TLSStream)
    assert await receive_exactly(client, 10) == b"last words"
    buffer = bytearray(100)
    with trio.fail_after(5):
        assert await client.receive_into(buffer) == 0
        assert await client.receive_into(buffer) == 0  # and it stays ended
        assert await client.receive_some() == b""
    with pytest.raises(trio.ClosedResourceError):
        await server.send_all(b"more")
    with pytest.raises(trio.ClosedResourceError):
        await server.receive_some()


async def test_an_abrupt_close_is_broken_not_an_end(contexts: Contexts) -> None:
    """A socket that ends without close_notify raises BrokenResourceError once the bytes before
    it are read: a truncated stream never looks like a clean end, even to a caller that does
    not check counts (the TLS rule against truncation attacks)."""
    client, server = await connected(contexts)
    await server.send_all(b"half a messa")
    await server.transport_stream.aclose()
    assert await receive_exactly(client, 12) == b"half a messa"
    with pytest.raises(trio.BrokenResourceError) as caught, trio.fail_after(5):
        await client.receive_some()
    assert isinstance(caught.value.__cause__, ssl.SSLError | OSError)
    with pytest.raises(trio.BrokenResourceError):  # and it stays broken
        await client.receive_some()
    await client.aclose()


async def relay(source: trio.SocketStream, sink: trio.SocketStream, corrupt: trio.Event) -> None:
    """Forward whole TLS records; once `corrupt` is set, flip the last byte (the authentication
    tag) of the next encrypted record."""
    pending = bytearray()
    while data := await source.receive_some():
        pending += data
        while len(pending) >= 5 and len(pending) >= 5 + int.from_bytes(pending[3:5], "big"):
            size = 5 + int.from_bytes(pending[3:5], "big")
            record = pending[:size]
            del pending[:size]
            if corrupt.is_set() and record[0] == 0x17:
                record[-1] ^= 0x01
                corrupt = trio.Event()  # once
            await sink.send_all(record)
    await sink.aclose()


@pytest.mark.parametrize("sender", ["ours", "trio"])
async def test_a_corrupt_record_breaks_the_stream(contexts: Contexts, sender: str) -> None:
    client_sock, relay_in = await tcp_pair()
    relay_out, server_sock = await tcp_pair()
    corrupt = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(relay, relay_out, relay_in, corrupt)  # server -> client
        nursery.start_soon(relay, relay_in, relay_out, trio.Event())  # client -> server
        client, server = await connected(contexts, "ours", sender, (client_sock, server_sock))
        await server.send_all(b"intact")
        assert await receive_exactly(client, 6) == b"intact"
        corrupt.set()
        await server.send_all(b"tampered")
        with pytest.raises(trio.BrokenResourceError) as caught, trio.fail_after(5):
            await client.receive_some()
        assert isinstance(caught.value.__cause__, ssl.SSLError)
        # the alert TLS wrote while receiving was sent: the sender learns why
        with pytest.raises(trio.BrokenResourceError) as told, trio.fail_after(5):
            await server.receive_some()
        assert "bad record mac" in str(told.value.__cause__).lower()
        nursery.cancel_scope.cancel()
    await client.aclose()


async def test_two_receivers_or_two_senders_at_once_are_busy(contexts: Contexts) -> None:
    client, _server = await connected(contexts)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.receive_some)  # waits: nothing was sent
        nursery.start_soon(client.send_all, bytes(32 << 20))  # waits: nobody reads
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await client.receive_into(bytearray(10))
        with pytest.raises(trio.BusyResourceError):
            await client.send_all(b"y")
        with pytest.raises(trio.BusyResourceError):
            await client.wait_send_all_might_not_block()
        nursery.cancel_scope.cancel()


async def test_every_receive_and_send_is_a_checkpoint(contexts: Contexts) -> None:
    client, server = await connected(contexts)
    assert isinstance(client, TLSStream)
    await server.send_all(os.urandom(51_000))
    buffer = bytearray(1000)
    for _ in range(50):  # after the first, the bytes are already decrypted or buffered
        with trio.testing.assert_checkpoints():
            assert await client.receive_into(buffer) == 1000
    with trio.testing.assert_checkpoints():
        await client.receive_some(1000)
    for data in (b"", b"z"):
        with trio.testing.assert_checkpoints():
            await client.send_all(data)
    with trio.testing.assert_checkpoints():
        await client.wait_send_all_might_not_block()
    await server.aclose()
    for _ in range(2):
        with trio.testing.assert_checkpoints():
            assert await client.receive_into(buffer) == 0
    with trio.testing.assert_checkpoints():
        await client.aclose()
    with trio.testing.assert_checkpoints():
        await client.aclose()


async def test_a_cancelled_receive_loses_no_bytes(contexts: Contexts) -> None:
    client, server = await connected(contexts)
    assert isinstance(client, TLSStream)
    data = os.urandom(50_000)
    await server.send_all(data)
    first = await receive_exactly(client, 100)
    with trio.CancelScope() as scope:
        scope.cancel()
        await client.receive_into(bytearray(100))
    assert scope.cancelled_caught
    assert first + await receive_exactly(client, len(data) - 100) == data


async def test_sending_while_a_receive_is_running(contexts: Contexts) -> None:
    """Full duplex: a send goes out while the same stream's receive waits, and vice versa."""
    client, server = await connected(contexts)
    replies = os.urandom(4 << 20)
    got: list[bytes] = []

    async def receive() -> None:
        got.append(await receive_exactly(server, 5))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()  # the server's receive is waiting
        nursery.start_soon(server.send_all, replies)
        assert await receive_exactly(client, len(replies)) == replies
        await client.send_all(b"hello")
    assert got == [b"hello"]


async def test_a_server_sends_nothing_before_it_sends_data(contexts: Contexts) -> None:
    """TLS 1.3 session tickets wait for the server's first send: a server that only listens
    writes nothing a client could leave unread (and be reset for)."""
    client, server = await connected(contexts)
    await client.send_all(b"ping")
    assert await receive_exactly(server, 4) == b"ping"
    socket = client.transport_stream.socket  # loopback: anything sent is already queued here
    assert select.select([socket.fileno()], [], [], 0)[0] == []
    await server.send_all(b"pong")  # now the tickets go first, and the client skips them
    assert await receive_exactly(client, 4) == b"pong"


async def test_closing_wakes_a_waiting_receiver(contexts: Contexts) -> None:
    client, server = await connected(contexts)
    async with trio.open_nursery() as nursery:
        caught: list[BaseException] = []

        async def receive() -> None:
            try:
                await client.receive_some()
            except trio.ClosedResourceError as exc:
                caught.append(exc)

        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        await client.aclose()
    assert len(caught) == 1
    with pytest.raises(trio.ClosedResourceError):
        await client.receive_into(bytearray(1))
    await server.aclose()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_key_updates_with_openssl_s_client(contexts: Contexts, tmp_path: Path) -> None:
    """A third implementation: `openssl s_client` asks for a TLS 1.3 key update ("K"), and the
    stream keeps going both ways (OpenSSL answers with its next write, in line with data)."""
    client = NetworkAuthority.load_or_create(tmp_path / "ca").identity("cli", tmp_path / "cli")
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{listener.socket.getsockname()[1]}",
               "-cert", client.cert_path, "-key", client.key_path, "-CAfile", client.ca_path,
               "-tls1_3", "-no_ign_eof"]  # fmt: skip
    pipe = subprocess.PIPE
    process = await trio.lowlevel.open_process(command, stdin=pipe, stdout=pipe, stderr=pipe)
    assert process.stdin and process.stdout and process.stderr
    try:
        with trio.fail_after(20):
            server = TLSStream(await listener.accept(), contexts[0], server_side=True)
            await server.do_handshake()
            await process.stdin.send_all(b"hello\n")
            assert await receive_exactly(server, 6) == b"hello\n"
            await process.stdin.send_all(b"K\n")  # s_client: a key update, ours requested
            said = b""
            while b"KEYUPDATE" not in said:
                said += await process.stderr.receive_some()
            await process.stdin.send_all(b"after\n")
            assert await receive_exactly(server, 6) == b"after\n"
            await server.send_all(b"MARK-from-server\n")
            shown = b""
            while b"MARK-from-server" not in shown:
                shown += await process.stdout.receive_some()
            await process.stdin.aclose()  # s_client quits with close_notify
            assert await server.receive_some() == b""
            await server.aclose()
            assert await process.wait() == 0
    finally:
        process.kill()
        await listener.aclose()


def test_a_server_hands_each_caller_one_session_ticket(contexts: Contexts) -> None:
    """One ticket per handshake (`identity.SESSION_TICKETS`), not OpenSSL's two: each costs the
    server a quarter of a millisecond, and a caller keeps one. What the server writes after its
    last handshake step is its tickets, a TLS record each (5-byte headers give the lengths)."""
    server_context, client_context = contexts
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, to_server, server_side=False)
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    done: set[str] = set()
    tickets = b""
    while len(done) < 2:
        for name, end in (("client", client), ("server", server)):
            if name in done:
                continue
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                continue
            done.add(name)
            if name == "server":
                tickets = to_client.read()  # (the client took all before: only the tickets)
    records = 0
    while tickets:
        records += 1
        tickets = tickets[5 + int.from_bytes(tickets[3:5], "big") :]
    assert records == 1
