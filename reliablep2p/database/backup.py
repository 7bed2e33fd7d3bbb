"""The database peer's side of the backup: catalog what is published, store the bytes it lacks.

A published file is cataloged at once when the vault already holds its content (deduplicated by
hash); otherwise the publisher is asked for the bytes (`need`), which arrive over an `upload`
connection, are verified chunk by chunk and become a blob before the catalog entry is added.
A name that looks like another name in the catalog (same UTS #39 skeleton) is refused. New
content under a cataloged name replaces the entry when that name is the publisher's alone and the
new content is the old one and more (a copy published half-done, then finished); an edited file
keeps its first content backed up under the name, and another player's name is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

import trio

from ..game.host import HuntHost
from ..net.channel import Channel
from ..proto import (
    CHUNK_SIZE,
    ErrorCode,
    FileInfo,
    Hello,
    LocalProtocolError,
    Lookalikes,
    Need,
    PeerInfo,
    ProtocolError,
    Publish,
    Rejected,
    RemoteProtocolError,
    Stored,
    Upload,
    check_file_info,
)
from ..storage.interfaces import MetadataStore, StoreUnavailable, Vault
from .sessions import Session

log = logging.getLogger("rp2p.db")

MAX_UPLOADS = 4


class Backup:
    """Keeps the catalog and the vault in step with what players publish."""

    def __init__(
        self,
        store: MetadataStore,
        vault: Vault,
        catalog: dict[str, FileInfo],
        hunt: HuntHost,
        cataloged: Callable[[FileInfo], None],
        *,
        removed: Collection[bytes] = frozenset(),
    ) -> None:
        self.store = store
        self.vault = vault
        self.catalog = catalog
        self.hunt = hunt
        self.cataloged = cataloged
        """Hears every file added to the catalog (the pushes announce it)."""
        self.removed = removed
        """The content the host removed: refused, under any name."""
        self._upload_slots = trio.CapacityLimiter(MAX_UPLOADS)
        self._lookalikes = Lookalikes(catalog)

    async def on_publish(self, session: Session, publish: Publish) -> None:
        """Catalog what we already hold, ask for the bytes we lack, refuse conflicts."""
        needed: list[str] = []
        shared: list[str] = []
        refused: dict[str, str] = {}
        batch = Lookalikes()  # two new look-alikes in one publish: the first one wins
        for info in publish.files:
            try:
                self._check_publishable(info)
                if (twin := batch.clash(info.name)) is not None:
                    raise _looks_like(twin, "published with it")
                batch.add(info.name)
                known = self.catalog.get(info.name)
                if known is not None and known.hash == info.hash:
                    shared.append(info.name)
                else:
                    if known is not None:
                        await self._check_replaceable(info, session.peer.name)
                    if not await trio.to_thread.run_sync(self.vault.has_blob, info):
                        needed.append(info.name)
                    else:  # refuses a look-alike that won a race
                        if known is not None:
                            await self._check_grown(known, info)
                        await self._add(info, session.peer)
            except StoreUnavailable:  # asked for: the upload fails, and is tried again later
                needed.append(info.name)
            except ProtocolError as exc:
                refused[info.name] = exc.detail
                log.info("refused %r from %s: %s", info.name, session.peer.name, exc.detail)
                continue
            session.published[info.name] = info.hash
        if shared:  # (a thread each, queued behind a storm's other publishes, for nothing)
            await self._record_shared(session.peer.name, shared)
        if needed:
            await session.channel.send(Need(needed))
        if refused:
            await session.channel.send(Rejected(list(refused), list(refused.values())))
        self.hunt.poke()

    def forget(self, name: str) -> None:
        """`name` left the catalog (the host removed it): free for other content."""
        self._lookalikes.discard(name)

    def _check_publishable(self, info: FileInfo) -> None:
        check_file_info(info)
        if info.hash in self.removed:
            raise RemoteProtocolError(
                ErrorCode.FORBIDDEN, "the host removed this file from the network"
            )
        if (twin := self._lookalikes.clash(info.name)) is not None:
            raise _looks_like(twin, "already in the catalog")

    async def _check_replaceable(self, info: FileInfo, player: str) -> None:
        """New content under a cataloged name replaces it only when the name is `player`'s
        alone (a copy cataloged half-done, then finished); another's file keeps its name."""
        if info.name in self.hunt.treasure:
            raise RemoteProtocolError(ErrorCode.NAME_TAKEN, "the host's treasure has this name")
        sharers = await trio.to_thread.run_sync(self.store.sharers, info.name)
        if sharers != {player}:
            raise RemoteProtocolError(
                ErrorCode.NAME_TAKEN, "another player's file already has this name"
            )

    async def _check_grown(self, known: FileInfo, info: FileInfo) -> None:
        """The new content (in the vault now) must be the cataloged one and more after it: a
        copy that went on to the end. An edited file keeps the name's first content backed up."""
        if not await trio.to_thread.run_sync(grew_from, self.vault, known, info):
            raise RemoteProtocolError(
                ErrorCode.NAME_TAKEN, "your earlier file with this name is kept in the catalog;"
                " share this one under another name",
            )  # fmt: skip

    async def _record_shared(self, player: str, names: list[str]) -> None:
        """Remember who shares a cataloged file too (what `restore` brings back)."""
        try:
            await trio.to_thread.run_sync(self.store.record_shared, player, names)
        except StoreUnavailable as exc:  # kept by its next publish, once the store is back
            log.warning("not recorded that %s shares %d files: %s", player, len(names), exc)

    async def serve_upload(self, channel: Channel, hello: Hello, request: Upload) -> None:
        info = request.file
        self._check_publishable(info)
        if (known := self.catalog.get(info.name)) is not None and known.hash != info.hash:
            await self._check_replaceable(info, hello.name)
        uploader = PeerInfo(name=hello.name, host=channel.remote_host, port=hello.port)
        async with self._upload_slots:
            try:
                await self._store_blob(channel, info)
            except OSError as exc:  # our disk (full, read-only): the uploader tries again later
                raise LocalProtocolError(
                    ErrorCode.INTERNAL, f"the vault cannot store {info.name} now ({exc.strerror})"
                ) from None
        known = self.catalog.get(info.name)
        if known is None or known.hash != info.hash:
            if known is not None:  # a copy finished, or another took the name meanwhile
                await self._check_replaceable(info, hello.name)
                await self._check_grown(known, info)
            self._check_publishable(info)
            await self._add(info, uploader)
        await channel.send(Stored(info.name))

    async def _store_blob(self, channel: Channel, info: FileInfo) -> None:
        blob = await trio.to_thread.run_sync(self.vault.start_blob, info)
        try:
            while not blob.complete:
                data = await channel.receive_data()
                await trio.to_thread.run_sync(blob.write_chunk, data)
            await trio.to_thread.run_sync(blob.finish)
        except BaseException:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(blob.abandon)
            raise

    async def _add(self, info: FileInfo, publisher: PeerInfo) -> None:
        if (twin := self._lookalikes.clash(info.name)) is not None:
            raise _looks_like(twin, "already in the catalog")  # it won a race to get there
        self._lookalikes.add(info.name)  # taken now, while the row is written
        try:
            await trio.to_thread.run_sync(self.store.add_file, info, publisher.name)
        except BaseException:
            self._lookalikes.discard(info.name)
            raise
        self.catalog[info.name] = info
        self.cataloged(info)
        self.hunt.poke()
        log.info("cataloged %s (%s bytes) from %s", info.name, f"{info.size:,}", publisher.name)


def grew_from(vault: Vault, old: FileInfo, new: FileInfo) -> bool:
    """True if `new` is `old` with more bytes after it, as both blobs in the vault say
    (blocking): its whole chunks by their hashes, the last one's bytes read."""
    whole = old.size // CHUNK_SIZE
    if new.size <= old.size or old.chunks[:whole] != new.chunks[:whole]:
        return False
    tail = old.size - whole * CHUNK_SIZE
    try:
        return not tail or _chunk(vault, old, whole)[:tail] == _chunk(vault, new, whole)[:tail]
    except (OSError, ValueError):  # a copy gone or damaged: nothing to compare
        return False


def _chunk(vault: Vault, info: FileInfo, index: int) -> bytes:
    source = vault.source(info)
    if not isinstance(source, Path):
        return source(index)
    with source.open("rb") as blob:
        blob.seek(index * CHUNK_SIZE)
        return blob.read(CHUNK_SIZE)


def _looks_like(twin: str, where: str) -> RemoteProtocolError:
    return RemoteProtocolError(ErrorCode.NAME_TAKEN, f"looks like {twin!r}, {where}")
