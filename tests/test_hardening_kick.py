"""Attacks on the running network, as they were found: real `rp2p-db` and `rp2p-peer` processes.

A kick holds on every peer, whenever it joined or restarted; `rp2p-db kick` says who refuses the
kicked name; and an address belongs to the player whose certificate registered it: nobody
displaces another player's session or says `disconnect` in its place.
"""

from __future__ import annotations

import signal
import socket
import subprocess

import pytest
import trio

from reliablep2p.net.channel import ConnectionLost, open_channel
from reliablep2p.net.enroll import enroll
from reliablep2p.net.identity import Identity
from reliablep2p.proto import (
    Bye,
    Connect,
    Disconnect,
    Error,
    ErrorCode,
    File,
    Get,
    MapRequest,
    Message,
)

from .faults.cluster import BIN, Cluster, free_port, wait_for

pytestmark = pytest.mark.slow

LOOT = b"gold " * 1000


def join(cluster: Cluster, name: str) -> Identity:
    """A member of the network (enrolled with the host's code), not online."""
    folder = cluster.root / "profiles" / name
    return trio.run(enroll, "127.0.0.1", cluster.enroll_port, cluster.code, name, folder)


def ask(who: Identity, port: int, request: Message, *, listen_port: int = 0) -> Message | bytes:
    """One request to the node on `port`, under `who`'s certificate: its first answer."""

    async def conversation() -> Message | bytes:
        async with await open_channel("127.0.0.1", port, name=who.name, listen_port=listen_port,
                                      tls=who.client_context()) as channel:  # fmt: skip
            await channel.send(request)
            return await channel.receive()

    return trio.run(conversation)


def assert_refused(who: Identity, port: int, request: Message) -> None:
    """Refused before any request is read: told `forbidden` (inside TLS) and hung up on."""
    try:
        answer = ask(who, port, request)
    except ConnectionLost:
        return
    assert isinstance(answer, Error) and answer.code == ErrorCode.FORBIDDEN, (
        f"port {port} answered {who.name} with {answer}"
    )


def kick(cluster: Cluster, name: str, *, wait: float = 5) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "rp2p-db", "kick", name, "--data", str(cluster.data), "--port",
         str(cluster.db_port), "--wait", str(wait)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def joined(cluster: Cluster, name: str, times: int = 1) -> bool:
    return cluster.db_log().count(f"{name} joined from") >= times


# ------------------------------------------------------------------------------------ kick


def test_a_peer_that_joins_after_a_kick_refuses_the_kicked_certificate_even_after_restarts(
    cluster: Cluster,
) -> None:
    rogue, friend = join(cluster, "rogue"), join(cluster, "friend")
    assert kick(cluster, "rogue").returncode == 0
    port = free_port()
    late = cluster.seeder("late", {"loot.txt": LOOT}, port=port)
    cluster.wait_cataloged("loot.txt", timeout=30)
    # the peer serves the file to a member (once it knows the catalog), not to the kicked one
    serves = lambda: isinstance(ask(friend, port, Get("loot.txt")), File)  # noqa: E731
    wait_for(serves, 15, "late to serve loot.txt", interval=0.05)
    assert_refused(rogue, port, Get("loot.txt"))

    cluster.kill(late, signal.SIGTERM)  # restarted: its welcome says it again
    late = cluster.seeder("late", port=port)
    wait_for(lambda: joined(cluster, "late", 2), 15, "late to join again")
    wait_for(serves, 15, "late to serve loot.txt again", interval=0.05)
    assert_refused(rogue, port, Get("loot.txt"))

    assert cluster.db is not None
    cluster.kill(cluster.db)  # restarted with the database peer down: it kept what it was told
    cluster.kill(late, signal.SIGTERM)
    late = cluster.seeder("late", port=port)
    wait_for(lambda: listening(port), 15, "late to listen", interval=0.02)
    assert not isinstance(ask(friend, port, MapRequest()), Error)
    assert_refused(rogue, port, MapRequest())


def test_kick_returns_once_the_online_peers_refuse_the_name_and_says_who_did_not(
    cluster: Cluster,
) -> None:
    rogue = join(cluster, "rogue")
    alice_port = free_port()
    cluster.seeder("alice", port=alice_port)
    bob = cluster.seeder("bob")
    wait_for(lambda: joined(cluster, "alice") and joined(cluster, "bob"), 15, "the peers to join")
    bob.send_signal(signal.SIGSTOP)  # bob cannot answer
    try:
        result = kick(cluster, "rogue", wait=2)
    finally:
        bob.send_signal(signal.SIGCONT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "rogue is kicked out of the network; told 1 of 2 online peers; "
        "not told: bob (no answer within 2 s)\n"
    )
    assert_refused(rogue, alice_port, MapRequest())  # told means it refuses, already
    # bob, awake again, heard it; kicking again finds every online peer refusing the name
    again = kick(cluster, "rogue")
    assert again.stdout == "rogue is kicked out of the network; told 2 of 2 online peers\n"


def test_kick_of_a_name_that_is_not_a_member_exits_1_with_one_line_and_bars_nobody(
    cluster: Cluster,
) -> None:
    result = kick(cluster, "nobody")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "rp2p-db kick: nobody called 'nobody' is a member of this network\n"
    assert join(cluster, "nobody").name == "nobody"  # the name was not barred by the typo
    assert cluster.db is not None
    cluster.kill(cluster.db, signal.SIGTERM)  # and with the database peer not running
    offline = kick(cluster, "somebody")
    assert (offline.returncode, offline.stdout) == (1, "")
    assert offline.stderr == (
        "rp2p-db kick: nobody called 'somebody' is a member of this network\n"
    )


# ------------------------------------------------------------------------------- addresses


def test_a_session_cannot_take_another_players_address(cluster: Cluster) -> None:
    mallory = join(cluster, "mallory")
    victim_port = free_port()
    cluster.seeder("victim", port=victim_port)
    wait_for(lambda: joined(cluster, "victim"), 15, "the victim to join")
    answer = ask(mallory, cluster.db_port, Connect(), listen_port=victim_port)
    assert isinstance(answer, Error), f"the database peer answered {answer}"
    assert answer.code == "address-taken"
    assert "mallory joined from" not in cluster.db_log()
    assert "victim left" not in cluster.db_log()
    assert "lost the database peer" not in (cluster.root / "victim.log").read_text()


def test_a_disconnect_cannot_drop_another_player(cluster: Cluster) -> None:
    mallory = join(cluster, "mallory")
    victim_port = free_port()
    cluster.seeder("victim", port=victim_port)
    witness = cluster.seeder("witness")
    wait_for(lambda: joined(cluster, "victim") and joined(cluster, "witness"), 15, "the joins")
    victim_line = f"victim  127.0.0.1:{victim_port}"
    wait_for(lambda: victim_line in peers_of(cluster, witness, "witness"), 15,
             "the witness to list the victim", interval=0.1)  # fmt: skip
    # mallory says goodbye to the witness, claiming the victim's port
    answer = ask(mallory, port_of(witness), Disconnect(), listen_port=victim_port)
    assert isinstance(answer, Bye)
    assert victim_line in peers_of(cluster, witness, "witness")


def port_of(process: subprocess.Popen[str]) -> int:
    args = [str(a) for a in process.args]  # type: ignore[union-attr]
    return int(args[args.index("--port") + 1])


def peers_of(cluster: Cluster, process: subprocess.Popen[str], name: str) -> str:
    """What `peers` typed into a running `rp2p-peer` answers (it prints to its log)."""
    log = cluster.root / f"{name}.log"
    before = len(log.read_text())
    assert process.stdin is not None
    process.stdin.write("peers\n")
    process.stdin.flush()
    answer = lambda: log.read_text()[before:]  # noqa: E731
    wait_for(lambda: "127.0.0.1:" in answer() or "no other peers online" in answer(), 10,
             f"{name} to answer peers", interval=0.01)  # fmt: skip
    return answer()
