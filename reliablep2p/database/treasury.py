"""Treasure in the database peer: buried in the vault like any backed-up file, handed to its
seeders, dug up again when its time is up, and never taken back once expired."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import trio

from ..proto import Expired, FileInfo, Publish, describe_bytes, iter_chunks
from ..storage.interfaces import MetadataStore, StoreUnavailable, Vault
from ..storage.metadata import KEEP_EXPIRED_ROUNDS
from .sessions import Session

log = logging.getLogger("rp2p.db")


class Treasury:
    """The `game.treasure.Treasury` of the database peer."""

    def __init__(
        self,
        store: MetadataStore,
        vault: Vault,
        catalog: dict[str, FileInfo],
        sessions: Callable[[], Iterable[Session]],
        *,
        cataloged: Callable[[FileInfo], None],
        expired: Callable[[list[FileInfo]], None],
        note_news: Callable[[], None],
        elsewhere: Callable[[str, list[str]], None] = lambda seeder, names: None,
    ) -> None:
        self.store = store
        self.vault = vault
        self._catalog = catalog
        self.sessions = sessions
        self.cataloged = cataloged
        self.expired = expired
        self.note_news = note_news
        self.elsewhere = elsewhere
        """Hands treasure to a seeder that is another database peer's player."""
        self.gone: dict[bytes, int] = {}
        """Content of expired treasure (-> the round it expired in): refused when a player
        publishes it again, for `KEEP_EXPIRED_ROUNDS`."""

    async def load(self) -> None:
        self.gone = await trio.to_thread.run_sync(self.store.expired_hashes)

    def catalog(self) -> Mapping[str, FileInfo]:
        return self._catalog

    async def bury(self, name: str, data: bytes, number: int) -> FileInfo | None:
        """Store new content in the vault and the catalog, and announce it; None if a store
        is down (the round goes on without it)."""
        info = describe_bytes(data, name)
        try:
            await trio.to_thread.run_sync(self._store, info, data, number)
        except StoreUnavailable as exc:
            log.warning("no treasure planted for round %d: %s", number, exc)
            return None
        self._catalog[name] = info
        self.cataloged(info)
        log.info("planted %s (%s bytes) for round %d", name, f"{info.size:,}", number)
        return info

    def _store(self, info: FileInfo, data: bytes, number: int) -> None:
        blob = self.vault.start_blob(info)
        try:
            for piece in iter_chunks(data):
                blob.write_chunk(piece)
            blob.finish()
        except BaseException:
            blob.abandon()
            raise
        self.store.add_treasure(info, number)

    async def dig_up(self, files: list[FileInfo], number: int) -> bool:
        """Expired treasure leaves the catalog and the vault; every player is told to drop it.
        False if the metadata store is down (nothing changed: dug up at a later round)."""
        try:
            await trio.to_thread.run_sync(self._expire, [f.name for f in files], number)
        except StoreUnavailable as exc:
            log.warning("treasure not expired yet: %s", exc)
            return False
        self.forget(files, number)
        self.expired(files)
        return True

    def forget(self, files: list[FileInfo], number: int) -> None:
        """Expired treasure (here, or at the round host) is out of the catalog."""
        self.gone = {d: at for d, at in self.gone.items() if at >= number - KEEP_EXPIRED_ROUNDS}
        for info in files:
            self._catalog.pop(info.name, None)
            self.gone[info.hash] = number
            for session in self.sessions():
                session.published.pop(info.name, None)

    def _expire(self, names: list[str], number: int) -> None:
        for digest in self.store.expire_treasure(names, number):
            try:
                self.vault.delete_blob(digest)
            except StoreUnavailable as exc:  # out of the catalog: an orphan blob harms nothing
                log.warning("expired treasure stays in the vault: %s", exc)

    def hand_out(self, seeder: str, names: list[str]) -> None:
        for session in self.sessions():
            if session.peer.name == seeder:
                session.plants.extend(names)
        self.elsewhere(seeder, names)
        self.note_news()

    async def screen_publish(self, session: Session, publish: Publish) -> Publish:
        """Publish what is not expired treasure; tell the publisher to drop what is."""
        stale = [info for info in publish.files if info.hash in self.gone]
        if not stale:
            return publish
        await session.channel.send(Expired([i.name for i in stale], [i.hash for i in stale]))
        return Publish([info for info in publish.files if info.hash not in self.gone])
