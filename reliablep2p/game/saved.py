"""The running round as it is kept in the host's store, so a restarted host goes on with it.

What is kept is what the round needs to be played out fairly: its number, its pool, the planted
treasure, what each player held before it, the finds and map points so far, and the time it had
left. Times are kept as offsets into the round, so the time the host was away is not counted:
the round continues with the time it had left.
"""

from __future__ import annotations

import logging

import msgspec
import trio

from ..storage.interfaces import MetadataStore
from .records import stored
from .rules import Find, Round

log = logging.getLogger("rp2p.hunt")

CHECKPOINT_SECONDS = 1.0
"""The running round is saved this often (and at every find)."""


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
    pool: dict[str, bytes]
    seconds_left: float
    length: float
    """The round's whole length (its `ends_at - started_at`)."""
    held_before: dict[str, list[bytes]]
    treasure: list[str]
    finds: list[SavedFind]
    map_points: dict[str, int]


def snapshot(current: Round, now: float) -> bytes:
    """`current` as bytes for the store, at time `now`."""
    saved = SavedRound(
        number=current.number,
        pool=dict(current.pool),
        seconds_left=current.time_left(now),
        length=current.ends_at - current.started_at,
        held_before={name: sorted(held) for name, held in current.held_before.items()},
        treasure=sorted(current.treasure),
        finds=[
            SavedFind(
                f.player, f.target, f.from_vault, f.at - current.started_at, f.points, f.first
            )
            for f in current.finds
        ],
        map_points=dict(current.map_points),
    )
    return msgspec.msgpack.encode(saved)


def restore(data: bytes, now: float) -> tuple[Round, float]:
    """The saved round, going on from `now` with the time it had left, and that time. Raises
    `msgspec.DecodeError` (or `ValidationError`) if `data` is not a saved round."""
    saved = msgspec.msgpack.decode(data, type=SavedRound)
    ends_at = now + saved.seconds_left
    started_at = ends_at - saved.length
    current = Round(
        saved.number,
        saved.pool,
        started_at,
        ends_at,
        held_before={name: set(held) for name, held in saved.held_before.items()},
        treasure=frozenset(saved.treasure),
        finds=[
            Find(f.player, f.target, f.from_vault, started_at + f.into, f.points, f.first)
            for f in saved.finds
        ],
        map_points=dict(saved.map_points),
    )
    return current, saved.seconds_left


async def save(store: MetadataStore, current: Round | None) -> None:
    """Keep `current` in the store (None: no round runs, nothing to resume)."""
    data = None if current is None else snapshot(current, trio.current_time())
    await stored(store.save_running_round, data, what="the running round")  # next checkpoint


async def keep_saving(store: MetadataStore, current: Round) -> None:
    """Save `current` every `CHECKPOINT_SECONDS`, until cancelled."""
    while True:
        await save(store, current)
        await trio.sleep(CHECKPOINT_SECONDS)


async def load(store: MetadataStore) -> tuple[Round, float] | None:
    """The round that ran when the host stopped, going on from now, and its time left."""
    data = await trio.to_thread.run_sync(store.load_running_round)
    if data is None:
        return None
    try:
        return restore(data, trio.current_time())
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("the saved round cannot be read (%s): a new one will start", exc)
        await save(store, None)
        return None
