"""The database peer's two stores together, and the one place that picks their backends.

By default both live in the data folder (SQLite and the local vault: `make demo`, one machine).
`--store postgresql://...` puts the metadata in PostgreSQL, `--vault s3://bucket` the blobs in an
S3-compatible object store; the data folder then keeps the network's keys and a chunk cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..proto import FileInfo
from .interfaces import CACHE_DIR, MetadataStore, StoreError, StoreUnavailable, Vault
from .vault import LocalVault

log = logging.getLogger("rp2p.store")


@dataclass
class Stores:
    metadata: MetadataStore
    vault: Vault

    @property
    def where(self) -> str:
        return f"metadata in {self.metadata.where}, vault in {self.vault.where}"

    @property
    def shared(self) -> bool:
        """Several database peers may share the metadata (PostgreSQL): they need the bus."""
        return self.metadata.where.startswith("postgresql://")

    def prepare(self) -> None:
        """Make the metadata store if it is new, once an object-store vault proved usable (so
        a wrong endpoint or key leaves nothing made)."""
        try:
            if self.vault.remote:
                self.vault.open()
            self.metadata.prepare()
        except StoreUnavailable as exc:  # it answered, then went away: as if it never had
            raise StoreError(exc.detail) from None

    def open(self) -> list[FileInfo]:
        """Open both and return the catalog, less the files whose blob is gone.

        A local vault lost a blob only to damage (blobs are durable before their row is
        committed): the entry is dropped, with a warning. An object-store vault that lacks
        every cataloged blob is far likelier the wrong bucket, prefix or endpoint: refused.
        """
        self.metadata.open()
        try:
            self.vault.open()
            catalog = self.metadata.catalog()
            missing = self.vault.missing(catalog)
            if missing and len(missing) == len(catalog) and self.vault.remote:
                raise StoreError(
                    f"none of the {len(catalog)} cataloged files is in the vault"
                    f" {self.vault.where}: is --vault (and --s3-endpoint) the one this network"
                    " used?"
                )
            for info in missing:
                log.warning("dropping %s from the catalog: its backup is missing", info.name)
                self.metadata.drop_file(info.name)
        except StoreUnavailable as exc:
            self.close()
            raise StoreError(exc.detail) from None
        except BaseException:
            self.close()
            raise
        gone = {info.name for info in missing}
        return [info for info in catalog if info.name not in gone]

    def close(self) -> None:
        self.vault.close()
        self.metadata.close()


def embedded(data_dir: Path) -> Stores:
    """SQLite and the local vault, both in the data folder."""
    from .sqlite import SqliteMetadata

    return Stores(SqliteMetadata(data_dir), LocalVault(data_dir / "vault"))


def metadata_store(data_dir: Path, store: str | None) -> MetadataStore:
    """The metadata store `--store` names: None for SQLite in the data folder."""
    if store is None:
        from .sqlite import SqliteMetadata

        return SqliteMetadata(data_dir)
    from .postgres import PostgresMetadata, is_postgres_url

    if not is_postgres_url(store):
        raise StoreError(f"--store takes a postgresql:// URL, not {store!r}")
    return PostgresMetadata(store, data_dir)


def open_stores(
    data_dir: Path,
    *,
    store: str | None = None,
    vault: str | None = None,
    s3_endpoint: str | None = None,
    s3_region: str | None = None,
    cache_bytes: int | None = None,
) -> Stores:
    """The stores the options name; the heavy clients are imported only when asked for."""
    metadata = metadata_store(data_dir, store)
    if vault is None:
        return Stores(metadata, LocalVault(data_dir / "vault"))
    from obstore.exceptions import BaseError

    from .s3 import CACHE_BYTES, S3Vault

    try:
        return Stores(
            metadata,
            S3Vault(
                vault,
                endpoint=s3_endpoint,
                region=s3_region,
                cache_dir=data_dir / CACHE_DIR,
                cache_bytes=CACHE_BYTES if cache_bytes is None else cache_bytes,
            ),
        )
    except (ValueError, BaseError) as exc:  # a bad URL or option
        raise StoreError(f"--vault: {exc}") from None
