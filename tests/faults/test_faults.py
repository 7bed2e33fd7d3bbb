"""Fault injection with real processes: every scenario ends byte-identical, or in the documented error.

Each scenario is listed in docs/reliability.md with the promise it checks.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliablep2p.proto import CHUNK_SIZE, describe_bytes
from reliablep2p.storage.share import hash_file

from .cluster import BIN, Cluster, wait_for

pytestmark = pytest.mark.slow

SIZE = 64 * 1024 * 1024
NAME = "hoard.bin"
KILL_POINTS = 20


@pytest.fixture(scope="module")
def big() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, big: bytes) -> Iterator[Cluster]:
    """A database peer that holds `NAME` in its vault; the peer that brought it has left."""
    cluster = Cluster(tmp_path_factory.mktemp("faults"))
    try:
        cluster.start_db()
        origin = cluster.seeder("origin", {NAME: big})
        cluster.wait_cataloged(NAME)
        cluster.kill(origin, signal.SIGTERM)
        yield cluster
    finally:
        cluster.close()


def part_file(cluster: Cluster, fetcher: str, data: bytes) -> Path:
    digest = describe_bytes(data, NAME).hash.hex()
    return cluster.share(fetcher) / ".rp2p" / f"{digest}.part"


def part_size(path: Path) -> int:
    """Bytes written into a partial file: its disk blocks, since chunks land anywhere in it."""
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def fetched_file(cluster: Cluster, fetcher: str) -> bytes:
    return (cluster.share(fetcher) / NAME).read_bytes()


def bytes_from(output: str, source: str) -> int:
    """How many bytes the `--get` line says came from `source` (all of them if it is the only one)."""
    if match := re.search(rf"([\d,]+) B from {source}\b", output):
        return int(match.group(1).replace(",", ""))
    return SIZE if re.search(rf"from {source} after", output) else 0


def wait_progress(process: subprocess.Popen[str], part: Path, at: int) -> None:
    """Until the fetcher has `at` bytes of the file on disk (or has finished)."""
    wait_for(lambda: part_size(part) >= at or process.poll() is not None, 60, f"{at} bytes")


def start_source(cluster: Cluster, name: str, data: bytes) -> None:
    cluster.seeder(name, {NAME: data})
    wait_for(lambda: f"{name} joined from" in cluster.db_log(), 30, f"{name} to join")


def test_sigkill_of_the_source_at_random_points_ends_byte_identical(
    cluster: Cluster, big: bytes
) -> None:
    rng = random.Random(2026)
    interrupted = 0
    for point in range(KILL_POINTS):
        source, fetcher = f"source{point}", f"fetcher{point}"
        start_source(cluster, source, big)
        seeder = cluster.processes[-1]
        process = cluster.fetcher(fetcher, NAME)
        kill_at = rng.randrange(CHUNK_SIZE, SIZE - CHUNK_SIZE)
        part = part_file(cluster, fetcher, big)
        wait_progress(process, part, kill_at)
        cluster.kill(seeder)
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0, out
        assert fetched_file(cluster, fetcher) == big, f"point {point}: corrupted"
        if bytes_from(out, "the vault") and bytes_from(out, source):
            interrupted += 1
            assert bytes_from(out, source) + bytes_from(out, "the vault") == SIZE, out
    assert interrupted >= KILL_POINTS * 3 // 4, f"only {interrupted} kills landed mid-transfer"


def test_a_source_serving_a_corrupt_chunk_is_dropped_at_that_chunk(
    cluster: Cluster, big: bytes
) -> None:
    """Chunks are asked in an order of the fetcher's own: what the corrupter sent before its
    bad chunk is kept, the rest comes from the vault."""
    start_source(cluster, "corrupter", big)
    path = cluster.share("corrupter") / NAME
    stat = path.stat()
    with path.open("r+b") as f:  # same size, same mtime: the seeder does not notice
        f.seek(10 * CHUNK_SIZE + 77)
        f.write(b"\xff\x00")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    out = cluster.fetch("victim", NAME)
    assert fetched_file(cluster, "victim") == big
    from_corrupter, from_vault = bytes_from(out, "corrupter"), bytes_from(out, "the vault")
    assert from_corrupter % CHUNK_SIZE == 0 and from_corrupter < SIZE, out
    assert from_vault == SIZE - from_corrupter, out
    cluster.kill(cluster.processes[-2])


def test_a_stalled_source_is_left_for_the_next_one(cluster: Cluster, big: bytes) -> None:
    start_source(cluster, "staller", big)
    seeder = cluster.processes[-1]
    process = cluster.fetcher("patient", NAME)
    part = part_file(cluster, "patient", big)
    wait_progress(process, part, SIZE // 3)
    seeder.send_signal(signal.SIGSTOP)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        seeder.send_signal(signal.SIGCONT)
        cluster.kill(seeder)
    assert process.returncode == 0, out
    assert fetched_file(cluster, "patient") == big
    assert bytes_from(out, "staller") >= SIZE // 3 - CHUNK_SIZE, out
    assert bytes_from(out, "the vault") > 0, out


def test_a_killed_get_resumes_when_run_again(cluster: Cluster, big: bytes) -> None:
    start_source(cluster, "keeper", big)
    process = cluster.fetcher("impatient", NAME)
    part = part_file(cluster, "impatient", big)
    wait_for(
        lambda: part_size(part) >= SIZE * 6 // 10 or process.poll() is not None, 60, "progress"
    )
    cluster.kill(process)
    assert not (cluster.share("impatient") / NAME).exists()
    out = cluster.fetch("impatient", NAME)
    assert fetched_file(cluster, "impatient") == big
    resumed = int(re.search(r"resumed at ([\d,]+) bytes", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert resumed >= SIZE // 2 - 8 * CHUNK_SIZE, out
    cluster.kill(cluster.processes[-3])


def test_database_peer_killed_during_an_upload_restarts_consistent_and_asks_again(
    tmp_path: Path, big: bytes
) -> None:
    cluster = Cluster(tmp_path)
    try:
        database = cluster.start_db()
        cluster.seeder("uploader", {NAME: big})
        tmp = cluster.data / "vault" / "tmp"
        wait_for(lambda: any(p.stat().st_size > 0 for p in tmp.glob("*.part")), 60, "an upload")
        cluster.kill(database)
        half = set(tmp.glob("*.part"))
        assert_consistent(cluster.data)
        cluster.start_db()
        assert_consistent(cluster.data)
        # (the uploader may have begun its upload again by now: a .part of another name)
        assert not half & set(tmp.glob("*.part")), "the half upload was left behind"
        # the uploader reconnects by itself, publishes again, and is asked for the bytes again
        wait_for(lambda: f"cataloged {NAME} " in cluster.db_log(), 60, "the upload to be redone")
        assert_consistent(cluster.data)
        cluster.kill(cluster.processes[1])
        out = cluster.fetch("after", NAME)
        assert "from the vault" in out and fetched_file(cluster, "after") == big
    finally:
        cluster.close()


def assert_consistent(data: Path) -> None:
    """No catalog entry without its complete blob; no blob that is not whole."""
    with sqlite3.connect(data / "rp2p.sqlite3") as db:
        rows = db.execute("SELECT name, size, hash FROM catalog").fetchall()
    for name, size, digest in rows:
        blob = data / "vault" / digest.hex()[:2] / digest.hex()
        assert blob.exists() and blob.stat().st_size == size, (
            f"{name} is cataloged without its blob"
        )
    for blob in (data / "vault").glob("??/*"):
        assert hash_file(blob, "blob").hash.hex() == blob.name, f"{blob} is not whole"


def test_a_get_is_told_once_on_stdout_and_not_again_in_the_log(cluster: Cluster) -> None:
    """`rp2p-peer --get` prints its outcome; its log does not repeat it."""
    process = subprocess.run(
        [BIN / "rp2p-peer", *cluster.peer_args("teller"), "--get", NAME],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    told = [
        line for line in (process.stdout + process.stderr).splitlines() if f"got {NAME}" in line
    ]
    assert len(told) == 1 and process.stdout.startswith(f"got {NAME} "), told


def test_a_vault_that_stalls_mid_get_is_asked_again_once_it_answers(
    cluster: Cluster, big: bytes
) -> None:
    """The vault's link was lost to the stall and the vault never asked again: the get failed
    though the backup of every file was back a moment later."""
    assert cluster.db is not None
    log = (cluster.root / "waiter.log").open("a")
    process = cluster.spawn([BIN / "rp2p-peer", *cluster.peer_args("waiter"), "-v", "--get", NAME],
                            stdout=subprocess.PIPE, stderr=log)  # fmt: skip
    cluster.wait_said("waiter", r"probe of vault for \S+ asking chunks \[\]: file after")
    cluster.db.send_signal(signal.SIGSTOP)  # its link has just begun: most of the file to come
    try:
        cluster.wait_said("waiter", r"lost source vault for \S+: ")
    finally:
        cluster.db.send_signal(signal.SIGCONT)
    process.communicate(timeout=60)
    assert process.returncode == 0, cluster.peer_log("waiter")[-600:]
    assert fetched_file(cluster, "waiter") == big
