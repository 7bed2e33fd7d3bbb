"""What a player does for the hunt over its session: prove a find, report its map.

Run as tasks of the session (`session.py`), so a slow disk never holds up its other pushes.
"""

from __future__ import annotations

import trio

from ..net.channel import Channel
from ..proto import MAX_MAP_REPORT, Challenge, Proof, Stats
from ..storage.share import possession_proof
from . import events
from .view import NetworkView

MAP_REPORT_PAUSE = 0.2
"""The map is reported at most this often."""


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


class MapReports:
    """Keeps the host's copy of our map current (it checks the entries and scores the true
    ones), at most a few messages a second."""

    def __init__(self, view: NetworkView) -> None:
        self.view = view
        self._news = trio.Event()
        view.bus.subscribe(self._on_event)

    def _on_event(self, event: events.Event) -> None:
        if isinstance(event, events.MapChanged):
            self._news.set()

    async def run(self, channel: Channel) -> None:
        reported: list[tuple[str, str]] | None = None
        while True:
            book = self.view.address_book
            entries = sorted((name, peer.name) for name, peers in book.as_map().items()
                             for peer in peers)[:MAX_MAP_REPORT]  # fmt: skip
            if entries != reported:
                reported = entries
                await channel.send(Stats(map_size=len(book), entries=entries))
            await self._news.wait()
            await trio.sleep(MAP_REPORT_PAUSE)
            self._news = trio.Event()
