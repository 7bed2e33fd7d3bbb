"""A network with two database peers on two machines of the LAN, on one PostgreSQL on a third
(each database peer with its own vault: files are not what this is about). Both announce the
network; a player given the code alone takes both as its list, and when the one it joined dies
it moves to the other by itself. A player who must choose between networks sees this one once,
with both addresses."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import wait_for
from tests.servers import Postgres, postgres_bin, server_folder

from .hosts import Host, Lan
from .players import DB_PORT, Database, player_args, start_database

PG_PORT = 5432


@contextlib.contextmanager
def postgres_on(host: Host) -> Iterator[str]:
    """A throwaway PostgreSQL listening on `host`'s address; its URL."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = server_folder("rp2p-pg-")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = Postgres(bin_dir, root, PG_PORT)
    try:
        server.run(str(bin_dir / "initdb"), "-D", str(server.data), "-A", "trust", "-U", "rp2p",
                   "-E", "UTF8", "--no-sync")  # fmt: skip
        with (server.data / "pg_hba.conf").open("a") as hba:  # the LAN's hosts, no password
            hba.write("host all all 10.77.0.0/16 trust\n")
        options = (f"-p {PG_PORT} -k {root} -c listen_addresses={host.address}"
                   " -c fsync=off -c full_page_writes=off")  # fmt: skip
        host.run(["runuser", "-u", "postgres", "--", bin_dir / "pg_ctl", "-D", server.data,
                  "-o", options, "-l", root / "log", "-w", "-t", "30", "start"])  # fmt: skip
        postmaster = (server.data / "postmaster.pid").read_text().split()[0]
        (root / "server.pid").write_text(f"{postmaster} single")  # swept if we are killed
        yield f"postgresql://rp2p@{host.address}:{PG_PORT}/postgres"
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def lists_both(database: Database, both: str) -> bool:
    return f"database peers of this network: {both}" in database.log_text()


def test_two_database_peers_of_one_network_are_found_once_and_a_player_moves_between_them(
    lan: Lan, tmp_path: Path
) -> None:
    store, one, two = lan.host("store"), lan.host("db1"), lan.host("db2")
    with postgres_on(store) as url:
        party = ("--store", url, "--network-name", "lan-party", "--pause-seconds", "3600")
        first = start_database(one, tmp_path / "one", *party)
        keys = tmp_path / "keys"
        keys.mkdir(mode=0o700)
        for name in ("ca.key", "ca.pem"):
            shutil.copy2(tmp_path / "one" / "db" / name, keys / name)
        second = start_database(two, tmp_path / "two", *party, "--ca", str(keys))
        a, b = f"{one.address}:{DB_PORT}", f"{two.address}:{DB_PORT}"
        wait_for(lambda: lists_both(first, f"{a}, {b}") and lists_both(second, f"{b}, {a}"),
                 20, "each database peer to list the other", interval=0.05)  # fmt: skip

        ada_log = tmp_path / "ada.log"
        ada = lan.host("ada").popen(
            player_args("ada", first, tmp_path, code_only=True),
            stdin=subprocess.PIPE, stdout=ada_log.open("a"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: "joined as ada" in ada_log.read_text() or ada.poll() is not None, 30,
                 "ada to join", interval=0.05)  # fmt: skip
        assert ada.poll() is None, ada_log.read_text()
        saved = json.loads((tmp_path / "profiles" / "ada" / "host.json").read_text())
        remembered = {f"{saved['host']}:{saved['port']}"} | {
            f"{host}:{port}" for host, port in saved.get("databases", [])
        }
        assert remembered == {a, b}, f"ada took both announced database peers: {saved}"
        assert "database peers of the network:" not in ada_log.read_text(), (
            "ada knew both from the announcements: her welcome told her nothing new"
        )

        quiz = start_database(lan.host("quiz"), tmp_path / "quiz")
        untagged = quiz.code.split("-", 1)[1]  # a code that names no network: choose
        asked = lan.host("bo").run(  # (the last --code is the one taken)
            player_args("bo", quiz, tmp_path, "--code", untagged, "--get", "x", code_only=True),
            timeout=60, check=False,
        )  # fmt: skip
        listing = asked.stdout + asked.stderr
        assert asked.returncode != 0 and "2 hosts answered on this LAN" in listing, listing
        rows = [line for line in listing.splitlines() if "lan-party" in line]
        assert len(rows) == 1 and a in rows[0] and b in rows[0], listing
        assert quiz.address in listing, listing

        joined, other = (first, b) if "ada joined from" in first.log_text() else (second, a)
        joined.process.send_signal(signal.SIGKILL)
        here = a if joined is first else b
        wait_for(lambda: f"database peer {here} gone; now on {other}" in ada_log.read_text(),
                 20, "ada to move to the other database peer", interval=0.05)  # fmt: skip
