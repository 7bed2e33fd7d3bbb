"""The database peer's side of the game: hosting rounds, checking claimed finds, the scoreboard.

Rules come from `rules.py`; this module adds time, proof of possession and persistence. A find is
credited only after the player answers a fresh random nonce with SHA-256(nonce + file bytes),
checked against the vault's copy. Whether the player fell back to the vault is not taken from the
player: the database peer knows which files it served to whom during the round. The running
round is kept in the store (`saved.py`): a host that crashes and comes back goes on with it,
once a player is back, with the time it had left.
"""

from __future__ import annotations

import hmac
import logging
import random
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec
import trio

from ..proto import (
    Challenge,
    FoundBy,
    PeerInfo,
    PlayerStats,
    Proof,
    RoundState,
    Scored,
)
from ..storage.share import possession_proof
from ..storage.sqlite import SqliteStore
from . import rules, saved
from .board import ranked

log = logging.getLogger("rp2p.hunt")

CHECKPOINT_SECONDS = 1.0
"""The running round's time left is saved this often: a crash gives it back at most this much."""


@dataclass
class PlayerRecord:
    score: int = 0
    files_found: int = 0
    wins: int = 0


@dataclass(frozen=True)
class Online:
    """What the host needs to know of a player in the network right now."""

    peer: PeerInfo
    holdings: frozenset[str]
    map_size: int


class HuntHost:
    """Runs rounds forever: waits for players, picks targets, credits proven finds."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        round_seconds: float,
        pause_seconds: float,
        min_players: int = 2,
        lobby_seconds: float = 3.0,
        targets: int = rules.TARGETS_PER_ROUND,
        rng: random.Random | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.round_seconds = round_seconds
        self.pause_seconds = pause_seconds
        self.min_players = min_players
        self.lobby_seconds = lobby_seconds
        """Once a round could start, wait this long so that players joining together all play."""
        self.targets = targets
        self.rng = rng or random.Random()
        self.on_change = on_change
        self.players: dict[str, PlayerRecord] = {}
        self.round: rules.Round | None = None
        self.round_version = 0
        """Bumped whenever the round changes; sessions push the new `RoundState`."""
        self._wake = trio.Event()
        self._vault_served: set[tuple[str, str]] = set()
        self._nonces: dict[tuple[str, str], bytes] = {}

    async def load(self) -> None:
        saved = await trio.to_thread.run_sync(self.store.load_players)
        self.players = {name: PlayerRecord(*row) for name, row in saved.items()}

    def poke(self) -> None:
        """Something changed (a join, a leave, a publish): maybe a round can start now."""
        self._wake.set()

    def _changed(self, *, round_changed: bool) -> None:
        """The scoreboard may have changed (`on_change`: the database peer rebuilds it), and
        with `round_changed` the round too."""
        if round_changed:
            self.round_version += 1
        self.on_change()
        self._wake.set()

    async def _wait_for_change(self) -> None:
        await self._wake.wait()
        self._wake = trio.Event()

    # ----------------------------------------------------------------------- rounds

    async def run(
        self,
        online: Callable[[], Mapping[str, Online]],
        catalog: Callable[[], Collection[str]],
    ) -> None:
        number = 0
        if (resumed := await self._resume(online)) is not None:
            number = resumed.number
            await self._play(resumed)
            await trio.sleep(self.pause_seconds)
        while True:
            holdings, targets = self._candidates(online, catalog)
            if not targets:
                await self._wait_for_change()
                continue
            if self.lobby_seconds:
                await trio.sleep(self.lobby_seconds)
                holdings, targets = self._candidates(online, catalog)
                if not targets:
                    continue
            number += 1
            now = trio.current_time()
            self.round = rules.Round(
                number, targets, now, now + self.round_seconds, held_at_start=holdings
            )
            self._vault_served.clear()
            self._nonces.clear()
            log.info("round %d started: %s (%g s)", number, ", ".join(targets), self.round_seconds)
            self._changed(round_changed=True)
            await self._play(self.round)
            await trio.sleep(self.pause_seconds)

    def _candidates(
        self,
        online: Callable[[], Mapping[str, Online]],
        catalog: Callable[[], Collection[str]],
    ) -> tuple[dict[str, frozenset[str]], list[str]]:
        """What each player holds and what they would hunt if a round started now (none: wait).

        Called on every join while no round runs: with an empty catalog it skips `online()`,
        which costs O(players), so a join storm into a new network stays O(N).
        """
        files = catalog()
        if not files:
            return {}, []
        players = online()
        holdings = {name: p.holdings for name, p in players.items()}
        if len(players) < self.min_players:
            return holdings, []
        return holdings, rules.pick_targets(holdings, files, self.rng, self.targets)

    async def _resume(self, online: Callable[[], Mapping[str, Online]]) -> rules.Round | None:
        """The round that ran when the host stopped, going on once a player is back."""
        data = await trio.to_thread.run_sync(self.store.load_running_round)
        if data is None:
            return None
        while not online():
            await self._wait_for_change()
        try:
            current, self._vault_served, left = saved.restore(data, trio.current_time())
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("the saved round cannot be read (%s): a new one will start", exc)
            await trio.to_thread.run_sync(self.store.save_running_round, None)
            return None
        self.round = current
        log.info("round %d resumed: %s (%.0f s left)", current.number,
                 ", ".join(current.targets), left)  # fmt: skip
        self._changed(round_changed=True)
        return current

    async def _play(self, current: rules.Round) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._checkpoints, current)
            with trio.move_on_at(current.ends_at):
                while not current.is_over(trio.current_time()):
                    await self._wait_for_change()
            nursery.cancel_scope.cancel()
        winner = current.winner()
        if winner is not None:
            self.players.setdefault(winner, PlayerRecord()).wins += 1
        await trio.to_thread.run_sync(self.store.save_running_round, None)  # over: not resumed
        if winner is not None:
            await self._save(winner)
        log.info("round %d over: %s", current.number, f"{winner} wins" if winner else "no finds")
        self._changed(round_changed=True)

    async def _checkpoints(self, current: rules.Round) -> None:
        while True:
            await self._save_round(current)
            await trio.sleep(CHECKPOINT_SECONDS)

    async def _save_round(self, current: rules.Round) -> None:
        data = saved.snapshot(current, trio.current_time(), self._vault_served)
        await trio.to_thread.run_sync(self.store.save_running_round, data)

    def round_state(self) -> RoundState | None:
        current = self.round
        if current is None:
            return None
        now = trio.current_time()
        over = current.is_over(now)
        return RoundState(
            number=current.number,
            targets=list(current.targets),
            seconds_left=0.0 if over else current.time_left(now),
            finds=[
                FoundBy(f.player, f.target, f.points, f.from_vault, f.first) for f in current.finds
            ],
            over=over,
            winner=(current.winner() or "") if over else "",
        )

    def scoreboard(self, online: Mapping[str, Online]) -> list[PlayerStats]:
        rows = []
        for name in sorted(set(self.players) | set(online)):
            record = self.players.get(name, PlayerRecord())
            here = online.get(name)
            rows.append(
                PlayerStats(
                    name=name,
                    host=here.peer.host if here else "",
                    port=here.peer.port if here else 0,
                    score=record.score,
                    files_found=record.files_found,
                    map_size=here.map_size if here else 0,
                    online=here is not None,
                    wins=record.wins,
                )
            )
        return ranked(rows)

    def roster_changed(self, name: str | None = None) -> None:
        """A player joined or left, or its map grew: the scoreboard changed."""
        if name is not None:
            self.players.setdefault(name, PlayerRecord())
        self._changed(round_changed=False)

    # ------------------------------------------------------------------------ finds

    def served_from_vault(self, player: str, name: str) -> None:
        self._vault_served.add((player, name))

    def claim(self, player: str, name: str) -> Challenge | Scored:
        """A player says it found `name`: challenge it, or say why it cannot score."""
        current = self.round
        problem = (
            current.claim_problem(player, name, trio.current_time())
            if current
            else "no round is running"
        )
        if problem:
            log.info("claim by %s for %s refused: %s", player, name, problem)
            return Scored(name, 0, problem)
        nonce = secrets.token_bytes(32)
        self._nonces[(player, name)] = nonce
        return Challenge(name, nonce)

    async def check_proof(self, player: str, proof: Proof, blob: Path) -> Scored:
        """Credit the find if the proof matches the vault's copy for the nonce we sent."""
        nonce = self._nonces.pop((player, proof.name), None)
        current = self.round
        if nonce is None or not hmac.compare_digest(nonce, proof.nonce) or current is None:
            log.info("proof by %s for %s refused: no such challenge", player, proof.name)
            return Scored(proof.name, 0, "no open challenge for that find")
        expected = await trio.to_thread.run_sync(possession_proof, blob, nonce)
        if not hmac.compare_digest(expected, proof.digest):
            log.info("proof by %s for %s refused: wrong proof", player, proof.name)
            return Scored(proof.name, 0, "the proof does not match the file")
        now = trio.current_time()
        problem = current.claim_problem(player, proof.name, now)
        if problem:
            return Scored(proof.name, 0, problem)
        from_vault = (player, proof.name) in self._vault_served
        find = current.credit(player, proof.name, from_vault=from_vault, now=now)
        record = self.players.setdefault(player, PlayerRecord())
        record.score += find.points
        record.files_found += 1
        await self._save(player)
        await self._save_round(current)
        log.info("%s found %s: +%d%s", player, find.target, find.points,
                 " (first!)" if find.first else "")  # fmt: skip
        self._changed(round_changed=True)
        how = "from the vault" if from_vault else "from a peer"
        bonus = f", first-finder bonus {rules.FIRST_BONUS}" if find.first else ""
        return Scored(proof.name, find.points, f"+{find.points} for {proof.name} ({how}{bonus})")

    async def _save(self, name: str) -> None:
        record = self.players[name]
        await trio.to_thread.run_sync(
            self.store.save_player, name, record.score, record.files_found, record.wins
        )
