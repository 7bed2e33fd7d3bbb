"""Fuzzing the request handlers: any sequence of frames, valid or not, is answered or hung up on.

Each example feeds a real node's connection handler (peer and database peer) through an
in-memory stream; no example may end in an unhandled exception (which the node would log as an
internal error) or hang.
"""

from __future__ import annotations

import logging

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliablep2p import proto as protocol
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.peer.node import Node
from reliablep2p.proto import data_frame_header, describe_bytes, encode_message

int64 = st.integers(-(2**63), 2**63 - 1)
CONTENTS = {f"file{n}.txt": b"x" * n for n in (0, 5, 70)}
CATALOG = [describe_bytes(data, name) for name, data in CONTENTS.items()]
names = st.sampled_from([info.name for info in CATALOG] + ["../x", "", ".h", "nope", "a/b"])
peers = st.builds(
    protocol.PeerInfo, st.text(max_size=8), st.just("127.0.0.1"), st.integers(0, 70000)
)
infos = st.one_of(
    st.sampled_from(CATALOG),
    st.builds(
        protocol.FileInfo,
        names,
        st.integers(-5, 10**12),
        st.binary(max_size=40),
        st.lists(st.binary(max_size=40), max_size=3),
    ),
)

messages = st.one_of(
    st.builds(protocol.Hello, st.integers(0, 3), st.text(max_size=8), st.integers(-1, 70000)),
    st.just(protocol.Connect()),
    st.builds(protocol.Get, names, st.integers(-(2**40), 2**40)),
    st.just(protocol.MapRequest()),
    st.just(protocol.Disconnect()),
    st.builds(protocol.Upload, infos),
    st.builds(protocol.Publish, st.lists(infos, max_size=3)),
    st.builds(protocol.Found, names),
    st.builds(protocol.Proof, names, st.binary(max_size=40), st.binary(max_size=40)),
    st.builds(protocol.Stats, st.integers(-(2**31), 2**31)),
    st.builds(protocol.Map, st.dictionaries(names, st.lists(peers, max_size=2), max_size=2)),
    st.builds(protocol.UpdatePeers, int64, int64, st.lists(peers, max_size=2)),
    st.just(protocol.Ping()),
    st.just(protocol.Bye()),
    st.builds(protocol.Error, st.text(max_size=10), st.text(max_size=10)),
)
frames = st.one_of(
    messages.map(encode_message),
    st.binary(max_size=80).map(lambda data: data_frame_header(len(data)) + data),
    st.binary(max_size=40),
)
hello = st.just(encode_message(protocol.Hello(protocol.PROTOCOL_VERSION, "fuzz", 40123)))
conversations = st.tuples(st.one_of(hello, frames), st.lists(frames, max_size=5))


class InternalErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, DatabasePeer]:
    root = tmp_path_factory.mktemp("fuzz")
    database = DatabasePeer(data_dir=root / "db", port=0, read_timeout=1)
    database.stores.open()
    for info in CATALOG:  # as uploads leave them: every catalog entry has its blob in the vault
        blob = database.vault.start_blob(info)
        if info.size:
            blob.write_chunk(CONTENTS[info.name])
        blob.finish()
        database.store.add_file(info)
    database.catalog.update({info.name: info for info in CATALOG})
    peer = Node(share_dir=root / "share", database=None, read_timeout=1)
    peer.catalog.update({info.name: info for info in CATALOG})
    return peer, database


async def converse(node: Node | DatabasePeer, first: bytes, rest: list[bytes]) -> None:
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(node.server.serve, server)
            try:
                for frame in [first, *rest]:
                    await client.send_all(frame)
                await client.send_eof()
                while await client.receive_some():
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(conversation=conversations, which=st.sampled_from(["peer", "database"]))
def test_any_conversation_ends_cleanly(
    nodes: tuple[Node, DatabasePeer], conversation: tuple[bytes, list[bytes]], which: str
) -> None:
    node = nodes[0] if which == "peer" else nodes[1]
    errors = InternalErrors()
    logging.getLogger("rp2p").addHandler(errors)
    try:
        trio.run(converse, node, *conversation)
    finally:
        logging.getLogger("rp2p").removeHandler(errors)
    assert not errors.records, errors.records[0].getMessage()


def test_strategies_reach_the_handlers(nodes: tuple[Node, DatabasePeer]) -> None:
    """Guard against a fuzzer that only ever tests the first frame's decoder."""
    first = encode_message(protocol.Hello(protocol.PROTOCOL_VERSION, "fuzz", 40123))
    request = encode_message(protocol.Get("file5.txt"))
    answer = []

    async def run() -> None:
        client, server = trio.testing.memory_stream_pair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(nodes[1].server.serve, server)
            await client.send_all(first + request)
            while data := await client.receive_some():
                answer.append(data)

    trio.run(run)
    decoder = protocol.FrameDecoder()
    decoder.feed(b"".join(answer))
    body = decoder.next_body()
    assert body is not None
    reply = protocol.decode_body(body)
    assert isinstance(reply, protocol.File | protocol.Error), msgspec.to_builtins(reply)
