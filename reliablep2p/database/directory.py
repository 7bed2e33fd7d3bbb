"""The database peers that share one metadata store, and where players reach each of them.

Each database peer writes the addresses players reach it at into the store's `database_peers`
table every `HEARTBEAT_SECONDS`, and reads back the live ones (those written within
`STALE_SECONDS`, by the store's own clock, so machines whose clocks differ agree). Players are
told the list in `welcome` and again whenever it changes (`database_peers`), so a player whose
database peer dies knows where else to go. With the embedded SQLite store it is this one alone.
A store that cannot be reached for a while costs nothing but stale news: the last list stays.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import suppress

import trio

from ..net.discovery import lan_addresses, lan_interfaces
from ..peer.peerlist import Addr
from ..proto import MAX_DATABASE_PEERS
from ..storage.interfaces import MetadataStore, StoreUnavailable

log = logging.getLogger("rp2p.db")

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 15.0
"""A database peer not heard of for this long is not listed (it died, or lost the store)."""
FORGET_TIMEOUT = 2.0
"""How long a stopping database peer tries to take itself off the list."""


def reachable_addresses(host: str, port: int) -> list[Addr]:
    """Where players reach a database peer listening on `host`: that address, or, listening
    on all, this machine's LAN addresses (its own loopback one if it has no other)."""
    if host not in ("", "0.0.0.0", "::"):
        return [(host, port)]
    return [(address, port) for address in lan_addresses(lan_interfaces(host))]


class DatabaseDirectory:
    """Keeps this database peer in the store's list, and `live` the list as it was last read."""

    def __init__(
        self,
        store: MetadataStore,
        addresses: Callable[[], list[Addr]],
        changed: Callable[[], None],
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale: float = STALE_SECONDS,
    ) -> None:
        self.store = store
        self.addresses = addresses
        """Where players reach us now (looked up at every heartbeat: an address may change)."""
        self.changed = changed
        """Called when `live` changed, to push it to the players."""
        self.heartbeat = heartbeat
        self.stale = stale
        self.peer_id = secrets.token_hex(8)
        self.own: list[Addr] = []
        self.live: list[Addr] = []
        """Every live database peer's addresses, ours first."""
        self.failing = False
        """The store could not be reached at the last heartbeat."""
        self._soon = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Beat until cancelled; the first beat is done before `started` (the welcome has it);
        a clean stop takes our addresses off the list at once."""
        try:
            await self.beat()
            task_status.started()
            while True:
                with trio.move_on_after(self.heartbeat):
                    await self._soon.wait()
                self._soon = trio.Event()
                await self.beat()
        finally:
            shielded = trio.CancelScope(shield=True)
            with shielded, trio.move_on_after(FORGET_TIMEOUT), suppress(StoreUnavailable):
                await trio.to_thread.run_sync(  # else our rows go stale by themselves
                    self.store.forget_database_peer, self.peer_id, abandon_on_cancel=True
                )

    def look_again(self) -> None:
        """Read the list now, not at the next heartbeat: another database peer just started, and
        a player joining meanwhile must hear of it before its own database peer can die."""
        self._soon.set()

    async def beat(self) -> None:
        self.own = await trio.to_thread.run_sync(self.addresses)
        try:
            await trio.to_thread.run_sync(self.store.register_database_peer, self.peer_id, self.own)
            listed = await trio.to_thread.run_sync(self.store.database_peers, self.stale)
        except StoreUnavailable as exc:
            if not self.failing:  # told once per outage, not at every heartbeat
                log.warning("cannot update the list of database peers: %s", exc.detail)
            self.failing = True
            listed = self.live
        else:
            if self.failing:
                log.info("the list of database peers is kept up to date again")
            self.failing = False
        live = [*self.own, *(a for a in listed if a not in self.own)][:MAX_DATABASE_PEERS]
        if live != self.live:
            others = [f"{h}:{p}" for h, p in live if (h, p) not in self.own]
            if self.live or others:
                log.info("database peers of this network: %s",
                         ", ".join(f"{h}:{p}" for h, p in live))  # fmt: skip
            self.live = live
            self.changed()
