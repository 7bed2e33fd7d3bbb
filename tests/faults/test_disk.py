"""Disks that go wrong under real `rp2p-db` and `rp2p-peer` processes: one line, nothing lost.

A damaged or emptied catalog database is refused with one line naming it (not started empty);
a share belongs to one peer at a time; a full disk fails the `get` that hit it with one line and
a later `get`, once there is room, continues from the verified chunks. docs/reliability.md
lists each scenario.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reliablep2p.proto import CHUNK_SIZE

from ..smalldisk import small_disk
from .cluster import Cluster, wait_for

pytestmark = pytest.mark.slow

FILES = {f"song{i}.ogg": os.urandom(3000 + i) for i in range(3)}


@pytest.fixture(scope="module")
def used_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database peer's data folder after some play: 3 files backed up, the network's keys."""
    cluster = Cluster(tmp_path_factory.mktemp("used"))
    try:
        cluster.start_db()
        seeder = cluster.seeder("origin", FILES)
        cluster.wait_cataloged(*FILES)
        cluster.kill(seeder, signal.SIGTERM)
        assert cluster.db is not None
        cluster.kill(cluster.db, signal.SIGTERM)
    finally:
        cluster.close()
    return cluster.data


def empty(db: Path) -> None:
    db.write_bytes(b"")


def cut_in_half(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def scribble_over_a_page(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[4096:8192] = os.urandom(4096)  # the catalog's first page
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [empty, cut_in_half, scribble_over_a_page])
def test_a_lost_or_damaged_catalog_database_is_refused_with_one_line(
    tmp_path: Path, used_data: Path, damage: Callable[[Path], None]
) -> None:
    cluster = Cluster(tmp_path)
    try:
        shutil.copytree(used_data, cluster.data)
        db = cluster.data / "rp2p.sqlite3"
        damage(db)
        for program, *args in (
            ("rp2p-db", *cluster.db_args()),
            ("rp2p-db", "invite", "--data", cluster.data),
            ("rp2p-db", "kick", "origin", "--data", cluster.data, "--port", cluster.db_port),
        ):
            done = cluster.run(program, *args, timeout=10)
            said = done.stderr.splitlines()
            assert done.returncode != 0, f"{args[:1]} ran on a damaged database: {done.stdout}"
            assert len(said) == 1 and str(db) in said[0], said
            assert "restore" in said[0] and done.stdout == "", said
        blobs = [p for p in (cluster.data / "vault").rglob("*") if p.is_file()]
        assert len(blobs) == len(FILES), "the vault was touched"
    finally:
        cluster.close()


def test_an_empty_database_file_in_an_unused_folder_starts_a_new_network(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.data.mkdir()
        (cluster.data / "rp2p.sqlite3").write_bytes(b"")  # a first start that died at once
        cluster.start_db()
        assert cluster.code
        wait_for(lambda: "0 files in the catalog" in cluster.db_log(), 30, "the start")
    finally:
        cluster.close()


def test_a_share_belongs_to_one_peer_and_a_second_is_refused(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.start_db()
        first = cluster.player("first", {"tune.ogg": FILES["song0.ogg"]})
        share = cluster.share("first")
        cluster.wait_cataloged("tune.ogg")
        second = cluster.run(
            "rp2p-peer", *cluster.peer_args("second"), "--share", share, "--get", "tune.ogg"
        )
        said = second.stderr.splitlines()
        assert second.returncode != 0, second.stdout
        assert len(said) == 1 and str(share) in said[0], said
        # the first peer never noticed: it answers, and serves its file
        assert first.ask("seeding").startswith("tune.ogg"), "the first peer stopped answering"
        assert "from first" in cluster.fetch("third", "tune.ogg")
    finally:
        cluster.close()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB disk, of which a 5 MiB file of someone else's takes most."""
    with small_disk(tmp_path / "small", 8) as path:
        (path / "someone-elses.bin").write_bytes(os.urandom(5 * CHUNK_SIZE))
        yield path


def test_a_full_disk_fails_the_get_with_one_line_and_the_next_get_resumes(
    tmp_path: Path, disk: Path
) -> None:
    big = os.urandom(5 * CHUNK_SIZE + 123)
    share = disk / "share"
    share.mkdir()
    (share / "mine.txt").write_bytes(b"mine " * 200)
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start_db()
        cluster.seeder("origin", {"big.bin": big})
        cluster.wait_cataloged("big.bin")
        player = cluster.player("tight", share=share)
        wait_for(lambda: "tight joined from" in cluster.db_log(), 30, "tight to join")

        answer = player.get("big.bin")
        assert answer.startswith(f"error: no space left on the disk of {share}: "), answer
        assert player.process.poll() is None, "the peer died of a full disk"
        assert sorted(p.name for p in share.iterdir()) == [".rp2p", "mine.txt"]
        assert (share / "mine.txt").read_bytes() == b"mine " * 200
        said = re.search(r"the ([\d,]+) bytes verified so far are kept", answer)
        assert said, answer
        kept = int(said.group(1).replace(",", ""))  # chunks anywhere in the file, recorded
        whole_chunks = kept % CHUNK_SIZE in (0, len(big) % CHUNK_SIZE)  # the last one is short
        assert kept >= CHUNK_SIZE and whole_chunks, f"{kept} bytes kept"

        (disk / "someone-elses.bin").unlink()  # room again
        answer = player.get("big.bin")
        assert answer.startswith("got big.bin") and f"resumed at {kept:,} bytes" in answer, answer
        assert (share / "big.bin").read_bytes() == big
        assert "Traceback" not in (cluster.root / "tight.log").read_text()
    finally:
        cluster.close()
