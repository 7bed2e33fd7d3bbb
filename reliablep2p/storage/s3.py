"""The vault in an S3-compatible object store (SeaweedFS, AWS S3, ...), one object per chunk.

Layout under the bucket (and the URL's prefix, if any):
  `chunks/<sha256 of the chunk>`  a chunk's bytes, at most 1 MiB; shared by every blob that has it
  `blobs/<content hash>`          the blob's manifest: its size, then its chunk hashes

A chunk is verified against the catalog before it is written and against its name whenever it
is read; an object store's PUT is all or nothing, so no key ever holds part of a chunk. The
manifest is written last, after every chunk is in: a blob is visible (`has_blob`) only when it
is complete, and an interrupted upload leaves only chunks no manifest names (harmless). A get
from offset k reads the chunks from k on, one object each; a proof of possession reads every
chunk, through a local `ChunkCache`, so the players proving one target cost one read of it.

obstore (a maintained binding of Rust's object_store) makes the calls; they block and release
the GIL, so they run in the database peer's worker threads. Credentials come from the standard
AWS variables; with none, requests are anonymous (never the cloud's instance metadata).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import os
import re
import struct
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from ..proto import (
    CHUNK_SIZE,
    ErrorCode,
    FileInfo,
    LocalProtocolError,
    RemoteProtocolError,
    chunk_count,
)
from .chunkcache import ChunkCache
from .interfaces import ReadChunk, StoreError, StoreUnavailable

log = logging.getLogger("rp2p.store")

CACHE_BYTES = 512 * CHUNK_SIZE
TIMEOUT, CONNECT_TIMEOUT, RETRY_SECONDS = "30s", "5s", 10
"""One request's limit, its connection's, and how long retries of one call may take."""
PROBE_KEY = "rp2p-write-check"


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket[/prefix]` as (bucket, prefix); ValueError with one line for people."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not a vault URL like s3://BUCKET or s3://BUCKET/PREFIX")
    return parts.netloc, parts.path.strip("/")


def credentials_from(environ: Mapping[str, str]) -> dict[str, Any]:
    """obstore's credential options from the standard AWS variables."""
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        found: dict[str, Any] = {"access_key_id": key, "secret_access_key": secret}
        if token := environ.get("AWS_SESSION_TOKEN"):
            found["session_token"] = token
        return found
    providers = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI")  # fmt: skip
    if any(environ.get(name) for name in providers):
        return {}  # obstore asks that provider
    return {"skip_signature": True}


class S3Vault:
    """Blobs as chunk objects in one bucket; a local cache of recently read chunks."""

    remote = True

    def __init__(
        self,
        url: str,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        credentials: Mapping[str, Any] | None = None,
        cache_dir: Path,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        credentials = credentials_from(os.environ) if credentials is None else credentials
        self.endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or ""
        options: dict[str, Any] = {"region": region or os.environ.get("AWS_REGION") or "us-east-1"}
        if self.endpoint:
            options["endpoint"] = self.endpoint
        if credentials.get("skip_signature"):
            log.info("no AWS credentials in the environment: the vault's requests are anonymous")
        self._store = S3Store(
            self.bucket,
            prefix=self.prefix or None,
            client_options={
                "allow_http": self.endpoint.startswith("http://"),
                "timeout": TIMEOUT,
                "connect_timeout": CONNECT_TIMEOUT,
            },
            retry_config={
                "max_retries": 2,
                "retry_timeout": datetime.timedelta(seconds=RETRY_SECONDS),
            },
            **options,
            **credentials,
        )
        self.cache = ChunkCache(cache_dir, cache_bytes)
        self.fetched = 0
        """Bytes read from the object store so far (the cache's hits are not counted)."""
        self._count_lock = threading.Lock()

    @property
    def where(self) -> str:
        path = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        return f"{path} at {self.endpoint}" if self.endpoint else path

    def open(self) -> None:
        try:
            obstore.put(self._store, PROBE_KEY, b"rp2p can write here\n")
            next(iter(obstore.list(self._store, prefix="blobs/", chunk_size=1)), None)
        except BaseError as exc:
            raise StoreError(f"cannot use the vault {self.where}: {_one_line(exc)}") from None
        self.cache.open()

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ reads

    def has_blob(self, info: FileInfo) -> bool:
        try:
            manifest = self._call(obstore.get, _blob_key(info.hash)).bytes()
        except FileNotFoundError:
            return False
        return bytes(manifest) == _manifest(info)

    def missing(self, infos: list[FileInfo]) -> list[FileInfo]:
        """One listing of the manifests, not a request per blob."""
        sizes: dict[str, int] = {}
        for batch in self._call(obstore.list, prefix="blobs/"):
            sizes.update((meta["path"], meta["size"]) for meta in batch)
        return [info for info in infos if sizes.get(_blob_key(info.hash)) != len(_manifest(info))]

    def read_chunk(self, info: FileInfo, index: int) -> bytes:
        digest = info.chunks[index]
        expected = min(CHUNK_SIZE, info.size - index * CHUNK_SIZE)
        key = digest.hex()
        cached = self.cache.get(key)
        if cached is not None and _is(cached, digest, expected):
            return cached
        try:
            data = bytes(self._call(obstore.get, _chunk_key(digest)).bytes())
        except FileNotFoundError:
            data = b""
        with self._count_lock:
            self.fetched += len(data)
        if not _is(data, digest, expected):
            self.cache.discard(key)
            raise LocalProtocolError(
                ErrorCode.INTERNAL,
                f"the vault's copy of {info.name} is damaged (chunk {index}); see its log",
            )
        self.cache.put(key, data)
        return data

    def source(self, info: FileInfo) -> ReadChunk:
        return lambda index: self.read_chunk(info, index)

    def possession_proof(self, info: FileInfo, nonce: bytes) -> bytes:
        digest = hashlib.sha256(nonce)
        for index in range(chunk_count(info.size)):
            digest.update(self.read_chunk(info, index))
        return digest.digest()

    # ------------------------------------------------------------------ writes

    def start_blob(self, info: FileInfo) -> _ChunkUpload:
        return _ChunkUpload(self, info)

    def delete_blob(self, digest: bytes) -> None:
        """The manifest goes; the chunks stay (another blob may have them; see docs/scale.md)."""
        self._call(obstore.delete, _blob_key(digest))

    def erase_chunks(self, digests: Collection[bytes]) -> None:
        """A removed file's chunks that no other blob has: out of the store and the cache."""
        for digest in digests:
            self.cache.discard(digest.hex())
            with contextlib.suppress(FileNotFoundError):
                self._call(obstore.delete, _chunk_key(digest))

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._call(obstore.put, key, bytes(data))

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one obstore call; an absent object is FileNotFoundError, any other failure
        `StoreUnavailable` (the object store is down, or refuses us)."""
        try:
            return operation(self._store, *args, **kwargs)
        except FileNotFoundError:
            raise
        except BaseError as exc:
            log.warning("the vault %s failed: %s", self.where, exc)
            raise StoreUnavailable(
                f"the vault's object store cannot be reached now ({_one_line(exc)})"
            ) from None


class _ChunkUpload:
    """A blob being written: chunks verified and put in order, the manifest put last."""

    def __init__(self, vault: S3Vault, info: FileInfo) -> None:
        self.vault = vault
        self.info = info
        self.next_chunk = 0

    @property
    def complete(self) -> bool:
        return self.next_chunk == chunk_count(self.info.size)

    def write_chunk(self, data: bytes | memoryview) -> None:
        index, info = self.next_chunk, self.info
        if self.complete:
            raise RemoteProtocolError(ErrorCode.BAD_CONTENT, "more data than the file has")
        if not _is(data, info.chunks[index], min(CHUNK_SIZE, info.size - index * CHUNK_SIZE)):
            raise RemoteProtocolError(
                ErrorCode.BAD_CONTENT, f"chunk {index} does not match the catalog"
            )
        self.vault.put(_chunk_key(info.chunks[index]), data)
        self.vault.cache.put(info.chunks[index].hex(), data)  # a proof soon after reads it here
        self.next_chunk += 1

    def finish(self) -> None:
        if not self.complete:
            raise RemoteProtocolError(ErrorCode.BAD_CONTENT, "transfer ended before the last chunk")
        self.vault.put(_blob_key(self.info.hash), _manifest(self.info))

    def abandon(self) -> None:
        """The chunks put so far stay: named by their hash, they are right for any blob."""


def _chunk_key(digest: bytes) -> str:
    return f"chunks/{digest.hex()}"


def _blob_key(digest: bytes) -> str:
    return f"blobs/{digest.hex()}"


def _manifest(info: FileInfo) -> bytes:
    return struct.pack(">Q", info.size) + b"".join(info.chunks)


def _is(data: bytes | memoryview, digest: bytes, size: int) -> bool:
    return len(data) == size and hashlib.sha256(data).digest() == digest


def _one_line(exc: BaseException) -> str:
    """obstore's message (pages of it, with the server's XML) cut to its gist."""
    text = " ".join(str(exc).split()).removeprefix("Generic S3 error: ")
    text = re.split(r"\s*(?:<\?xml|Debug source:)", text)[0]
    return text if len(text) <= 240 else text[:237] + "..."
