"""What `rp2p-db` says at start: the same join code every start while it is still good, and
its new store in one line; a stop before it is ready is one line too, never a silent exit.

The host told friends yesterday's code; a restart must not make it a different one (nor pile up
another 50-use code each time): the printed code stays, with what is left of it.
"""

from __future__ import annotations

import resource
import signal
import socket
import subprocess

import pytest

from reliablep2p.storage.schema import MIGRATIONS

from .faults.cluster import BIN, Cluster


def test_a_restarted_host_prints_the_code_it_printed_before(idle_cluster: Cluster) -> None:
    cluster = idle_cluster
    db = cluster.start_db()
    first = cluster.code
    assert "for 50 players, 24 h" in cluster.code_line
    cluster.player("alice")
    cluster.wait_said("db", "alice joined the network with a code")
    cluster.kill(db, signal.SIGTERM)

    cluster.code = ""
    cluster.start_db()
    assert cluster.code == first
    assert "for 49 players, 24 h" in cluster.code_line  # what is left of it
    cluster.player("bob")  # yesterday's code still lets a friend in
    cluster.wait_said("db", "bob joined the network with a code")

    invited = cluster.run("rp2p-db", "invite", "--data", cluster.data)
    assert invited.returncode == 0, invited.stderr
    assert invited.stdout.strip() != first  # another one only when asked


def test_a_new_store_says_its_schema_in_one_line(idle_cluster: Cluster) -> None:
    cluster = idle_cluster
    cluster.start_db()
    cluster.wait_said("db", "database peer listening")
    said = [line for line in cluster.db_log().splitlines() if "schema" in line]
    assert len(said) == 1 and said[0].endswith(f"store at schema {len(MIGRATIONS)}"), said


def _stopped_while_starting(cluster: Cluster, stop: signal.Signals) -> tuple[int, str, str]:
    """`rp2p-db` sent `stop` while its store is still connecting (a PostgreSQL that accepts
    and says nothing): its exit status, output and errors. Never a core file of its."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(60)
        url = f"postgresql://rp2p@127.0.0.1:{silent.getsockname()[1]}/rp2p"
        db = cluster.spawn(
            [BIN / "rp2p-db", *cluster.db_args(), "--store", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
        )  # fmt: skip
        connection, _ = silent.accept()  # it is starting: its store is connecting
        with connection:
            db.send_signal(stop)
            out, err = db.communicate(timeout=60)
    return db.returncode, out, err


@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "Ctrl-C", "SIGHUP"]
)
def test_a_stop_while_starting_is_one_line_not_a_silent_exit(
    idle_cluster: Cluster, stop: signal.Signals
) -> None:
    """Stopped while starting, it says so in one line with the signal's exit status, no
    traceback. It died silently (SIGTERM, SIGHUP: its log ended at the store) or with a
    traceback (Ctrl-C)."""
    status, out, err = _stopped_while_starting(idle_cluster, stop)
    assert status == 128 + stop, (status, err)
    assert err.strip().splitlines()[-1] == (
        f"rp2p-db: stopped by {stop.name} while starting; nothing was served"
    ), err
    assert "Traceback" not in err and not out, err


def test_sigquit_while_starting_keeps_its_default_an_immediate_exit(idle_cluster: Cluster) -> None:
    """SIGQUIT (Ctrl-\\) is the operator's way out when an orderly stop hangs: it is not
    turned into one; the process ends at once, by the signal, as every program does."""
    status, _, err = _stopped_while_starting(idle_cluster, signal.SIGQUIT)
    assert status == -signal.SIGQUIT, (status, err)


def test_a_hangup_stops_a_serving_host_in_order_and_nohup_keeps_it_serving(
    idle_cluster: Cluster,
) -> None:
    """The host's terminal or ssh session closed (SIGHUP): the database peer stops as on
    SIGTERM (the evening said, 'stopped', status 0); it was killed outright, without a word.
    Started under `nohup` (SIGHUP ignored) a hangup leaves it serving."""
    cluster = idle_cluster
    db = cluster.start_db()
    cluster.kill(db, signal.SIGHUP)
    assert db.returncode == 0 and cluster.db_log().rstrip().endswith("stopped"), (
        db.returncode, cluster.db_log()[-400:])  # fmt: skip

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does; inherited
    try:
        db = cluster.start_db()
    finally:
        signal.signal(signal.SIGHUP, before)
    db.send_signal(signal.SIGHUP)
    cluster.player("alice")
    cluster.wait_said("db", "alice joined the network with a code")
    assert db.poll() is None
    cluster.kill(db, signal.SIGTERM)
    assert db.returncode == 0


def test_the_smallest_hunt_one_target_is_played(idle_cluster: Cluster) -> None:
    """`--targets 1` alone: the treasure (2 by default, and part of the targets) comes down with
    it, and a round of one file is played. It was refused: treasure (2) cannot exceed targets."""
    cluster = idle_cluster
    cluster.start_db("--targets", "1", "--pause-seconds", "0.2", "--round-seconds", "30")
    for name in ("ada", "brick"):  # a round wants two players
        cluster.bot(name, {f"{name}.txt": f"{name}'s own file".encode()}, "--pace", "0.1")
    started = cluster.wait_said("db", r"round 1 started: .*; targets: (.*)")
    assert sorted(started.group(1).split(", ")) == ["ada 1", "brick 1"], started.group(0)


def test_a_cluster_whose_port_was_taken_since_it_chose_it_starts_on_another(
    idle_cluster: Cluster,
) -> None:
    """The ports a cluster picks are free when it picks them, not when `rp2p-db` binds them:
    another process (an outgoing connection given that port) may hold one by then. It is
    one line from `rp2p-db` (cannot listen), and the cluster starts it again on new ports."""
    cluster = idle_cluster
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", cluster.db_port))
        taken.listen()
        cluster.start_db()
        assert cluster.db_port != taken.getsockname()[1]
    assert "cannot listen on 127.0.0.1:" in cluster.db_log()  # what the first start said
    cluster.player("alice")
    cluster.wait_said("db", "alice joined the network with a code")


def test_a_player_whose_terminal_closes_says_goodbye(idle_cluster: Cluster) -> None:
    """`rp2p-peer` on SIGHUP leaves as on SIGTERM (the host hears it leave, status 0); it was
    killed outright, and the host found it gone only later."""
    cluster = idle_cluster
    cluster.start_db()
    alice = cluster.seeder("alice", {"a.txt": b"alice's"})
    cluster.wait_cataloged("a.txt")
    cluster.kill(alice, signal.SIGHUP)
    assert alice.returncode == 0, alice.returncode
    cluster.wait_said("db", "alice left")
