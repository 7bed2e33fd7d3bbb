"""Free loopback ports for the servers the tests start, from one place.

Each is taken under the kernel's ephemeral range, so an outgoing connection of another test never
takes it between our choosing it and the server binding it (one from port 0 it can, and did), and
none is handed out twice in a run.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

GRPC_OFFSET = 10000
"""SeaweedFS listens for gRPC on each of its ports plus this."""


def below_ephemeral() -> range:
    """Ports under the kernel's ephemeral range (the 12,000 just below it)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(max(1024, low - 12000), low)


_handed_out: set[int] = set()


def _free(port: int) -> bool:
    if port in _handed_out:
        return False
    with socket.socket() as probe, contextlib.suppress(OSError):
        probe.bind(("127.0.0.1", port))
        return True
    return False


def free_port(*, grpc: bool = False) -> int:
    """A loopback port nobody listens on, never handed out before in this run; with `grpc`, one
    whose +10000 is free (and below the ephemeral range) too, both then taken."""
    ports = below_ephemeral()
    if grpc:
        ports = range(ports.start, max(ports.start, ports.stop - GRPC_OFFSET))
    for port in random.sample(ports, min(200, len(ports))):
        pair = (port, port + GRPC_OFFSET) if grpc else (port,)
        if all(_free(p) for p in pair):
            _handed_out.update(pair)
            return port
    raise RuntimeError(f"no free loopback port below {ports.stop} after 200 tries")
