"""Shared fixtures: real nodes on loopback, in this process, under the test's nursery."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from reliablep2p.dbpeer import DatabasePeer
from reliablep2p.node import Node
from reliablep2p.protocol import FileInfo


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until `predicate()` is true; fail the test after `timeout` seconds."""
    with trio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await trio.sleep(0.01)


class Network:
    """A database peer and any number of peers, all in this process."""

    def __init__(self, nursery: trio.Nursery, root: Path) -> None:
        self.nursery = nursery
        self.root = root
        self.db: DatabasePeer
        self.count = 0

    async def start_db(self, port: int = 0, **options: float) -> DatabasePeer:
        self.db = DatabasePeer(data_dir=self.root / "db", port=port, **options)
        await self.nursery.start(self.db.run)
        return self.db

    async def peer(
        self,
        files: dict[str, bytes] | None = None,
        *,
        rescan_interval: float = 0.1,
        **options: float,
    ) -> Node:
        """A joined peer seeding `files`, once the catalog has them all."""
        self.count += 1
        share = self.root / f"peer{self.count}"
        share.mkdir()
        for name, data in (files or {}).items():
            (share / name).write_bytes(data)
        node = Node(
            share_dir=share,
            database=("127.0.0.1", self.db.port),
            rescan_interval=rescan_interval,
            rng=random.Random(self.count),
            **options,
        )
        await self.nursery.start(node.run)
        await until(lambda: node.ready.is_set() and all(n in node.catalog for n in files or {}))
        return node

    def catalog_entry(self, name: str) -> FileInfo:
        return self.db.catalog[name]


@pytest.fixture
async def network(nursery: trio.Nursery, tmp_path: Path) -> Network:
    net = Network(nursery, tmp_path)
    await net.start_db()
    return net


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size) if size < 1 << 20 else os.urandom(size)
