"""The backup as people use it, through the real programs: `rp2p-peer restore` after a folder
is lost, `rp2p-db remove` of a file, and `rp2p-db backup` of a running database peer that a new
`rp2p-db --data DIR` starts from; then the three on PostgreSQL and an S3 vault."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import threading
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store

from reliablep2p.proto import describe_bytes

from .conftest import random_bytes
from .faults.cluster import Cluster, Player, wait_for
from .servers import BUCKET, S3_ENV, S3_KEY, S3_SECRET, Postgres, Seaweed
from .test_scale_e2e import ScaledCluster

pytestmark = pytest.mark.slow


def lines_until(player: Player, command: str, last: str, timeout: float = 30) -> list[str]:
    """Type `command`; every line it answers, up to the one starting with `last`."""
    lines = [player.ask(command, timeout)]
    while not lines[-1].startswith(last):
        lines.append(player.next_line(timeout))
    return lines


def test_restore_brings_back_every_file_the_player_shared_and_overwrites_nothing(
    tmp_path: Path,
) -> None:
    files = {
        "notes.txt": random_bytes(5 * 1024 + 3, seed=1),
        "film.bin": random_bytes(3 * 1024 * 1024 + 17, seed=2),
        "empty.txt": b"",
        "kept.txt": b"already here",
        "clash.txt": b"the version that was shared",
    }
    cluster = Cluster(tmp_path)
    try:
        cluster.start_db()
        alice = cluster.seeder("alice", files)
        cluster.seeder("bob", {"bobs.txt": b"bob's own"})
        cluster.wait_cataloged(*files, "bobs.txt", timeout=30)
        alice.send_signal(signal.SIGTERM)
        assert alice.wait(timeout=20) == 0

        share = cluster.share("alice")  # the folder is lost; a new one holds two of the names
        shutil.rmtree(share)
        share.mkdir()
        (share / "kept.txt").write_bytes(files["kept.txt"])
        os.utime(share / "kept.txt", ns=(1_000_000_000, 1_000_000_000))
        (share / "clash.txt").write_bytes(b"written since, not to be lost")

        first = cluster.run("rp2p-peer", "restore", *cluster.peer_args("alice"))
        assert first.returncode == 1, first.stdout + first.stderr
        said = first.stdout.splitlines()
        clash = [line for line in said if "clash.txt" in line]
        assert len(clash) == 1 and "not restored" in clash[0] and "other content" in clash[0]
        assert any("kept.txt: already here" in line for line in said), said
        back = sum(len(files[n]) for n in ("notes.txt", "film.bin", "empty.txt"))
        assert said[-1] == (
            f"restored 3 files ({back:,} bytes), 1 already here, 1 not overwritten, 0 failed"
        )
        assert (share / "clash.txt").read_bytes() == b"written since, not to be lost"
        assert (share / "kept.txt").stat().st_mtime_ns == 1_000_000_000, "kept.txt was rewritten"
        for name in ("notes.txt", "film.bin", "empty.txt"):
            assert (share / name).read_bytes() == files[name], f"{name} differs"
        assert not (share / "bobs.txt").exists(), "bob's file is not alice's to restore"

        (share / "clash.txt").unlink()  # moved aside: the next restore completes
        second = cluster.run("rp2p-peer", "restore", *cluster.peer_args("alice"))
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stdout.splitlines()[-1].startswith("restored 1 files")
        present = {p.name for p in share.iterdir() if p.is_file()}
        assert present == set(files)
        assert all((share / name).read_bytes() == data for name, data in files.items())
    finally:
        cluster.close()


def test_a_removed_file_leaves_the_network_and_is_refused_when_published_again(
    tmp_path: Path,
) -> None:
    secret, fine = random_bytes(70_000, seed=3), b"this one stays"
    cluster = Cluster(tmp_path)
    try:
        cluster.start_db()
        alice = cluster.seeder("alice", {"secret.txt": secret, "fine.txt": fine})
        cluster.wait_cataloged("secret.txt", "fine.txt", timeout=30)
        bob, carol = cluster.player("bob"), cluster.player("carol")
        assert bob.get("secret.txt").startswith("got secret.txt "), "bob seeds it too now"
        bob_port = port_of(bob)
        carol.ask(f"map {bob_port}")
        book = lines_until(carol, "address-book", "map size")
        assert any(line.startswith("secret.txt: ") and "bob" in line for line in book), book
        alice.send_signal(signal.SIGTERM)  # offline while the host removes it
        assert alice.wait(timeout=20) == 0

        removal = cluster.run("rp2p-db", "remove", "secret.txt", "--data", cluster.data,
                              "--port", cluster.db_port)  # fmt: skip
        assert removal.returncode == 0, removal.stderr
        assert removal.stdout.startswith("removed secret.txt from the catalog and the vault")

        # the online peers: out of the catalog, and bob no longer offers it (his copy stays)
        wait_for(lambda: carol.ask("get secret.txt").endswith(": not in the catalog"), 20,
                 "carol to hear of the removal", interval=0.05)  # fmt: skip
        carol.ask(f"map {bob_port}")
        book = lines_until(carol, "address-book", "map size")
        assert not any(line.startswith("secret.txt") for line in book), book
        assert (cluster.share("bob") / "secret.txt").read_bytes() == secret
        assert bob.ask("seeding") == "seeding nothing", "his copy is no longer offered"

        # a newcomer cannot fetch it; alice comes back: she learns it at her welcome and does not
        # publish it again; erin's copy under another name is held back; fine.txt is untouched
        fetch = cluster.fetcher("dave", "secret.txt")
        cluster.seeder("alice")
        erin = cluster.player("erin", {"copy.txt": secret})
        fetch.communicate(timeout=60)
        assert fetch.returncode == 1
        assert "secret.txt: not in the catalog" in cluster.peer_log("dave")
        wait_for(lambda: "will not take copy.txt: the host removed this file from the network"
                 in cluster.peer_log("erin"), 30, "erin to hold her copy back")  # fmt: skip
        wait_for(lambda: cluster.db_log().count("alice joined from") == 2, 30, "alice to rejoin")
        assert erin.get("fine.txt").startswith("got fine.txt ")
        after = cluster.db_log().split("removed secret.txt")[1]
        assert "cataloged secret.txt" not in after and "cataloged copy.txt" not in after
        assert (cluster.share("alice") / "secret.txt").read_bytes() == secret, "alice keeps hers"
        assert not list(
            (cluster.data / "vault").glob(f"??/{describe_bytes(secret, 'x').hash.hex()}")
        )
    finally:
        cluster.close()


def port_of(player: Player) -> int:
    args = [str(a) for a in player.process.args]  # type: ignore[union-attr]
    return int(args[args.index("--port") + 1])


def test_a_backup_taken_while_players_publish_is_a_data_folder_rp2p_db_starts_from(
    tmp_path: Path,
) -> None:
    early = {f"early-{i}.bin": random_bytes(200_000 + i, seed=10 + i) for i in range(3)}
    written: dict[str, bytes] = dict(early)
    cluster = Cluster(tmp_path / "first")
    second = Cluster(tmp_path / "second")
    try:
        cluster.start_db()
        cluster.seeder("alice", early)
        cluster.wait_cataloged(*early, timeout=30)

        stop = threading.Event()

        def keep_publishing() -> None:  # alice's folder grows all through the backup
            number = 0
            while not stop.is_set():
                name = f"late-{number}.bin"
                data = random_bytes(50_000, seed=100 + number)
                (cluster.share("alice") / name).write_bytes(data)
                written[name] = data
                number += 1
                stop.wait(0.2)

        writer = threading.Thread(target=keep_publishing)
        writer.start()
        try:
            wait_for(lambda: "cataloged late-" in cluster.db_log(), 30, "late files to publish")
            made = cluster.run("rp2p-db", "backup", second.data, "--data", cluster.data)
            assert made.returncode == 0, made.stderr
            again = cluster.run("rp2p-db", "backup", second.data, "--data", cluster.data)
        finally:
            stop.set()
            writer.join()
        assert again.returncode == 1 and "not empty" in again.stderr
        assert made.stdout.splitlines()[-1].startswith("backed up ")
        for key in (second.data / "ca.key", *second.data.glob("identity/*key*")):
            assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        with sqlite3.connect(second.data / "rp2p.sqlite3") as db:
            names = [n for (n,) in db.execute("SELECT name FROM catalog")]
        assert set(early) <= set(names), names

        cluster.kill(cluster.db, signal.SIGKILL)  # the first one is gone for good
        # ports picked now: those picked at the start may be the first's connections' since
        second = Cluster(tmp_path / "second")
        second.start_db()
        out = second.fetch("frank", *names)
        for name in names:
            assert (second.share("frank") / name).read_bytes() == written[name], name
        assert out.count(" from the vault after") == len(names), out
    finally:
        cluster.close()
        second.close()


def test_restore_remove_and_backup_on_postgresql_and_s3(
    tmp_path: Path, postgres: Postgres, seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    store, vault = postgres.new_database(), seaweed.new_vault()
    files = {"big.bin": random_bytes(2 * 1024 * 1024 + 99, seed=21), "small.txt": b"small"}
    cluster = ScaledCluster(tmp_path, store, vault, seaweed.endpoint)
    try:
        cluster.start_db()
        alice = cluster.seeder("alice", files)
        cluster.wait_cataloged(*files, timeout=30)
        alice.send_signal(signal.SIGTERM)
        assert alice.wait(timeout=20) == 0
        shutil.rmtree(cluster.share("alice"))

        restored = cluster.run("rp2p-peer", "restore", *cluster.peer_args("alice"))
        assert restored.returncode == 0, restored.stdout + restored.stderr
        for name, data in files.items():
            assert (cluster.share("alice") / name).read_bytes() == data

        removal = cluster.run("rp2p-db", "remove", "big.bin", "--data", cluster.data,
                              "--port", cluster.db_port)  # fmt: skip
        assert removal.returncode == 0, removal.stderr
        keys = [meta["path"] for batch in obstore.list(bucket_of(seaweed, vault)) for meta in batch]
        assert sum(key.startswith("chunks/") for key in keys) == 1, "small.txt's chunk alone"
        assert sum(key.startswith("blobs/") for key in keys) == 1, keys

        copy = tmp_path / "copy"
        made = cluster.run("rp2p-db", "backup", copy, "--data", cluster.data, "--store", store,
                           "--vault", vault)  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert "back it up with pg_dump" in made.stdout
        assert stat.S_IMODE((copy / "ca.key").stat().st_mode) == 0o600
        assert not (copy / "rp2p.sqlite3").exists() and not (copy / "vault").exists()
    finally:
        cluster.close()


def bucket_of(seaweed: Seaweed, vault: str) -> S3Store:
    return S3Store(BUCKET, prefix=vault.removeprefix(f"s3://{BUCKET}/"), region="us-east-1",
                   endpoint=seaweed.endpoint, access_key_id=S3_KEY,
                   secret_access_key=S3_SECRET, client_options={"allow_http": True})  # fmt: skip
