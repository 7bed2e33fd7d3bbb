"""The host takes a file out (`rp2p-db remove NAME`), and a player asks what it shared
(`rp2p-peer restore`).

A removed file leaves the catalog, the records and the vault, under every name its content
has; every session is pushed `removed`, and a peer that was offline learns it from its
next `welcome` (the catalog lacks the file, and `removed` lists its content). The content is
remembered: a later publish of the same bytes, under any name, is refused; the name itself is
free for other content (the host removed those bytes, not the name).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import trio

from ..net.channel import Channel
from ..net.identity import ADMIN_NAME
from ..proto import (
    AskShared,
    ErrorCode,
    FileInfo,
    Hello,
    RemoteProtocolError,
    Remove,
    Removed,
    SharedFiles,
    check_name,
)
from ..storage.interfaces import MetadataStore, StoreUnavailable, Vault
from .sessions import Session

log = logging.getLogger("rp2p.db")


class Removals:
    """Serves the admin tool's `remove` and a player's `ask_shared`."""

    def __init__(
        self,
        store: MetadataStore,
        vault: Vault,
        catalog: dict[str, FileInfo],
        sessions: Callable[[], Iterable[Session]],
        *,
        secure: bool,
        removed: Callable[[FileInfo], None],
    ) -> None:
        self.store = store
        self.vault = vault
        self.catalog = catalog
        self.sessions = sessions
        self.secure = secure
        self.removed_hook = removed
        """Hears every file removed (the backup frees its name, the pushes announce it)."""
        self.hashes: set[bytes] = set()
        """The content the host removed: refused when published again (the backup holds this
        very set: it is only ever updated in place)."""

    async def load(self) -> None:
        self.hashes.update(await trio.to_thread.run_sync(self.store.removed_hashes))  # shared

    async def serve_remove(self, channel: Channel, hello: Hello, request: Remove) -> None:
        if not self.secure or hello.name != ADMIN_NAME:
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may remove")
        check_name(request.name)
        gone = await trio.to_thread.run_sync(self.store.remove_file, request.name)
        if not gone:
            raise RemoteProtocolError(
                ErrorCode.NOT_IN_CATALOG, f"{request.name} is not in the catalog"
            )
        digest = gone[0].hash
        kept = {chunk for i in self.catalog.values() if i.hash != digest for chunk in i.chunks}
        try:
            await trio.to_thread.run_sync(self.vault.delete_blob, digest)
            await trio.to_thread.run_sync(self.vault.erase_chunks, set(gone[0].chunks) - kept)
        except StoreUnavailable as exc:  # out of the catalog: an orphan blob harms nothing
            log.warning("removed %s stays in the vault for now: %s", request.name, exc)
        self.hashes.add(digest)
        for info in gone:
            self.catalog.pop(info.name, None)
            for session in self.sessions():
                session.published.pop(info.name, None)
            self.removed_hook(info)
            log.info("removed %s (%s bytes) from the catalog and the vault", info.name,
                     f"{info.size:,}")  # fmt: skip
        await channel.send(Removed([i.name for i in gone], [i.hash for i in gone]))

    async def serve_shared(self, channel: Channel, hello: Hello, request: AskShared) -> None:
        """The catalog files the caller (its certificate's name) ever published."""
        files = await trio.to_thread.run_sync(self.store.shared_by, hello.name)
        await channel.send(SharedFiles([info for info in files if info.name in self.catalog]))
