"""Shared fixtures: real nodes on loopback, in this process, under the test's nursery."""

from __future__ import annotations

import os
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from reliablep2p.database.peer import DatabasePeer
from reliablep2p.net.channel import Channel, certificate_name, open_channel, secure
from reliablep2p.net.identity import DATABASE_NAME, Identity
from reliablep2p.peer.node import Node
from reliablep2p.proto import FileInfo

from .faults.cluster import Cluster
from .servers import postgres, scaled, seaweed  # noqa: F401 - real servers, once per session


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until `predicate()` is true; fail the test after `timeout` seconds."""
    with trio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await trio.sleep(0.01)


class Network:
    """A database peer and any number of peers, all in this process.

    Secure by default, as the product is: every link is mutual TLS against the network's CA,
    and every peer holds a certificate the CA issued (enrollment by code is tested on its own).
    """

    def __init__(self, nursery: trio.Nursery, root: Path, *, secure: bool = True) -> None:
        self.nursery = nursery
        self.root = root
        self.secure = secure
        self.db: DatabasePeer
        self.count = 0

    async def start_db(self, port: int = 0, **options: Any) -> DatabasePeer:
        self.db = DatabasePeer(data_dir=self.root / "db", port=port, secure=self.secure, **options)
        await self.nursery.start(self.db.run)
        return self.db

    def identity(self, name: str) -> Identity | None:
        """A certificate for `name` from the network's CA (None on an insecure network)."""
        if self.db.authority is None:
            return None
        self.db.store.enroll_member(name, number=0)  # a member, as if it had joined with a code
        return self.db.authority.identity(name, self.root / "profiles" / name)

    def tls(self, name: str) -> ssl.SSLContext | None:
        """A client TLS context for a hand-driven connection as player `name`."""
        identity = self.identity(name)
        return identity.client_context() if identity else None

    async def connect(self, port: int, *, name: str = "tester", listen_port: int = 0) -> Channel:
        """A hand-driven connection to a node of this network, introduced by `Hello`."""
        return await open_channel(
            "127.0.0.1", port, name=name, listen_port=listen_port, tls=self.tls(name)
        )

    async def serve(self, handler: Callable[[Channel], Awaitable[None]], *, name: str) -> int:
        """A hand-written peer listening on a free port (TLS as player `name` when secure).

        The database peer's call back when it joins (is it where it says it listens?) is not
        handed to `handler`: only other players' calls are.
        """
        identity = self.identity(name)

        async def accept(stream: trio.SocketStream) -> None:
            wrapped: trio.abc.Stream = stream
            if identity is not None:
                wrapped = await secure(stream, identity.server_context(), server_side=True)
                if certificate_name(wrapped) == DATABASE_NAME:
                    await wrapped.aclose()
                    return
            await handler(Channel(wrapped))

        listeners = await self.nursery.start(trio.serve_tcp, accept, 0)
        port: int = listeners[0].socket.getsockname()[1]
        return port

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
            name=f"player{self.count}",
            identity=self.identity(f"player{self.count}"),
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


@pytest.fixture
async def plain_network(nursery: trio.Nursery, tmp_path: Path) -> Network:
    """The documented --insecure-lan mode: plain TCP, for tests of the raw wire."""
    net = Network(nursery, tmp_path, secure=False)
    await net.start_db()
    return net


@pytest.fixture
def idle_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Real `rp2p-db` / `rp2p-peer` processes, none started yet (the test starts the database
    peer with its own options); all stopped at the end."""
    cluster = Cluster(tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(idle_cluster: Cluster) -> Cluster:
    """A real `rp2p-db` running (no round ever starts), and a way to start players around it."""
    idle_cluster.start_db()
    return idle_cluster


def free_udp_port() -> int:
    """A UDP port for a test's own LAN discovery, so tests running at once do not hear each other."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size) if size < 1 << 20 else os.urandom(size)
