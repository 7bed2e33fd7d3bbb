"""The running round as it is kept in the host's store, so a restarted host goes on with it.

What is kept is what the round needs to be played out fairly: its number, targets, what each
player held at its start, the finds so far and which files the vault served to whom, and the
time it had left. Times are kept as offsets into the round, so the time the host was away is
not counted: the round continues with the time it had left.
"""

from __future__ import annotations

import msgspec

from .rules import Find, Round


class SavedFind(msgspec.Struct, array_like=True):
    player: str
    target: str
    from_vault: bool
    into: float
    """Seconds into the round (round time: a pause is not counted)."""
    points: int
    first: bool


class SavedRound(msgspec.Struct):
    number: int
    targets: list[str]
    seconds_left: float
    length: float
    """The round's whole length (its `ends_at - started_at`)."""
    held_at_start: dict[str, list[str]]
    finds: list[SavedFind]
    vault_served: list[tuple[str, str]]


def snapshot(current: Round, now: float, vault_served: set[tuple[str, str]]) -> bytes:
    """`current` as bytes for the store, at time `now`."""
    saved = SavedRound(
        number=current.number,
        targets=list(current.targets),
        seconds_left=current.time_left(now),
        length=current.ends_at - current.started_at,
        held_at_start={name: sorted(held) for name, held in current.held_at_start.items()},
        finds=[
            SavedFind(
                f.player, f.target, f.from_vault, f.at - current.started_at, f.points, f.first
            )
            for f in current.finds
        ],
        vault_served=sorted(vault_served),
    )
    return msgspec.json.encode(saved)


def restore(data: bytes, now: float) -> tuple[Round, set[tuple[str, str]], float]:
    """The saved round, going on from `now` with the time it had left; which files the vault
    served to whom in it; and that time left. Raises `msgspec.DecodeError` if `data` is not
    a saved round."""
    saved = msgspec.json.decode(data, type=SavedRound)
    ends_at = now + saved.seconds_left
    started_at = ends_at - saved.length
    current = Round(
        saved.number,
        saved.targets,
        started_at,
        ends_at,
        held_at_start={name: frozenset(held) for name, held in saved.held_at_start.items()},
        finds=[
            Find(f.player, f.target, f.from_vault, started_at + f.into, f.points, f.first)
            for f in saved.finds
        ],
    )
    return current, {(p, n) for p, n in saved.vault_served}, saved.seconds_left
