"""Our side of the backup: tell the database peer what we seed, send the bytes it lacks.

An upload that fails is tried again by publishing the file again (the database peer then says
whether it still `need`s it), after 1, 2, 4 ... rescans, at most `RETRY_CAP_ROUNDS`, per file:
a database peer that cannot take a file (its disk is full) is not asked every rescan. The player
hears of it once per streak of failures (`BackupFailed`), and once more when it works
(`BackedUp` with the count of failed tries).
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from ..net.channel import Channel
from ..proto import FileInfo, ProtocolError, Publish, Stored, Upload
from . import events
from .dialer import Dialer
from .transfer import send_file
from .view import NetworkView

UPLOADS_AT_ONCE = 2
RETRY_CAP_ROUNDS = 64
"""The longest wait between two tries of one file, in rescans (~2 min at the default 2 s)."""


@dataclass
class _Failing:
    """A file whose uploads keep failing: when to try again."""

    hash: bytes
    failures: int = 0
    due: int | None = None
    """The round from which it may be published again; None while a try is under way."""


class Publisher:
    """Publishes new or changed files of the share; uploads those the database peer `Need`s."""

    def __init__(self, view: NetworkView, dialer: Dialer) -> None:
        self.view = view
        self.dialer = dialer
        self._published: dict[str, bytes] = {}
        """What this session was told: name -> content hash."""
        self._limiter = trio.CapacityLimiter(UPLOADS_AT_ONCE)
        self._failing: dict[str, _Failing] = {}
        self.rounds = 0
        """How many times we looked for something to publish (once per rescan)."""
        self.removed: set[bytes] = set()
        """Content the host removed: never published again (the file stays on disk)."""
        self._held_back: dict[str, bytes] = {}
        """Files of the share not published because the host removed their content (told once)."""

    def forget_published(self) -> None:
        """A new session knows nothing we published over the last one."""
        self._published.clear()

    def forget(self, name: str) -> None:
        """`name` left the share (expired treasure): publish it afresh if it comes back."""
        self._published.pop(name, None)

    def refuse(self, digest: bytes) -> None:
        """The host removed this content: never publish it again."""
        self.removed.add(digest)
        for name in [n for n, d in self._published.items() if d == digest]:
            del self._published[name]
            self._held_back[name] = digest  # the `removed` push is what we tell

    async def publish_changes(self, session: Channel, *, first: bool = False) -> None:
        """Publish what is new in the share; `first` (a new session) publishes even nothing,
        so the host knows what we hold before it counts us in a round."""
        share = self.view.share
        if share is None:
            return
        self.rounds += 1
        files = share.files()
        for name in [n for n, failing in self._failing.items() if _stale(failing, files.get(n))]:
            del self._failing[name]  # gone or changed: a new file, with a clean slate
        due = [n for n, failing in self._failing.items() if self._is_due(failing)]
        for name in due:
            self._failing[name].due = None  # its try is under way: the answer says what next
        fresh = [
            info
            for name, info in files.items()
            if (self._published.get(name) != info.hash or name in due)
            and not self._held_back_now(info)
        ]
        if fresh or first:
            for info in fresh:
                self._published[info.name] = info.hash
            await session.send(Publish(fresh))

    def _held_back_now(self, info: FileInfo) -> bool:
        """True for content the host removed; said once per file, unless we had it published
        (then the host's `removed` told us already)."""
        if info.hash not in self.removed:
            return False
        if self._held_back.get(info.name) != info.hash:
            self._held_back[info.name] = info.hash
            self.view.bus.emit(
                events.PublishRefused(info.name, "the host removed this file from the network")
            )
        return True

    def _is_due(self, failing: _Failing) -> bool:
        return failing.due is not None and self.rounds >= failing.due

    async def upload(self, name: str) -> None:
        """Send the database peer the bytes of a file it asked for."""
        share = self.view.share
        assert share is not None
        info = share.get(name)
        if info is None:
            return
        failing = self._failing.get(name)
        if failing is not None and failing.due is not None and not self._is_due(failing):
            return  # a new session asked before its turn: it is published again when due
        async with self._limiter:
            try:
                async with await self.dialer.open_database() as channel:
                    await channel.send(Upload(info))
                    await send_file(channel, share.path_of(name), 0, info.size)
                    await channel.receive_message(Stored)
            except ProtocolError as exc:
                self._failed(info, exc.detail)
                return
            except OSError as exc:  # our copy went away or cannot be read (the network's own
                self._failed(info, f"cannot read it: {exc.strerror}")  # errors are ProtocolError)
                return
        failed = self._failing.pop(name, None)
        self.view.bus.emit(events.BackedUp(name, failed.failures if failed else 0))

    def _failed(self, info: FileInfo, reason: str) -> None:
        failing = self._failing.get(info.name)
        if failing is None or failing.hash != info.hash:
            failing = self._failing[info.name] = _Failing(info.hash)
        failing.failures += 1
        wait = min(2 ** (failing.failures - 1), RETRY_CAP_ROUNDS)
        failing.due = self.rounds + wait
        if failing.failures == 1:
            self.view.bus.emit(events.BackupFailed(info.name, reason))


def _stale(failing: _Failing, now: FileInfo | None) -> bool:
    return now is None or now.hash != failing.hash
