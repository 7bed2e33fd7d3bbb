"""The shared folder under concurrency: a rescan running while a download lands never
re-hashes the downloaded file, and never loses it from the table."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reliablep2p import share
from reliablep2p.protocol import CHUNK_SIZE, describe_bytes
from reliablep2p.share import Download, SharedFolder
from tests.conftest import random_bytes


def landed(folder: SharedFolder, data: bytes, name: str) -> Download:
    """A download of `data` with every chunk written and verified, not yet finished."""
    download = folder.start_download(describe_bytes(data, name))
    for start in range(0, len(data), CHUNK_SIZE):
        download.write_chunk(data[start : start + CHUNK_SIZE])
    return download


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names `hash_file` is asked to hash."""
    names: list[str] = []
    original = share.hash_file

    def counting(path: Path, name: str) -> share.FileInfo:
        names.append(name)
        return original(path, name)

    monkeypatch.setattr(share, "hash_file", counting)
    return names


def test_a_rescan_that_sees_the_rename_waits_for_the_entry(
    tmp_path: Path, hashed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = SharedFolder(tmp_path)
    folder.ensure()
    download = landed(folder, random_bytes(3 * CHUNK_SIZE + 7), "big.bin")
    renamed, go_on = threading.Event(), threading.Event()
    place = Download.place

    def slow_place(self: Download) -> None:
        place(self)
        renamed.set()  # the file is visible under its name, its entry not yet recorded
        go_on.wait(5)

    monkeypatch.setattr(Download, "place", slow_place)
    finisher = threading.Thread(target=folder.finish, args=(download,))
    finisher.start()
    assert renamed.wait(5)
    scanned: dict[str, object] = {}
    scanner = threading.Thread(target=lambda: scanned.update(folder.scan()))
    scanner.start()
    scanner.join(0.2)
    assert scanner.is_alive(), "the rescan must wait for the download's entry"
    go_on.set()
    finisher.join(5)
    scanner.join(5)
    assert "big.bin" in scanned and hashed == []
    assert folder.scan()["big.bin"] == download.info and hashed == []


def test_a_download_placed_during_a_rescan_stays_in_the_table(
    tmp_path: Path, hashed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = SharedFolder(tmp_path)
    folder.ensure()
    (tmp_path / "mine.txt").write_bytes(b"mine")
    hashing, go_on = threading.Event(), threading.Event()
    original = share.hash_file

    def slow_hash(path: Path, name: str) -> share.FileInfo:
        hashing.set()  # the rescan has listed the folder: it did not see the download
        go_on.wait(5)
        return original(path, name)

    monkeypatch.setattr(share, "hash_file", slow_hash)
    scanned: dict[str, object] = {}
    scanner = threading.Thread(target=lambda: scanned.update(folder.scan()))
    scanner.start()
    assert hashing.wait(5)
    download = landed(folder, random_bytes(CHUNK_SIZE + 1), "late.bin")
    folder.finish(download)
    go_on.set()
    scanner.join(5)
    assert set(scanned) == {"mine.txt", "late.bin"}
    assert folder.scan()["late.bin"] == download.info
    assert hashed == ["mine.txt"], "only the file already there was hashed, once"
