"""The database peer's side of the game: the lobby, rounds over time, treasure, saved scores.

Rules come from `rules.py`; this module adds time and persistence. A find is checked in
`finds.py` (proof of possession against the vault's copy), a map in `maps.py`, and a round that
ends is counted in `ending.py`. Who held what before a round comes from the host's own records
(published, served by the vault, found, planted), kept in the store. The running round is kept
in the store too (`saved.py`): a host that crashes and comes back goes on with it, once a player
is back, with the time it had left.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import astuple, dataclass

import trio

from ..proto import (
    Challenge,
    MapEntry,
    PeerInfo,
    Proof,
    Scored,
)
from ..storage.interfaces import MetadataStore
from . import finds, rules, saved
from .ending import end_round
from .evening import Evening
from .maps import RECHECK_SECONDS, MapCounts
from .records import PlayerRecord, Records, stored
from .settings import GameSettings
from .treasure import Treasury, treasure_bytes, treasure_name

log = logging.getLogger("rp2p.hunt")


@dataclass(frozen=True)
class Online:
    """What the host needs to know of a player in the game right now."""

    peer: PeerInfo
    holdings: frozenset[str]
    """The catalog files it seeds now (what it published, matching the catalog)."""
    map_size: int
    """Entries of its map the host checked true."""


class HuntHost:
    """Runs the evening: a lobby, then rounds forever; credits proven finds and checked maps."""

    def __init__(
        self,
        store: MetadataStore,
        treasury: Treasury,
        *,
        settings: GameSettings,
        min_players: int = 2,
        lobby_seconds: float | None = None,
        rng: random.Random | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.treasury = treasury
        self.settings = settings
        self.min_players = min_players
        self.lobby_seconds = lobby_seconds
        """The countdown before the first round (None: the pause between rounds)."""
        self.rng = rng or random.Random()
        self.on_change = on_change
        self.players: dict[str, PlayerRecord] = {}
        self.records = Records(store)
        self.treasure: dict[str, tuple[bytes, int]] = {}
        """Planted files in the catalog: name -> (hash, round planted)."""
        self.rounds = 0
        """The number of the latest round (they go on counting across restarts)."""
        self.round: rules.Round | None = None
        self.round_version = 0
        """Bumped whenever the round changes; sessions push the new `RoundState`."""
        self.lobby_version = 0
        self.starts_at: float | None = None
        """When the next round starts (None: waiting for players, or playing)."""
        self.ready: set[str] = set()
        self.playing = False
        """A round is running (between its start and its end)."""
        self.evening = Evening()
        self._wake = trio.Event()
        self.nonces: dict[tuple[str, str], bytes] = {}
        """The open challenges: (player, file) -> the nonce its proof must use."""
        self._unsaved: set[str] = set()  # records a store outage held back: saved next time
        self._online: Callable[[], Mapping[str, Online]] | None = None
        self._playing: trio.CancelScope | None = None
        """The running round's scope (it keeps the round saved to resume it)."""
        self._cut: rules.Round | None = None
        """The round the host cut short as it stops."""
        self.maps = MapCounts()
        """Each player's true map entries (what the scoreboard shows as its map)."""

    def evening_number(self) -> int:
        """This evening's name for the players (`Lobby.evening`): the number of its first
        round, counted, running or next."""
        if self.evening.first > 0:
            return self.evening.first
        if self.round is not None and self.playing:
            return self.round.number
        return self.rounds + 1

    async def load(self) -> None:
        """The game from the store: at start, and when this database peer starts hosting
        (the settings as set, the evening so far, the scores and records)."""
        saved = await trio.to_thread.run_sync(self.store.load_players)
        self.players = {name: PlayerRecord(*row) for name, row in saved.items()}
        await self.records.load()
        self.treasure = await trio.to_thread.run_sync(self.store.load_treasure)
        self.rounds = await trio.to_thread.run_sync(self.store.rounds_played)
        self.apply_settings(await trio.to_thread.run_sync(self.store.load_settings))
        self.evening = Evening.replayed(await trio.to_thread.run_sync(self.store.load_evening))

    def poke(self, *, round_changed: bool = False) -> None:
        """Something changed (a publish, a file cataloged; the pool: `round_changed`)."""
        self.maps.holdings_changed()
        self.round_version += round_changed
        self._wake.set()

    def changed(self, *, round_changed: bool = False, lobby_changed: bool = False) -> None:
        """The scoreboard (with `round_changed`, the round too) may have changed: say so."""
        self.round_version += round_changed
        self.lobby_version += lobby_changed
        self.on_change()
        self._wake.set()

    async def _wait_for_change(self) -> None:
        await self._wake.wait()
        self._wake = trio.Event()

    # ----------------------------------------------------------------------- rounds

    async def run(self, online: Callable[[], Mapping[str, Online]]) -> None:
        self._online = online
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.records.keep)
            nursery.start_soon(self._recount_maps, online)
            first = True
            if (resumed := await self._resume(online)) is not None:
                first = False
                await self._play(resumed, online)
            while self._cut is None:
                if len(online()) < self.min_players:
                    self._set_countdown(None)
                    await self._wait_for_change()
                    continue
                if not await self._count_down(online, first=first):
                    continue
                first = False
                current = await self._start_round(online())
                await self._play(current, online)
            await trio.sleep_forever()  # cut short: the host is stopping

    def _set_countdown(self, starts_at: float | None) -> None:
        if starts_at != self.starts_at:
            self.starts_at = starts_at
            self.changed(lobby_changed=True)

    async def _count_down(self, online: Callable[[], Mapping[str, Online]], *, first: bool) -> bool:
        """Wait out the countdown to the next round; False if too few players are left."""
        began = trio.current_time()
        all_ready_at: float | None = None
        while True:
            players = online()
            if len(players) < self.min_players:
                return False
            now = trio.current_time()
            seconds = self.settings.pause_seconds
            if first and self.lobby_seconds is not None:
                seconds = self.lobby_seconds
            starts_at = began + seconds
            if all(name in self.ready for name in players):
                all_ready_at = now if all_ready_at is None else all_ready_at
                starts_at = min(starts_at, all_ready_at + rules.READY_SECONDS)
            else:
                all_ready_at = None
            self._set_countdown(starts_at)
            if now >= starts_at:
                return True
            with trio.move_on_at(starts_at):
                await self._wait_for_change()

    async def _start_round(self, players: Mapping[str, Online]) -> rules.Round:
        number = self.rounds + 1
        await self._expire(number)
        listed = self.treasury.catalog()
        catalog = {name: info.hash for name, info in listed.items()}
        huntable = {name: info.hash for name, info in listed.items()
                    if info.size >= rules.MIN_TARGET_BYTES}  # fmt: skip
        plan = rules.plan_round(
            {name: self.records.before(name, number) for name in players}, huntable, self.rng,
            targets=self.settings.targets, treasure=self.settings.treasure,
        )  # fmt: skip
        pool: dict[str, bytes] = {}
        planted: dict[str, list[str]] = {}
        for seeders in plan.treasure:
            name = treasure_name(self.rng, number, set(catalog) | set(pool))
            info = await self.treasury.bury(name, treasure_bytes(self.rng), number)
            if info is None:  # a store is down: the round goes on with the catalog's files
                break
            pool[name] = info.hash
            self.treasure[name] = (info.hash, number)
            for seeder in seeders:
                planted.setdefault(seeder, []).append(name)
                self.records.note(seeder, [info.hash], "planted", number)
        treasure = frozenset(pool)
        pool.update((name, catalog[name]) for name in plan.ordinary)
        # From here to the start, no waiting: what was published meanwhile is held before.
        held = {name: self.records.before(name, number) for name in players}
        for seeder, names in planted.items():
            held[seeder].update(pool[name] for name in names)
        now = trio.current_time()
        self.rounds = number
        self.round = current = rules.Round(
            number, pool, now, now + self.settings.round_seconds, held_before=held,
            treasure=treasure,
        )  # fmt: skip
        for seeder, names in planted.items():
            self.treasury.hand_out(seeder, names)
        self.ready.clear()
        self.records.new_round()
        self.nonces.clear()
        self.starts_at = None
        self.playing = True
        targets = ", ".join(f"{p} {len(current.targets_for(p))}" for p in sorted(players))
        log.info("round %d started: %d files (%d planted), %g s; targets: %s", number,
                 len(pool), len(treasure), self.settings.round_seconds, targets)  # fmt: skip
        self.changed(round_changed=True, lobby_changed=True)
        await stored(self.store.save_rounds, number, what="the round count")
        return current

    async def _expire(self, number: int) -> None:
        """Dig up the treasure whose time is up when round `number` starts."""
        planted = {name: at for name, (_, at) in self.treasure.items()}
        gone = rules.expired(planted, number, self.settings.treasure_rounds)
        if not gone:
            return
        catalog = self.treasury.catalog()
        files = [catalog[name] for name in gone if name in catalog]
        if not await self.treasury.dig_up(files, number):
            return  # a store is down: dug up at a later round's start
        self.records.forget({self.treasure.pop(name)[0] for name in gone})
        self.maps.holdings_changed()
        log.info("treasure expired: %s", ", ".join(gone))

    async def _resume(self, online: Callable[[], Mapping[str, Online]]) -> rules.Round | None:
        """The round that ran when the host stopped, going on once a player is back."""
        if not await trio.to_thread.run_sync(self.store.load_running_round):
            return None
        while not online():
            await self._wait_for_change()
        if (loaded := await saved.load(self.store)) is None:  # going on from now: the time
            return None  # away is not counted
        current, left = loaded
        self.round, self.rounds, self.playing = current, max(self.rounds, current.number), True
        log.info("round %d resumed with %.0f s left", current.number, left)
        self.changed(round_changed=True, lobby_changed=True)
        return current

    async def _play(self, current: rules.Round, online: Callable[[], Mapping[str, Online]]) -> None:
        async with trio.open_nursery() as nursery:
            self._playing = nursery.cancel_scope
            nursery.start_soon(saved.keep_saving, self.store, current)
            with trio.move_on_at(current.ends_at):
                while not current.is_over(trio.current_time(), online()):
                    await self._wait_for_change()
            nursery.cancel_scope.cancel()
        if self._cut is current:  # the host stops: `cut_short` ends it
            return
        await end_round(self, current, list(online()))
        self.changed(round_changed=True)

    async def cut_short(self) -> int | None:
        """The host stops mid-round: the round ends now, counted in the evening as cut short
        (its points count, nobody wins it). Its number, or None if no round was running."""
        current = self.round
        if current is None or not self.playing or self._online is None:
            return None
        self._cut = current
        if self._playing is not None:
            self._playing.cancel()  # no more saving it to resume: this evening is over
        await end_round(self, current, list(self._online()), cut_short=True)
        self.changed(round_changed=True)  # its players are told before the evening is over
        return current.number

    def roster_changed(self, name: str | None = None) -> None:
        """A player joined or left: the scoreboard and the lobby changed."""
        if name is not None:
            self.players.setdefault(name, PlayerRecord())
        self.maps.holdings_changed()
        self.changed(lobby_changed=True)

    def player_ready(self, name: str) -> None:
        if name not in self.ready:
            self.ready.add(name)
            self.changed(lobby_changed=True)

    async def change_setting(self, key: str, value: str) -> dict[str, str]:
        """Change a setting now and for good, kept in the store first (raises ValueError, or
        StoreUnavailable: then nothing changed): a round running keeps its length."""
        key = key.replace("_", "-")
        self.settings.changed(key, value)
        await trio.to_thread.run_sync(self.store.save_settings, {key: value})
        self.apply_settings({key: value})
        return self.settings.as_text()

    def apply_settings(self, values: Mapping[str, str]) -> None:
        """Settings kept in the store (read from it, or told another database peer set them)."""
        settings, problems = self.settings.with_values(values)
        for problem in problems:
            log.warning("a kept setting is left out: %s", problem)
        if settings != self.settings:
            changed = settings.as_text().items() - self.settings.as_text().items()
            self.settings = settings
            for key, value in sorted(changed):
                log.info("setting %s is now %s", key, value)
            self.changed(lobby_changed=True)

    # ----------------------------------------------------------------- holdings, maps

    def arrived(self, name: str) -> None:
        """A player's session began: during a round, what the records say it held before
        the round is not its target."""
        if self.round is not None and self.playing:
            self.round.admit(name, self.records.before(name, self.round.number))
        self.roster_changed(name)

    def first_publish(self, name: str, held: Iterable[bytes]) -> None:
        """The first publish of a session: what a player brings when it joins during a round
        it held before any find it could claim."""
        held = list(held)
        if self.round is not None and self.playing:
            self.round.admit(name, held)
            self.changed(round_changed=True)
        self.published(name, held)

    def published(self, name: str, held: Iterable[bytes]) -> None:
        self.records.note(name, held, "published", self.rounds)
        self.maps.holdings_changed()

    def served_from_vault(self, player: str, name: str, offset: int, sent: int) -> None:
        """The vault sent `player` `sent` bytes of `name` from `offset`."""
        self.records.vault_sent(player, name, sent)
        info = self.treasury.catalog().get(name)
        if info is not None and offset + sent >= info.size:
            self.records.note(player, [info.hash], "vault", self.rounds)

    def report_map(
        self, player: str, entries: list[MapEntry], online: Callable[[], Mapping[str, Online]]
    ) -> int:
        """A player's map: how many entries are true (only those score)."""
        true = self.maps.count(player, entries, online)
        self._map_counted(player, true)
        return true

    async def _recount_maps(self, online: Callable[[], Mapping[str, Online]]) -> None:
        """Maps that named players not back yet count once those players publish."""
        while True:
            await trio.sleep(RECHECK_SECONDS)
            for player, true in self.maps.recount(online).items():
                self._map_counted(player, true)

    def _map_counted(self, player: str, true: int) -> None:
        current = self.round
        now = trio.current_time()
        scored = bool(
            current and self.playing and current.score_map(player, rules.map_points(true), now)
        )
        self.changed(round_changed=scored)  # the scoreboard shows the map's size

    # ------------------------------------------------------------------------ finds

    def claim(self, player: str, name: str) -> Challenge | Scored:
        """A player says it found `name`: challenge it, or say why it cannot score."""
        return finds.challenge(self, player, name)

    async def check_proof(
        self, player: str, proof: Proof, prove: Callable[[bytes], bytes], size: int
    ) -> Scored:
        """Credit the find if the proof matches `prove(nonce)`, the vault's copy's (blocking)."""
        return await finds.check_proof(self, player, proof, prove, size)

    async def save_player(self, name: str) -> None:
        self._unsaved.add(name)
        for player in sorted(self._unsaved):
            row = astuple(self.players[player])
            if not await stored(self.store.save_player, player, *row, what="scores"):
                return
            self._unsaved.discard(player)
