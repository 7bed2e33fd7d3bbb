"""Where Linux's speed-ups are missing (macOS, other file systems), files still move, identical.

Each Linux-only call is taken away as a system without it would lack it: `os.O_DIRECT`,
`os.preadv`, `os.sendfile`, `sync_file_range`; and `flock` answers as a file system without
locks does. A file then goes from a seeder to a fetcher and to the vault and back, over plain
TCP (the `sendfile` path) and over TLS (the `preadv` path), byte for byte.
"""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from reliablep2p.net.dataframes import SEND_PIECE
from reliablep2p.proto import CHUNK_SIZE
from reliablep2p.storage import portable

from .conftest import Network, random_bytes

SIZE = 2 * 1024 * 1024 + 4097
"""Two whole chunks (each a page-aligned candidate for O_DIRECT) and a short last one."""


def portable_piece(secure: bool) -> int:
    """How much one fallback read takes: a chunk over TLS, a send piece on plain TCP."""
    return CHUNK_SIZE if secure else SEND_PIECE


@pytest.fixture
def linux_less(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """No O_DIRECT, preadv, sendfile or sync_file_range; flock refused. Counts what the
    fallbacks were asked: `flock` refused, `pread` read."""
    for name in ("O_DIRECT", "preadv", "sendfile"):
        monkeypatch.delattr(os, name, raising=False)
    monkeypatch.setattr(portable, "_sync_file_range", lambda: None)
    calls = {"flock": 0, "pread": 0}
    pread = os.pread

    def no_locks(fd: int, operation: int) -> None:
        calls["flock"] += 1
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    def counted_pread(fd: int, length: int, offset: int) -> bytes:
        calls["pread"] += 1
        return pread(fd, length, offset)

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(os, "pread", counted_pread)
    return calls


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
async def test_a_file_moves_byte_identical_without_the_linux_only_calls(
    linux_less: dict[str, int], network: Network, plain_network: Network, secure: bool
) -> None:
    net = network if secure else plain_network
    data = random_bytes(SIZE, seed=11)
    seeder = await net.peer({"atlas.bin": data})
    fetcher = await net.peer()
    got = await fetcher.get("atlas.bin")
    assert got.source == seeder.name and got.path.read_bytes() == data
    seeder.stop()  # from the vault now, which stored the bytes the seeder uploaded
    fetcher.stop()
    late = await net.peer()
    got = await late.get("atlas.bin")
    assert got.from_vault and got.path.read_bytes() == data
    assert linux_less["flock"] == 3  # every share was claimed without the lock it cannot have
    assert linux_less["pread"] >= 2 * SIZE // portable_piece(secure)  # sent from pread's bytes


def test_a_sendfile_refused_by_the_file_system_is_not_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(portable, "_sendfile_ok", True)
    assert portable.sendfile_works()
    assert not portable.sendfile_refused(OSError(errno.EPIPE, "broken pipe"))  # a real error
    assert portable.sendfile_works()
    assert portable.sendfile_refused(OSError(errno.EINVAL, "invalid argument"))
    assert not portable.sendfile_works()
