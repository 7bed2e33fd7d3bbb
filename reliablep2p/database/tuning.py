"""The game's settings of a network: `rp2p-db set KEY VALUE`, and the options a database peer
is started with. Both are kept in the store, so they outlast the host: a restarted host, or
another database peer taking over the rounds, goes on with them. With several database peers,
the one that changed a setting tells the others over the bus (`SettingsChanged`); any of them
takes a `set`. Precedence: the latest wins, and a database peer's game options on its
command line count as set when it starts (those left out keep what was set before).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import trio

from ..game.host import HuntHost
from ..net.channel import Channel
from ..net.identity import ADMIN_NAME
from ..proto import ChangeSetting, ErrorCode, Hello, RemoteProtocolError, Settings
from ..storage.interfaces import MetadataStore, StoreUnavailable

log = logging.getLogger("rp2p.db")


class Tuning:
    def __init__(
        self,
        store: MetadataStore,
        hunt: HuntHost,
        *,
        secure: bool,
        given: Mapping[str, str],
        tell_others: Callable[[dict[str, str]], None] = lambda values: None,
    ) -> None:
        self.store = store
        self.hunt = hunt
        self.secure = secure
        self.given = dict(given)
        """The game options on this database peer's command line (key as typed -> value)."""
        self.tell_others = tell_others

    async def keep_given(self) -> None:
        """At start, before the game is loaded: the options given override what was set
        (raises StoreUnavailable)."""
        if self.given:
            await trio.to_thread.run_sync(self.store.save_settings, self.given)
            self.tell_others(self.given)

    async def serve_setting(self, channel: Channel, hello: Hello, request: ChangeSetting) -> None:
        """`rp2p-db set KEY VALUE`: the network's game changes now and for good (the host's
        admin tool only)."""
        if not self.secure or hello.name != ADMIN_NAME:
            raise RemoteProtocolError(ErrorCode.FORBIDDEN, "only the host's admin tool may set")
        try:
            values = await self.hunt.change_setting(request.key, request.value)
        except ValueError as exc:
            raise RemoteProtocolError(ErrorCode.MALFORMED, str(exc)) from None
        except StoreUnavailable as exc:
            raise StoreUnavailable(f"the setting cannot be kept now: {exc.detail}") from None
        self.tell_others({request.key.replace("_", "-"): request.value})
        await channel.send(Settings(values))
