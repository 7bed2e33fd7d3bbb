"""What the host knows of who held what, and when: the ground for "held before the round".

A proof of possession shows that a player holds some content, not that it found it in this
round. So the host keeps its own record of every player's content (published, served by the
vault, found, planted), stamped with the round it was first seen in, in the store: a catalog
file scores only for a player with no record of it from before the round. It also counts the
bytes its vault served to each player this round, which says whether a find came from the vault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import trio

from ..storage.interfaces import MetadataStore, StoreUnavailable

log = logging.getLogger("rp2p.hunt")

RETRY_SECONDS = 5.0
"""How long records wait to be written again after the store failed."""


async def stored(call: Callable[..., object], *args: object, what: str) -> bool:
    """Run a store write in a worker thread; False, with a warning, if the store is down (the
    caller keeps what it wanted written and tries again later)."""
    try:
        await trio.to_thread.run_sync(call, *args)
    except StoreUnavailable as exc:
        log.warning("%s not saved yet: %s", what, exc)
        return False
    return True


class Records:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.held: dict[str, dict[bytes, int]] = {}
        """Player -> content hash -> the round in which the host first saw it held."""
        self._vault_bytes: dict[tuple[str, str], int] = {}
        self._unsaved: list[tuple[str, bytes, int, str]] = []
        self._wake = trio.Event()

    async def load(self) -> None:
        self.held = await trio.to_thread.run_sync(self.store.load_holdings)

    def note(self, player: str, digests: Iterable[bytes], how: str, number: int) -> None:
        """`player` holds `digests` (seen in round `number`: `how` = published, vault, found
        or planted); only the first sighting of each is kept."""
        held = self.held.setdefault(player, {})
        fresh = [d for d in digests if d not in held]
        for digest in fresh:
            held[digest] = number
            self._unsaved.append((player, digest, number, how))
        if fresh:
            self._wake.set()

    def before(self, player: str, number: int) -> set[bytes]:
        """The content the host saw `player` hold before round `number` began."""
        return {d for d, at in self.held.get(player, {}).items() if at < number}

    def forget(self, digests: set[bytes]) -> None:
        """Content that is gone for good (expired treasure): no record needed."""
        for held in self.held.values():
            for digest in digests & held.keys():
                del held[digest]

    async def keep(self) -> None:
        """Write new records to the store, in batches, for as long as the host runs."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            rows, self._unsaved = self._unsaved, []
            try:
                await trio.to_thread.run_sync(self.store.record_holdings, rows)
            except StoreUnavailable as exc:  # kept here, and written when it answers again
                self._unsaved = rows + self._unsaved
                log.warning("%d records not saved yet: %s", len(self._unsaved), exc)
                await trio.sleep(RETRY_SECONDS)
                self._wake.set()

    # -------------------------------------------------------------------- the vault

    def new_round(self) -> None:
        self._vault_bytes.clear()

    def vault_sent(self, player: str, name: str, count: int) -> None:
        key = (player, name)
        self._vault_bytes[key] = self._vault_bytes.get(key, 0) + count

    def mostly_from_vault(self, player: str, name: str, size: int) -> bool:
        """Most of the bytes `player` has of `name` came from the vault (this round)."""
        served = self._vault_bytes.get((player, name))
        if served is None:
            return False
        return served * 2 > size or size == 0


@dataclass
class PlayerRecord:
    """A player's totals over the whole game, as the store keeps them."""

    score: int = 0
    files_found: int = 0
    wins: int = 0
