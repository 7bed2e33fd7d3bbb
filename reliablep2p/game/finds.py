"""A find, checked: a claim is challenged with a fresh nonce, and credited only when the proof
(SHA-256 of the nonce and the file's bytes) matches the vault's copy.

Where the bytes came from is not taken from the player: the host counts what its vault served
to whom (`records.py`), so a find mostly from the vault scores less than one from a player.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from ..proto import Challenge, Proof, Scored
from . import rules, saved
from .records import PlayerRecord

if TYPE_CHECKING:
    from .host import HuntHost

log = logging.getLogger("rp2p.hunt")


def challenge(host: HuntHost, player: str, name: str) -> Challenge | Scored:
    """A player says it found `name`: challenge it, or say why it cannot score."""
    current = host.round
    problem = (
        current.claim_problem(player, name, trio.current_time())
        if current and host.playing
        else "no round is running"
    )
    if problem:
        log.info("claim by %s for %s refused: %s", player, name, problem)
        return Scored(name, 0, problem)
    nonce = secrets.token_bytes(32)
    host.nonces[(player, name)] = nonce
    return Challenge(name, nonce)


async def check_proof(
    host: HuntHost, player: str, proof: Proof, prove: Callable[[bytes], bytes], size: int
) -> Scored:
    """Credit the find if the proof matches `prove(nonce)`, the vault's copy's (blocking)."""
    nonce = host.nonces.pop((player, proof.name), None)
    current = host.round
    if nonce is None or not hmac.compare_digest(nonce, proof.nonce) or current is None:
        log.info("proof by %s for %s refused: no such challenge", player, proof.name)
        return Scored(proof.name, 0, "no open challenge for that find")
    if size < rules.MIN_TARGET_BYTES:  # a round planned before the rule, restored
        return Scored(proof.name, 0, f"{proof.name} is too small for a proof to prove anything")
    expected = await trio.to_thread.run_sync(prove, nonce)
    if not hmac.compare_digest(expected, proof.digest):
        log.info("proof by %s for %s refused: wrong proof", player, proof.name)
        return Scored(proof.name, 0, "the proof does not match the file")
    now = trio.current_time()
    problem = current.claim_problem(player, proof.name, now)
    if problem:
        return Scored(proof.name, 0, problem)
    from_vault = host.records.mostly_from_vault(player, proof.name, size)
    find = current.credit(player, proof.name, from_vault=from_vault, now=now)
    host.records.note(player, [current.pool[proof.name]], "found", host.rounds)
    record = host.players.setdefault(player, PlayerRecord())
    record.score += find.points
    record.files_found += 1
    await host.save_player(player)
    await saved.save(host.store, current)
    log.info("%s found %s: +%d%s", player, find.target, find.points,
             " (first!)" if find.first else "")  # fmt: skip
    host.changed(round_changed=True)
    how = "from the vault" if from_vault else "from a peer"
    bonus = f", first-finder bonus {rules.FIRST_BONUS}" if find.first else ""
    return Scored(proof.name, find.points, f"+{find.points} for {proof.name} ({how}{bonus})")
