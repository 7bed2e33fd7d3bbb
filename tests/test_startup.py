"""Starting the programs: a one-shot `rp2p-peer --get` imports only what it runs (issue 10), and
a port already taken is one line, not a traceback.

Start-up is most of a small get (a 1 KiB one is ~0.5 s, nearly all of it importing): the
database peer's modules, the admin commands, enrollment, the LAN's sockets part, the look-alike
table and the `regex` module are imported only by the programs and the paths that use them. A
real get is run to its end, with Python reporting every module it imported on the way
(`PYTHONPROFILEIMPORTTIME`), so an import moved into a function the get calls counts too.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from .faults.cluster import BIN, Cluster, free_port, wait_for

NOT_FOR_A_GET = (
    "regex",  # name checks need it only for a name with a format character; look-alikes
    "importlib.metadata",  # only --version, and the look-alike table, read it
    "spake2",
    "reliablep2p.database",
    "reliablep2p.net.discovery",
    "reliablep2p.net.enroll",
    "reliablep2p.app.admin",
    "reliablep2p.app.storeoptions",
    "reliablep2p.game.host",
    "reliablep2p.game.settings",
    "reliablep2p.storage.sqlite",
    "reliablep2p.storage.stores",
    "psycopg",
    "obstore",
    "textual",
)
"""Modules (and their submodules) a get from a profile must not import."""


def imported(stderr: str) -> set[str]:
    """The modules named by `-X importtime`'s lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name)
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names for top in NOT_FOR_A_GET if n == top or n.startswith(top + "."))


def test_a_one_shot_get_imports_only_what_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.start_db()
        data = b"a file worth a one-shot get\n" * 40
        cluster.seeder("seeder", {"notes.txt": data})
        cluster.wait_cataloged("notes.txt", timeout=30)
        args = [*cluster.peer_args("getter"), "--get", "notes.txt"]
        monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
        first = cluster.run("rp2p-peer", *args)  # joins with the code: enrollment is imported
        assert first.returncode == 0, first.stderr[-2000:]
        assert "spake2" in imported(first.stderr)  # (the report works)
        share = cluster.share("getter")
        (share / "notes.txt").unlink()

        again = cluster.run("rp2p-peer", *args)  # from the profile now: the usual one-shot get
        assert again.returncode == 0, again.stderr[-2000:]
        assert "got notes.txt " in again.stdout
        assert (share / "notes.txt").read_bytes() == data
        names = imported(again.stderr)
        assert "reliablep2p.peer.node" in names
        assert heavy(names) == [], f"a one-shot get imported {heavy(names)}"
    finally:
        cluster.close()


def test_a_one_shot_get_on_an_insecure_lan_loads_no_cryptography(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain TCP: no certificate is read, so `cryptography` (~40 ms to import) is not."""
    cluster = Cluster(tmp_path)
    try:
        db_log = (tmp_path / "db.log").open("a")
        cluster._spawn([BIN / "rp2p-db", *cluster.db_args(), "--insecure-lan"],
                       stdout=db_log, stderr=db_log)  # fmt: skip
        wait_for(lambda: "listening" in cluster.db_log(), 30, "rp2p-db to listen")
        data = b"plain bytes\n" * 50
        (cluster.share("seeder") / "plain.txt").write_bytes(data)
        plain = ["--host", "127.0.0.1", "--db", f"127.0.0.1:{cluster.db_port}", "--insecure-lan"]
        seeder_log = (tmp_path / "seeder.log").open("a")
        cluster._spawn([BIN / "rp2p-peer", *plain, "--port", free_port(), "--name", "seeder",
                        "--share", cluster.share("seeder")],
                       stdin=subprocess.PIPE, stdout=seeder_log, stderr=seeder_log)  # fmt: skip
        cluster.wait_cataloged("plain.txt", timeout=30)
        monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
        got = cluster.run("rp2p-peer", *plain, "--port", free_port(), "--name", "getter",
                          "--share", cluster.share("getter"), "--get", "plain.txt")  # fmt: skip
        assert got.returncode == 0, got.stderr[-2000:]
        assert (cluster.share("getter") / "plain.txt").read_bytes() == data
        names = imported(got.stderr)
        assert "reliablep2p.peer.node" in names
        assert heavy(names) == [], f"a one-shot get imported {heavy(names)}"
        assert not any(n.startswith("cryptography") for n in names)
    finally:
        cluster.close()


def test_a_port_in_use_is_one_line_for_either_program(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = cluster.run("rp2p-db", "--host", "127.0.0.1", "--port", port, "--insecure-lan",
                         "--data", tmp_path / "db", "--discovery-port", "0")  # fmt: skip
        peer = cluster.run("rp2p-peer", "--host", "127.0.0.1", "--port", port, "--insecure-lan",
                           "--db", "127.0.0.1:9", "--share", tmp_path / "share", "--get", "x")  # fmt: skip
    assert (db.returncode, peer.returncode) == (2, 2)
    assert db.stderr.strip().splitlines()[-1] == (
        f"rp2p-db: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert peer.stderr.strip() == f"rp2p-peer: cannot listen on port {port}: Address already in use"
    assert "Traceback" not in db.stderr + peer.stderr


def test_a_taken_enrollment_port_is_named_as_such(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = cluster.run("rp2p-db", "--host", "127.0.0.1", "--port", "0", "--enroll-port", port,
                         "--data", tmp_path / "db", "--discovery-port", "0")  # fmt: skip
    assert db.returncode == 2
    assert db.stderr.strip().splitlines()[-1] == (
        f"rp2p-db: cannot listen on 127.0.0.1:{port} (enrollment): Address already in use"
    )
