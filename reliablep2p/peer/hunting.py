"""What a player does for the hunt when its database peer asks: prove a find, drop treasure.

Run as tasks of the session (`session.py`), so a slow disk never holds up its other pushes.
"""

from __future__ import annotations

import trio

from ..net.channel import Channel
from ..proto import Challenge, Expired, Proof
from ..storage.share import possession_proof
from . import events
from .backup import Publisher
from .view import NetworkView


async def forget_expired(view: NetworkView, publisher: Publisher, expired: Expired) -> None:
    """Treasure whose time is up: out of the catalog, the map and the share."""
    for name, digest in zip(expired.names, expired.hashes, strict=False):
        info = view.catalog.get(name)
        if info is not None and info.hash == digest:
            del view.catalog[name]
        view.address_book.drop(name)
        publisher.forget(name)
        if view.share is not None:
            await trio.to_thread.run_sync(view.share.discard, name, digest)
    view.bus.emit(events.TreasureExpired(tuple(expired.names)))
    if view.share is not None:
        view.bus.emit(events.SeedingChanged(tuple(sorted(view.share.files()))))
    view.map_changed()


async def answer_challenge(view: NetworkView, channel: Channel, challenge: Challenge) -> None:
    """Prove we hold the bytes of a find we claimed."""
    source = view.file_source(challenge.name)
    if source is None:
        return  # we no longer hold it: no proof, no points
    try:
        digest = await trio.to_thread.run_sync(possession_proof, source[1], challenge.nonce)
    except OSError:
        return  # deleted since: no proof, no points
    await channel.send(Proof(challenge.name, challenge.nonce, digest))
