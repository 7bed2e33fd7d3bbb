"""The servers the tests start (PostgreSQL, SeaweedFS, rp2p-db) take their ports from one place:
below the kernel's ephemeral range, each handed out once."""

from __future__ import annotations

import socket

from . import services
from .faults import cluster
from .ports import GRPC_OFFSET, below_ephemeral


def test_the_store_servers_the_cluster_and_the_benchmarks_share_one_free_port() -> None:
    from bench import common

    assert services.free_port is cluster.free_port is common.free_port


def test_a_store_servers_port_is_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    ports = [services.free_port() for _ in range(50)]
    assert all(port in below_ephemeral() for port in ports), ports
    assert len(set(ports)) == len(ports)


def test_a_seaweed_port_and_its_grpc_port_are_both_free_below_the_range_and_both_taken() -> None:
    taken = []
    for _ in range(20):
        port = services.free_port(grpc=True)
        assert port in below_ephemeral() and port + GRPC_OFFSET in below_ephemeral(), port
        for each in (port, port + GRPC_OFFSET):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", each))  # free
        taken += [port, port + GRPC_OFFSET]
    assert len(set(taken)) == len(taken)
    assert all(p not in taken for p in (services.free_port() for _ in range(50)))
