"""The benchmarks' traffic counters (bench/counting.py) leave the core working as it ships.

They replace core functions for a scenario; a replacement that does not take the arguments of
what it replaces is a `TypeError` inside a node, answered `Error(internal)`. That is how every
planted treasure fetched from the vault failed in the TLS join storm: `Channel.send_data` had
gained `before=` (the `chunk{index}` sent in the same write) and its counter had not.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
import trio

from bench.counting import counting
from reliablep2p.net.channel import Channel
from reliablep2p.net.tls import TLSStream
from reliablep2p.proto import CHUNK_SIZE

from .conftest import Network, until

REPLACED = [
    *[(Channel, name) for name in ("send", "send_many", "_send_bytes", "send_data",
                                   "send_data_from", "send_data_sendfile")],
    (trio.SocketStream, "send_all"), (trio, "open_tcp_stream"), (TLSStream, "_send_raw"),
    (os, "sendfile"),
]  # fmt: skip


def shape(function: object) -> list[tuple[str, object, bool]]:
    """Each parameter's name, kind and whether it has a default (annotations aside)."""
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default is not p.empty) for p in parameters]


PASS_ALL = [("args", inspect.Parameter.VAR_POSITIONAL, False),
            ("kwargs", inspect.Parameter.VAR_KEYWORD, False)]  # fmt: skip
"""A counter taking `*args, **kwargs` passes on whatever it is given."""


def test_each_counter_takes_the_arguments_of_what_it_replaces() -> None:
    shipped = {(owner, name): (getattr(owner, name), shape(getattr(owner, name)))
               for owner, name in REPLACED}  # fmt: skip
    with counting():
        for (owner, name), (original, expected) in shipped.items():
            counter = getattr(owner, name)
            what = f"{getattr(owner, '__name__', owner)}.{name}"
            assert counter is not original, f"{what} is not counted"
            assert shape(counter) in (expected, PASS_ALL), f"{what}: the counter's arguments differ"
    assert all(getattr(owner, name) is f for (owner, name), (f, _) in shipped.items())


@pytest.mark.parametrize("secure", [True, False], ids=["TLS", "plain"])
async def test_a_vault_fetch_is_served_and_counted_under_the_counters(
    nursery: trio.Nursery, tmp_path: Path, secure: bool
) -> None:
    """How a seeder fetches planted treasure: a source link to the vault, chunk by chunk
    (over TLS by `send_data`, over plain TCP by `sendfile`)."""
    net = Network(nursery, tmp_path, secure=secure)
    await net.start_db()
    data = os.urandom(2 * CHUNK_SIZE + 1234)
    await net.peer({"treasure.bin": data})
    await until(lambda: net.db.vault.has_blob(net.catalog_entry("treasure.bin")))
    seeder = await net.peer()
    with counting() as traffic:
        result = await seeder.fetcher.fetch_from_vault("treasure.bin")
    assert "Error(internal)" not in traffic.messages, traffic.messages
    assert result.from_vault
    assert seeder.share is not None
    assert (seeder.share.path / "treasure.bin").read_bytes() == data
    assert traffic.messages["Chunk"] == 3 and traffic.data_frames == 3
    assert traffic.frame_bytes > len(data)
    if secure:  # TLS records and handshakes
        assert traffic.wire_bytes > traffic.frame_bytes
    else:  # every frame's bytes went out by `send_all` or `sendfile`, and nothing else did
        assert traffic.wire_bytes == traffic.frame_bytes
