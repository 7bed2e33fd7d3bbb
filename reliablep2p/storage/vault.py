"""The embedded vault: blobs content-addressed in the data folder, `vault/<ab>/<hash>`.

A blob is written to `vault/tmp/`, verified chunk by chunk, flushed and renamed into place;
only then is its catalog row committed. So after any crash a catalog entry always has its
complete blob, and no half-written blob is ever visible under a content address. `open()`
sweeps what a crash left in `tmp/`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from pathlib import Path

from ..proto import FileInfo
from .partial import Download
from .share import possession_proof

log = logging.getLogger("rp2p.store")


class LocalVault:
    """Blobs in a folder on this machine."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    @property
    def where(self) -> str:
        return str(self.root)

    def open(self) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():
            log.info("removing unfinished upload %s", leftover.name)
            leftover.unlink()

    def close(self) -> None:
        pass

    def blob_path(self, digest: bytes) -> Path:
        hexdigest = digest.hex()
        return self.root / hexdigest[:2] / hexdigest

    def has_blob(self, info: FileInfo) -> bool:
        try:
            return self.blob_path(info.hash).stat().st_size == info.size
        except FileNotFoundError:
            return False

    def missing(self, infos: list[FileInfo]) -> list[FileInfo]:
        return [info for info in infos if not self.has_blob(info)]

    def start_blob(self, info: FileInfo) -> Download:
        """A writer for `info`'s bytes; `Download.finish()` makes the blob visible."""
        final = self.blob_path(info.hash)
        final.parent.mkdir(exist_ok=True)
        part = self._tmp / f"{info.hash.hex()}-{secrets.token_hex(4)}.part"
        return Download(info, part, final)

    def delete_blob(self, digest: bytes) -> None:
        self.blob_path(digest).unlink(missing_ok=True)

    def erase_chunks(self, digests: Collection[bytes]) -> None:
        """Nothing to do: a blob's chunks are in its one file (`delete_blob`)."""

    def source(self, info: FileInfo) -> Path:
        return self.blob_path(info.hash)

    def possession_proof(self, info: FileInfo, nonce: bytes) -> bytes:
        return possession_proof(self.blob_path(info.hash), nonce)
