"""Our side of the backup: tell the database peer what we seed, send the bytes it lacks."""

from __future__ import annotations

import trio

from ..net.channel import Channel
from ..proto import ProtocolError, Publish, Stored, Upload
from . import events
from .dialer import Dialer
from .transfer import send_file
from .view import NetworkView

UPLOADS_AT_ONCE = 2


class Publisher:
    """Publishes new or changed files of the share; uploads those the database peer `Need`s."""

    def __init__(self, view: NetworkView, dialer: Dialer) -> None:
        self.view = view
        self.dialer = dialer
        self._published: dict[str, bytes] = {}
        """What this session was told: name -> content hash."""
        self._limiter = trio.CapacityLimiter(UPLOADS_AT_ONCE)

    def forget_published(self) -> None:
        """A new session knows nothing we published over the last one."""
        self._published.clear()

    def forget(self, name: str) -> None:
        """`name` left the share (expired treasure): publish it afresh if it comes back."""
        self._published.pop(name, None)

    async def publish_changes(self, session: Channel, *, first: bool = False) -> None:
        """Publish what is new in the share; `first` (a new session) publishes even nothing,
        so the host knows what we hold before it counts us in a round."""
        share = self.view.share
        if share is None:
            return
        files = share.files()
        fresh = [info for name, info in files.items() if self._published.get(name) != info.hash]
        if fresh or first:
            for info in fresh:
                self._published[info.name] = info.hash
            await session.send(Publish(fresh))

    async def upload(self, name: str) -> None:
        """Send the database peer the bytes of a file it asked for."""
        share = self.view.share
        assert share is not None
        info = share.get(name)
        if info is None:
            return
        async with self._limiter:
            try:
                async with await self.dialer.open_database() as channel:
                    await channel.send(Upload(info))
                    await send_file(channel, share.path_of(name), 0, info.size)
                    await channel.receive_message(Stored)
                self.view.bus.emit(events.BackedUp(name))
            except ProtocolError as exc:
                self._published.pop(name, None)  # try again at the next rescan
                self.view.bus.emit(events.BackupFailed(name, exc.detail))
