"""Scenario 5's fetchers: F joined nodes in this process, each getting one file from the vault.

`secure_get(file, database peer)` asks the vault and nobody else and verifies every chunk as a
player's download does; a fetcher told `busy` backs off and asks again with `Node.get`'s policy.
"""

from __future__ import annotations

import random
from pathlib import Path

import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.peer.fetch import BACKOFF_CAP, BUSY_BACKOFF, SourcesBusy
from reliablep2p.peer.node import Node

from .transfer import Rp2p


class Load:
    """F fetchers in this process; fetcher k asks the database peer at `ports[k % len(ports)]`."""

    def __init__(self, net: Rp2p, root: Path, names: list[str], number: int,
                 ports: list[int] | None = None) -> None:  # fmt: skip
        self.net = net
        self.ports = ports or [net.db_port]
        self.root = root
        self.names = names
        self.number = number
        self.busy = 0
        self.authority = NetworkAuthority.load_or_create(net.root / "db-tls") if net.tls else None

    def _node(self, k: int) -> Node:
        name = f"r{self.number}f{k}"
        identity = None
        if self.authority is not None:  # the network's CA signs it, as enrollment would
            identity = self.authority.identity(name, self.root / "profiles" / name)
        database = ("127.0.0.1", self.ports[k % len(self.ports)])
        return Node(name=name, share_dir=self.root / name, database=database,
                    rescan_interval=3600, rng=random.Random(k), identity=identity)  # fmt: skip

    async def run(self) -> float:
        async with trio.open_nursery() as nursery:
            nodes = [self._node(k) for k in range(len(self.names))]
            for node in nodes:
                nursery.start_soon(node.run)
            with trio.fail_after(120):
                while not all(n.ready.is_set() for n in nodes):  # noqa: ASYNC110
                    await trio.sleep(0.01)
            start = trio.current_time()
            async with trio.open_nursery() as fetches:
                for k, (node, name) in enumerate(zip(nodes, self.names, strict=True)):
                    fetches.start_soon(self._fetch, node, name, self.ports[k % len(self.ports)])
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
        return elapsed

    async def _fetch(self, node: Node, name: str, port: int) -> None:
        delay = BUSY_BACKOFF
        while True:
            try:
                result = await node.secure_get(name, "127.0.0.1", port)
            except SourcesBusy:
                self.busy += 1
                await trio.sleep(delay * node.rng.uniform(0.5, 1.5))
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            if not result.from_vault:
                raise RuntimeError(f"{name} came from {result.source}, not the vault")
            return
