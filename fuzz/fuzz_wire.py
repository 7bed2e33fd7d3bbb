"""Coverage-guided fuzzing of the frame decoder and the request handlers, with atheris.

Run by hand: `make fuzz` (or `.venv/bin/python fuzz/fuzz_wire.py -max_total_time=300`).
Any exception other than `ProtocolError` from the decoder, or any internal error logged by a
handler, is a crash and leaves a reproducer file behind.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import trio
    import trio.testing

    from reliablep2p import proto as protocol
    from reliablep2p.database.peer import DatabasePeer
    from reliablep2p.peer.node import Node


class Crash(Exception):
    pass


class FailOnError(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise Crash(record.getMessage())


ROOT = Path(tempfile.mkdtemp(prefix="rp2p-atheris-"))
DATABASE = DatabasePeer(data_dir=ROOT / "db", port=0, read_timeout=0.2)
DATABASE.catalog.update({info.name: info for info in DATABASE.store.open()})
PEER = Node(share_dir=ROOT / "share", database=None, read_timeout=0.2)
HELLO = protocol.encode_message(protocol.Hello(protocol.PROTOCOL_VERSION, "fuzz", 40123))


def decode_all(data: bytes) -> None:
    decoder = protocol.FrameDecoder()
    decoder.feed(data)
    try:
        while (body := decoder.next_body()) is not None:
            protocol.decode_body(body)
    except protocol.ProtocolError:
        pass


async def converse(node: Node | DatabasePeer, data: bytes) -> None:
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(node.server.serve, server)
            try:
                await client.send_all(data)
                await client.send_eof()
                while await client.receive_some():
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass


def test_one_input(data: bytes) -> None:
    if not data:
        return
    decode_all(data)
    node = PEER if data[0] & 1 else DATABASE
    payload = HELLO + data[1:] if data[0] & 2 else data[1:]
    trio.run(converse, node, payload)


if __name__ == "__main__":
    logging.getLogger("rp2p").addHandler(FailOnError(logging.ERROR))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
