"""A database peer holds a socket per player: `rp2p-db` raises its own soft limit on open files
to the hard one (a LAN party ran out at the usual 1,024), and a request it cannot serve for
lack of descriptors is told `busy`, a load condition to try again, never "internal"."""

from __future__ import annotations

import errno
import resource
from pathlib import Path

import trio

from reliablep2p.net.channel import Channel, RemoteError, open_channel
from reliablep2p.net.server import Server
from reliablep2p.proto import ErrorCode, Hello, MapRequest, Ping

from .faults.cluster import Cluster


def soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line")


def test_rp2p_db_raises_its_soft_open_files_limit_to_the_hard_one(idle_cluster: Cluster) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 256
    assert hard == resource.RLIM_INFINITY or hard > low
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        db = idle_cluster.start_db()  # inherits the low soft limit, as from a shell's ulimit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert soft_open_files(db.pid) > low


async def test_running_out_of_descriptors_is_busy_not_internal(nursery: trio.Nursery) -> None:
    async def out_of_files(channel: Channel, hello: Hello, request: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    server = Server({MapRequest: out_of_files}, tls=None, revoked=())
    port = await server.listen(nursery, "127.0.0.1", 0)
    async with await open_channel("127.0.0.1", port, name="asker", listen_port=40996) as channel:
        await channel.send(MapRequest())
        try:
            await channel.receive_message(Ping)
        except RemoteError as exc:
            assert exc.code == ErrorCode.BUSY, exc.detail
            assert "try again" in exc.detail
        else:
            raise AssertionError("no error")
