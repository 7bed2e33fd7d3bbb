"""Same login on two machines of an `--insecure-lan` network: the second plays as NAME-2.

With no certificate the name is only what `hello` says, and two friends logged in as `student`
were both `student`: the second was refused "player name student is already online" and kept
retrying. A defaulted name taken at admission moves on to NAME-2..., told in one line; a name
given with --name is never changed (refused, in words that say what to do); a player welcomed
once keeps its name through reconnects, whatever the host says meanwhile (`peer/naming.py`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import trio

from reliablep2p.app import words
from reliablep2p.net.channel import Channel
from reliablep2p.peer import events
from reliablep2p.peer.naming import JoinNames
from reliablep2p.peer.node import Node
from reliablep2p.proto import Error as ErrorMessage
from reliablep2p.proto import ErrorCode, Hello, PeerInfo, Welcome

from .conftest import until
from .faults.cluster import BIN, Cluster, free_port, wait_for


def test_a_defaulted_name_moves_on_in_order_until_welcomed_and_then_never() -> None:
    names = JoinNames(["pi-2", "pi-3"])
    assert names.next_after("pi") == "pi-2" and names.next_after("pi-2") == "pi-3"
    assert names.next_after("pi-3") is None  # nothing left: the player must choose
    assert names.settle() == ("pi", "pi-2") and names.settle() == ()  # told once

    welcomed = JoinNames(["pi-2", "pi-3"])
    assert welcomed.settle() == ()
    assert welcomed.next_after("pi") is None and not welcomed.taken  # in once: ours for good

    given = JoinNames()
    assert given.next_after("pi") is None and not given.defaulted


def test_the_renaming_is_one_line_and_a_taken_given_name_says_what_to_do() -> None:
    assert words.describe(events.Renamed(("pi",), "pi-2")) == (
        "pi is online already: you play as pi-2"
    )
    assert words.describe(events.Renamed(("pi", "pi-2"), "pi-3")).startswith("pi and pi-2 are")
    refused = events.DatabaseUnreachable("10.0.0.1", 9000, events.NAME_TAKEN,
                                         "player name pi is already online")  # fmt: skip
    assert words.describe(refused) == (
        "the host at 10.0.0.1:9000 refused us: player name pi is already online; "
        "choose another name with --name NAME — retrying"
    )


async def test_a_player_that_reconnects_keeps_the_name_it_was_welcomed_with(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """A host (written here, on real sockets) refuses `pi`, welcomes `pi-2`, then the session
    breaks and every later try is refused as taken: the player stays `pi-2`, told once."""
    hellos: list[str] = []

    async def host(stream: trio.SocketStream) -> None:
        channel = Channel(stream)
        async with channel:
            hello = await channel.receive_message(Hello)
            hellos.append(hello.name)
            await channel.receive()  # its connect
            if len(hellos) == 2:
                you = PeerInfo(name=hello.name, host="127.0.0.1", port=hello.port)
                await channel.send(Welcome(you=you, peers=[], peers_version=1, catalog=[]))
                return  # ...and the session breaks: a blip
            await channel.send(ErrorMessage(code=ErrorCode.NAME_TAKEN,
                                            message=f"player name {hello.name} is already online"))  # fmt: skip

    listeners = await nursery.start(trio.serve_tcp, host, 0)
    port = listeners[0].socket.getsockname()[1]
    told: list[events.Event] = []
    node = Node(name="pi", other_names=["pi-2", "pi-3", "pi-4"], share_dir=tmp_path / "share",
                database=("127.0.0.1", port))  # fmt: skip
    node.subscribe(told.append)
    (tmp_path / "share").mkdir()
    await nursery.start(node.run)
    await until(lambda: len(hellos) >= 4, timeout=20)
    assert hellos[:4] == ["pi", "pi-2", "pi-2", "pi-2"], hellos
    assert node.name == "pi-2" and node.dialer.name == "pi-2"
    assert [e for e in told if isinstance(e, events.Renamed)] == [events.Renamed(("pi",), "pi-2")]
    node.stop()


@pytest.mark.slow
def test_two_machines_with_the_same_login_both_play_on_an_insecure_lan(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        db_log = (tmp_path / "db.log").open("a")
        cluster.spawn([BIN / "rp2p-db", *cluster.db_args(), "--insecure-lan",
                       "--pause-seconds", "3600"], stdout=db_log, stderr=db_log)  # fmt: skip
        wait_for(lambda: "listening" in cluster.db_log(), 30, "rp2p-db to listen")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOGNAME": "student", "USER": "student"}
        plain = ["--insecure-lan", "--host", "127.0.0.1", "--db", f"127.0.0.1:{cluster.db_port}"]

        def machine(name: str, *args: str) -> subprocess.Popen[str]:
            log = (tmp_path / f"{name}.log").open("a")
            process = subprocess.Popen(
                [str(BIN / "rp2p-peer"), *plain, "--port", str(free_port()),
                 "--share", str(cluster.share(name)), *args],
                text=True, env=env, stdin=subprocess.PIPE, stdout=log, stderr=log,
            )  # fmt: skip
            cluster.processes.append(process)
            return process

        machine("one")
        wait_for(lambda: "student joined from" in cluster.db_log(), 30, "the first student")
        machine("two")
        wait_for(lambda: "student-2 joined from" in cluster.db_log(), 30, "the second student")
        wait_for(lambda: "joined as student-2" in cluster.peer_log("two"), 30, "its welcome")
        said = cluster.peer_log("two")
        assert "student is online already: you play as student-2" in said, said
        assert said.count("online already") == 1 and "refused" not in said, said

        named = machine("three", "--name", "student")  # a name given is never changed
        wait_for(lambda: "choose another name" in cluster.peer_log("three"), 30, "a refusal")
        line = re.search(r"student: (.*)", cluster.peer_log("three"))
        assert line and line.group(1) == (
            f"the host at 127.0.0.1:{cluster.db_port} refused us: player name student is "
            "already online; choose another name with --name NAME — retrying"
        ), cluster.peer_log("three")
        assert "student-2" not in cluster.peer_log("three")
        named.kill()
    finally:
        cluster.close()


@pytest.mark.slow
def test_a_plain_tcp_player_at_a_host_with_certificates_is_refused_in_one_line(
    cluster: Cluster,
) -> None:
    """It read "refused us: Connect is not a request here — retrying", and tried for 15 s."""
    got = cluster.run("rp2p-peer", "--insecure-lan", "--host", "127.0.0.1", "--port",
                      free_port(), "--db", f"127.0.0.1:{cluster.db_port}", "--name", "eve",
                      "--share", cluster.share("eve"), "--get", "x", timeout=30)  # fmt: skip
    assert got.returncode == 1, got.stderr
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f"eve: the host at 127.0.0.1:{cluster.db_port} refused us: this network's players have "
        "certificates: join it with a code from its host (rp2p-tui --code CODE), without "
        "--insecure-lan"
    ), lines
    assert "retrying" not in got.stderr and "Traceback" not in got.stderr
