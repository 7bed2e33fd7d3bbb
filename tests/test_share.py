"""The shared folder under concurrency: a rescan running while a download lands never
re-hashes the downloaded file, and never loses it from the table."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reliablep2p.proto import CHUNK_SIZE, describe_bytes
from reliablep2p.storage import portable, share
from reliablep2p.storage.partial import Download
from reliablep2p.storage.share import SharedFolder
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


def _aligned_chunks(data: bytes) -> list[memoryview]:
    """`data` in page-aligned `mmap` buffers, a chunk each, as the receive path holds them."""
    import mmap

    chunks = []
    for start in range(0, len(data), CHUNK_SIZE):
        piece = data[start : start + CHUNK_SIZE]
        buffer = memoryview(mmap.mmap(-1, CHUNK_SIZE))
        buffer[: len(piece)] = piece
        chunks.append(buffer[: len(piece)])
    return chunks


@pytest.mark.parametrize("direct", [True, False])
def test_aligned_chunks_in_any_order_land_whole_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    """Whole chunks in aligned buffers go `O_DIRECT` (where the file system takes it), the short
    last one through the page cache; out of order, put aside and resumed, the file is whole."""
    monkeypatch.setattr(portable, "DIRECT_WRITES", direct)
    monkeypatch.setattr(Download, "RECORD_EVERY", 1)
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    data = random_bytes(3 * CHUNK_SIZE + 12345)
    info = describe_bytes(data, "f.bin")
    chunks = _aligned_chunks(data)
    download = folder.start_download(info)
    download.store_chunk(1, chunks[1])
    download.store_chunk(0, chunks[0])
    download.put_aside()
    again = folder.start_download(info)
    assert again.received == 2 * CHUNK_SIZE
    again.store_chunk(3, chunks[3])
    again.store_chunk(2, chunks[2])
    folder.finish(again)
    assert (tmp_path / "share" / "f.bin").read_bytes() == data


def test_a_refused_direct_write_falls_back_to_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    refused: list[int] = []
    original = os.pwrite

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        if os.get_blocking(fd) and fd not in refused and _is_direct(fd):
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return original(fd, data, offset)

    def _is_direct(fd: int) -> bool:
        import fcntl

        return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0))

    monkeypatch.setattr(os, "pwrite", pwrite)
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    data = random_bytes(2 * CHUNK_SIZE)
    download = folder.start_download(describe_bytes(data, "g.bin"))
    for index, chunk in enumerate(_aligned_chunks(data)):
        download.store_chunk(index, chunk)
    folder.finish(download)
    assert (tmp_path / "share" / "g.bin").read_bytes() == data
    assert len(refused) <= 1  # refused once at most, then the page cache only


def test_a_download_resumes_from_any_set_of_verified_chunks(tmp_path: Path) -> None:
    """Chunks from several sources land anywhere in the file: the record beside it keeps the
    set, so a later download continues from exactly those chunks (and the record stays small)."""
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    data = random_bytes(7 * CHUNK_SIZE + 5)
    info = describe_bytes(data, "set.bin")
    chunks = _aligned_chunks(data)
    download = folder.start_download(info)
    for index in (5, 1, 7):
        download.store_chunk(index, chunks[index])
    download.put_aside()
    record = tmp_path / "share" / ".rp2p" / f"{info.hash.hex()}.chunks"
    assert record.stat().st_size < 128
    again = folder.start_download(info)
    assert again.stored() == {1, 5, 7}
    assert again.resumed_at == again.received == 2 * CHUNK_SIZE + 5
    for index in (0, 2, 3, 4, 6):
        again.store_chunk(index, chunks[index])
    folder.finish(again)
    assert (tmp_path / "share" / "set.bin").read_bytes() == data


def test_a_damaged_chunk_among_the_last_stored_distrusts_the_partial_file(tmp_path: Path) -> None:
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    data = random_bytes(4 * CHUNK_SIZE)
    info = describe_bytes(data, "torn.bin")
    chunks = _aligned_chunks(data)
    download = folder.start_download(info)
    for index in (2, 0):
        download.store_chunk(index, chunks[index])
    download.put_aside()
    part = tmp_path / "share" / ".rp2p" / f"{info.hash.hex()}.part"
    with part.open("r+b") as f:  # what a crash before the write-back can leave
        f.seek(2 * CHUNK_SIZE + 100)
        f.write(b"\x00" * 64)
    again = folder.start_download(info)
    assert again.stored() == set() and again.resumed_at == 0


def test_a_record_of_the_earlier_prefix_format_is_still_resumed(tmp_path: Path) -> None:
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    data = random_bytes(4 * CHUNK_SIZE)
    info = describe_bytes(data, "old.bin")
    work = tmp_path / "share" / ".rp2p" / info.hash.hex()
    work.with_suffix(".part").write_bytes(data[: 3 * CHUNK_SIZE])
    work.with_suffix(".chunks").write_text(f"{3:>20}\n")
    assert folder.start_download(info).stored() == {0, 1, 2}


def test_a_file_still_being_copied_in_is_not_shared_until_it_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A friend copies a big file into the share: a rescan while the copy runs must not
    publish what was there so far (the catalog would keep the cut-off file under its name).

    The copy moves on while each scan hashes the file (the hash is where a scan spends its
    time), so the test does not depend on how fast a thread is scheduled."""
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    piece = random_bytes(256 * 1024, seed=7)
    movie = folder.path / "movie.mkv"
    movie.write_bytes(piece)
    original = share.hash_file

    def hashing_while_the_copy_goes_on(path: Path, name: str) -> share.FileInfo:
        info = original(path, name)
        with movie.open("ab") as out:  # the copy wrote its next piece meanwhile
            out.write(piece)
        return info

    monkeypatch.setattr(share, "hash_file", hashing_while_the_copy_goes_on)
    for _ in range(3):
        assert folder.scan().get("movie.mkv") is None
    monkeypatch.setattr(share, "hash_file", original)  # the copy is done
    whole = movie.read_bytes()
    assert len(whole) == 4 * len(piece)
    assert folder.scan()["movie.mkv"] == describe_bytes(whole, "movie.mkv")


def test_what_a_scan_skips_is_told_once_per_file_and_hidden_names_not_at_all(
    tmp_path: Path,
) -> None:
    """Names with a bidi override or a newline, symlinks and subfolders were never published,
    and the player was not told."""
    (tmp_path / "fine.txt").write_bytes(b"shared")
    (tmp_path / "photo\u202egpj.exe").write_bytes(b"not a photo")
    (tmp_path / "two\nlines.txt").write_bytes(b"x")
    (tmp_path / "album").mkdir()
    (tmp_path / "link.txt").symlink_to(tmp_path / "fine.txt")
    (tmp_path / ".hidden").write_bytes(b"a dot file")
    folder = SharedFolder(tmp_path)
    folder.ensure()
    assert set(folder.scan()) == {"fine.txt"}
    told = {(s.name, s.kind): s.problem for s in folder.untold()}
    assert set(told) == {("photo\u202egpj.exe", "name"), ("two\nlines.txt", "name"),
                         ("album", "folder"), ("link.txt", "link")}  # fmt: skip
    assert "bidi control" in told[("photo\u202egpj.exe", "name")]
    assert "control character" in told[("two\nlines.txt", "name")]
    folder.scan()
    assert folder.untold() == [], "told once, not on every rescan"
    (tmp_path / "album").rmdir()
    folder.scan()
    (tmp_path / "album").mkdir()
    folder.scan()
    assert [(s.name, s.kind) for s in folder.untold()] == [("album", "folder")]  # back: again


def test_a_sync_is_due_every_so_many_bytes_until_the_file_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Download, "SYNC_EVERY", 2 * CHUNK_SIZE)
    folder = SharedFolder(tmp_path / "share")
    folder.ensure()
    data = random_bytes(4 * CHUNK_SIZE + 3)
    download = folder.start_download(describe_bytes(data, "f.bin"))
    chunks = [data[start : start + CHUNK_SIZE] for start in range(0, len(data), CHUNK_SIZE)]
    due = []
    for index in (3, 0, 2, 1, 4):
        download.store_chunk(index, chunks[index])
        due.append(download.sync_due)
        if download.sync_due:
            download.sync()
    # due after the 2nd and 4th chunks; after the last the rename's fsync does it
    assert due == [False, True, False, True, False]
    folder.finish(download)
    assert (tmp_path / "share" / "f.bin").read_bytes() == data
