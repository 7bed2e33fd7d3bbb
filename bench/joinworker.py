"""A share of scenario 3's players in a process of their own (`python -m bench.joinworker`).

On a LAN every player is a process with its own heap and its own cycle collector; here a few
hundred share one worker process, and the database peer stays in the benchmark's process. The
worker talks to the benchmark in lines on stdin/stdout:

    -> ready [[host, port], ...]        its players listen (shares scanned), sessions held back
    <- go                               all sessions start
    -> whole SECONDS CPU                every list of its players holds N-1 others (monotonic
                                        clock, shared by every process on the machine; CPU
                                        seconds this process spent since `go`)
    <- check [[host, port], ...]        everyone: each list must be everyone but itself
    -> report {json}                    the frames its players sent, and what the check found
    <- (stdin closed)                   stop
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio

from reliablep2p.net.identity import Identity
from reliablep2p.peer.node import Node
from reliablep2p.peer.session import DatabaseSession

from .counting import Traffic, counting

POLL = 0.005


@contextlib.contextmanager
def gated_sessions(go: trio.Event) -> Iterator[None]:
    """Sessions with the database peer wait for `go` (patched in from outside, as counting)."""
    original = DatabaseSession.run

    async def run(self: DatabaseSession) -> None:
        await go.wait()
        await original(self)

    DatabaseSession.run = run  # type: ignore[method-assign]
    try:
        yield
    finally:
        DatabaseSession.run = original  # type: ignore[method-assign]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Lines:
    """Lines from a trio stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self) -> str:
        while b"\n" not in self.buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                return ""
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


def add_traffic(total: Traffic, counted: dict[str, Any]) -> None:
    """Add a worker's `traffic_json` to `total`."""
    total.messages.update(collections.Counter(counted["messages"]))
    total.message_bytes.update(collections.Counter(counted["message_bytes"]))
    total.frame_bytes += counted["frame_bytes"]
    total.data_frames += counted["data_frames"]
    total.wire_bytes += counted["wire_bytes"]
    total.connections += counted["connections"]


def traffic_json(traffic: Traffic) -> dict[str, Any]:
    return {
        "messages": dict(traffic.messages), "message_bytes": dict(traffic.message_bytes),
        "frame_bytes": traffic.frame_bytes, "data_frames": traffic.data_frames,
        "wire_bytes": traffic.wire_bytes, "connections": traffic.connections,
    }  # fmt: skip


async def work(root: Path, db_port: int, tls: bool, first: int, count: int, n: int) -> None:
    logging.getLogger("rp2p").setLevel(logging.ERROR)
    commands = Lines(trio.lowlevel.FdStream(os.dup(0)))
    go = trio.Event()
    nodes = []
    for i in range(first, first + count):
        name = f"p{i}"
        identity = Identity.load(root / "profiles" / name) if tls else None
        nodes.append(Node(
            name=name, share_dir=root / name, database=("127.0.0.1", db_port),
            rescan_interval=3600, rng=random.Random(i), identity=identity,
        ))  # fmt: skip
    with counting() as traffic, gated_sessions(go):
        async with trio.open_nursery() as nursery:
            async with trio.open_nursery() as starting:
                for node in nodes:
                    starting.start_soon(nursery.start, node.run)
            say("ready " + json.dumps([list(node.me.addr) for node in nodes]))
            if await commands.next() != "go":
                raise SystemExit("no go")
            traffic.reset()
            cpu = time.process_time()
            go.set()
            waiting = nodes
            while waiting:
                waiting = [n_ for n_ in waiting if not n_.ready.is_set() or len(n_.peers) != n - 1]
                await trio.sleep(POLL)
            say(f"whole {time.monotonic()} {time.process_time() - cpu}")
            _, _, everyone_json = (await commands.next()).partition(" ")
            everyone = {tuple(addr) for addr in json.loads(everyone_json or "[]")}
            wrong = [node.name for node in nodes
                     if set(node.peers.peers) != everyone - {node.me.addr}]  # fmt: skip
            retries = sum(node.session.failed_tries for node in nodes)
            say("report " + json.dumps({"traffic": traffic_json(traffic), "wrong": wrong,
                                        "retries": retries}))  # fmt: skip
            await commands.next()  # until the benchmark closes our stdin
            nursery.cancel_scope.cancel()


def main() -> None:
    root, db_port, tls, first, count, n = sys.argv[1:7]
    trio.run(work, Path(root), int(db_port), tls == "tls", int(first), int(count), int(n))


if __name__ == "__main__":
    main()
