"""Programs of two protocol versions meet: each side says, in one line, which one to update.

Real `rp2p-db` and `rp2p-peer` processes on loopback, each facing a hand-written node that
speaks the next protocol (or the one before: a version-1 player, whose `PeerInfo` was a map)
with the network's certificates.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest
import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.net.channel import Channel, RemoteError, secure
from reliablep2p.net.identity import DATABASE_NAME, Identity
from reliablep2p.proto import PROTOCOL_VERSION, Connect, Error, ErrorCode, Hello, Welcome

from .faults.cluster import BIN, Cluster, free_port, wait_for

UPDATE = "(pipx upgrade reliablep2p)"
BEFORE, NOW, NEXT = 1, PROTOCOL_VERSION, PROTOCOL_VERSION + 1
"""BEFORE: protocol 1, where a `PeerInfo` was a map and there were no `Z` frames."""


async def join_speaking(version: int, port: int, identity: Identity) -> RemoteError:
    """Connect to the database peer as a player speaking `version`; what it answers."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with Channel(await secure(stream, identity.client_context(), server_side=False)) as ch:
        await ch.send(Hello(version=version, name=identity.name, port=7000))
        await ch.send(Connect())
        with pytest.raises(RemoteError) as refused:
            await ch.receive_message(Welcome)
    return refused.value


def test_the_host_tells_a_player_of_another_version_and_logs_which_side_to_update(
    cluster: Cluster,
) -> None:
    authority = NetworkAuthority.load_or_create(cluster.data)
    newer = authority.identity("newer", cluster.root / "newer")
    older = authority.identity("older", cluster.root / "older")

    refused = trio.run(join_speaking, NEXT, cluster.db_port, newer)
    assert (refused.code, refused.speaks) == (ErrorCode.VERSION, PROTOCOL_VERSION)
    refused = trio.run(join_speaking, BEFORE, cluster.db_port, older)
    assert (refused.code, refused.speaks) == (ErrorCode.VERSION, PROTOCOL_VERSION)

    log = lambda: cluster.db_log()  # noqa: E731
    wait_for(lambda: "refused older" in log(), 10, "the host to log the older player")
    assert re.search(
        rf"refused newer at 127\.0\.0\.1: it speaks protocol {NEXT}, this rp2p-db speaks {NOW}: "
        rf"update rp2p-db on this machine {re.escape(UPDATE)}$", log(), re.MULTILINE,
    ), log()  # fmt: skip
    assert re.search(
        rf"refused older at 127\.0\.0\.1: it speaks protocol {BEFORE}, this rp2p-db speaks {NOW}: "
        rf"older must update its rp2p-peer {re.escape(UPDATE)}$", log(), re.MULTILINE,
    ), log()  # fmt: skip
    assert "joined from" not in log()


async def refuse_as_version(
    speaks: int, tls: Identity, calls: list[str], stream: trio.SocketStream
) -> None:
    """A database peer of protocol `speaks`: it refuses every `hello` of ours."""
    async with Channel(await secure(stream, tls.server_context(), server_side=True)) as channel:
        hello = await channel.receive_message(Hello)
        calls.append(hello.name)
        await channel.send(Error(ErrorCode.VERSION, "you speak another protocol", speaks=speaks))
        with trio.move_on_after(5):
            await channel.stream.receive_some(1)  # until it hangs up


async def test_a_player_facing_a_newer_host_says_to_update_itself_once_and_exits_1(
    tmp_path: Path,
) -> None:
    authority = NetworkAuthority.load_or_create(tmp_path / "network")
    host_identity = authority.identity(DATABASE_NAME, tmp_path / "host")
    authority.identity("alice", tmp_path / "alice")  # alice joined this network before
    calls: list[str] = []
    async with trio.open_nursery() as nursery:
        serve = functools.partial(refuse_as_version, NEXT, host_identity, calls)
        listeners = await nursery.start(functools.partial(trio.serve_tcp, serve, 0,
                                                          host="127.0.0.1"))  # fmt: skip
        port = listeners[0].socket.getsockname()[1]
        peer = [BIN / "rp2p-peer", "--name", "alice", "--profile", tmp_path / "alice",
                "--host", "127.0.0.1", "--port", str(free_port()),
                "--db", f"127.0.0.1:{port}", "--share", tmp_path / "share"]  # fmt: skip
        with trio.fail_after(10):  # it gives up at once, not after the join timeout (15 s)
            done = await trio.run_process(peer, stdin=subprocess.DEVNULL, check=False,
                                          capture_stdout=True, capture_stderr=True)  # fmt: skip
        nursery.cancel_scope.cancel()
    said = done.stderr.decode().splitlines()
    assert done.returncode == 1, said
    assert len(said) == 1, said
    assert said[0].endswith(
        f"alice: the host at 127.0.0.1:{port} speaks protocol {NEXT}, this rp2p-peer speaks {NOW}: "
        f"update rp2p-peer {UPDATE}"
    ), said
    assert calls == ["alice"]  # asked once: knocking again cannot help
    assert done.stdout == b""
