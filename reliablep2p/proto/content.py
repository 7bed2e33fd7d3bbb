"""Content identity: chunk hashes and the file hash built from them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from .messages import CHUNK_SIZE, FileInfo


def chunk_count(size: int) -> int:
    return -(-size // CHUNK_SIZE)


def chunk_hash(data: bytes | bytearray | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


def content_hash(chunks: Iterable[bytes]) -> bytes:
    """The file's identity: SHA-256 over its chunk hashes in order."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.digest()


def iter_chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_SIZE):
        yield data[start : start + CHUNK_SIZE]


def describe_bytes(data: bytes, name: str) -> FileInfo:
    """The `FileInfo` for in-memory content (tests and small files)."""
    chunks = [chunk_hash(piece) for piece in iter_chunks(data)]
    return FileInfo(name=name, size=len(data), hash=content_hash(chunks), chunks=chunks)


def short_hash(digest: bytes) -> str:
    return digest.hex()[:12]
