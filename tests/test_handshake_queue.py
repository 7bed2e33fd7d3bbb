"""A burst of TLS callers (a LAN party joining at once) gets through on the first try: the
database peer works through their handshakes a few at a time, each with its own deadline,
instead of all at once until most run out of time and call again (each retry one more
handshake to do)."""

from __future__ import annotations

from pathlib import Path

import trio

from reliablep2p.net.channel import open_channel
from reliablep2p.proto import AskShared, ProtocolError, SharedFiles

from .conftest import Network

CALLERS = 120
"""Under the per-address cap (every caller here is 127.0.0.1)."""


async def test_a_burst_of_tls_callers_all_get_in_on_their_first_try(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    network = Network(nursery, tmp_path)
    db = await network.start_db(read_timeout=1.0)  # far more than one handshake takes, far
    contexts = [network.tls(f"caller{i}") for i in range(CALLERS)]  # less than all at once
    failed: list[str] = []

    async def call(i: int) -> None:
        try:
            async with await open_channel(
                "127.0.0.1", db.port, name=f"caller{i}", listen_port=41000 + i, tls=contexts[i]
            ) as channel:
                await channel.send(AskShared())
                await channel.receive_message(SharedFiles, timeout=10)
        except ProtocolError as exc:
            failed.append(exc.detail)

    with trio.fail_after(30):
        async with trio.open_nursery() as burst:
            for i in range(CALLERS):
                burst.start_soon(call, i)
    assert failed == [], f"{len(failed)} of {CALLERS} failed"
