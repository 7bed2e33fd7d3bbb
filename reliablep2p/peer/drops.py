"""What a player does when the host takes files away: expired treasure and removed files.

Expired treasure was the host's own content, made for the game: it is deleted from the share.
A file the host removed (`rp2p-db remove`) may be a player's own, so its bytes stay on disk:
the player only stops offering it (out of the catalog, the map, its seeding and its publishes).
"""

from __future__ import annotations

import trio

from ..proto import Expired, Removed
from . import events
from .backup import Publisher
from .view import NetworkView


async def drop_expired(view: NetworkView, publisher: Publisher, expired: Expired) -> None:
    """Treasure whose time is up: out of the catalog, the map and the share."""
    for name, digest in zip(expired.names, expired.hashes, strict=False):
        _uncatalog(view, name, digest)
        publisher.forget(name)
        if view.share is not None:
            await trio.to_thread.run_sync(view.share.discard, name, digest)
    view.bus.emit(events.TreasureExpired(tuple(expired.names)))
    if view.share is not None:
        view.bus.emit(events.SeedingChanged(tuple(sorted(view.share.files()))))
    view.map_changed()


def drop_removed(view: NetworkView, publisher: Publisher, removed: Removed) -> None:
    """Files the host removed: out of the catalog and the map, never offered or published
    again; our copy stays where it is."""
    for name, digest in zip(removed.names, removed.hashes, strict=False):
        _uncatalog(view, name, digest)
        publisher.refuse(digest)
    view.bus.emit(events.FilesRemoved(tuple(removed.names)))
    if view.share is not None:
        seeding = [n for n, i in view.share.files().items() if i.hash not in publisher.removed]
        view.bus.emit(events.SeedingChanged(tuple(sorted(seeding))))
    view.map_changed()


def _uncatalog(view: NetworkView, name: str, digest: bytes) -> None:
    """`name` (if it still has that content) out of our catalog, and out of the map."""
    info = view.catalog.get(name)
    if info is not None and info.hash == digest:
        del view.catalog[name]
    view.address_book.drop(name)


def forget_uncataloged(view: NetworkView) -> None:
    """After a `welcome`: the map keeps no file the catalog lacks (removed while we were away)."""
    for name in [n for n in view.address_book.as_map() if n not in view.catalog]:
        view.address_book.drop(name)
