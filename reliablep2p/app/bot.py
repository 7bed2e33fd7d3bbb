"""A bot player: hunts every round's targets with the ordinary `get`, at the pace of its level.

Bots use the same search as people, so their maps grow the same way; what they find they seed.
They are always ready for the next round. An easy bot is slow and sometimes fetches a file that
is not a target; a hard one is quick and also harvests other players' maps (`map PORT`).
"""

from __future__ import annotations

import logging
import random

import msgspec
import trio

from ..peer import events
from ..peer.fetch import GetError
from ..peer.node import Node
from ..proto import ProtocolError

log = logging.getLogger("rp2p.bot")


class Level(msgspec.Struct, frozen=True):
    pace: float
    """Mean pause in seconds before each get (uniform between 0.5x and 1.5x)."""
    wrong: float = 0.0
    """How often it fetches a file that is not a target."""
    harvest: int = 0
    """Maps it asks other players for at the start of a round."""


LEVELS = {
    "easy": Level(pace=6.0, wrong=0.3),
    "normal": Level(pace=3.0),
    "hard": Level(pace=1.5, harvest=2),
}


async def play(
    node: Node,
    *,
    level: Level = LEVELS["normal"],
    pace: float | None = None,
    rng: random.Random | None = None,
) -> None:
    """Play forever: for each round, fetch the targets we lack in random order."""
    rng = rng or random.Random()
    if pace is not None:
        level = Level(pace, level.wrong, level.harvest)
    changed = trio.Event()
    harvested: set[int] = set()

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.RoundChanged | events.LobbyChanged):
            changed.set()

    node.subscribe(on_event)
    await node.ready_up()
    while True:
        state, lobby = node.round, node.lobby
        if lobby is not None and lobby.starts_in >= 0 and node.name not in lobby.ready:
            await node.ready_up()  # a bot is always ready
        todo = _targets_to_hunt(node)
        if not todo:
            await changed.wait()
            changed = trio.Event()
            continue
        if state is not None and level.harvest and state.number not in harvested:
            harvested.add(state.number)
            await _harvest(node, level.harvest, rng)
        await trio.sleep(level.pace * rng.uniform(0.5, 1.5))
        target = rng.choice(todo)
        if target not in _targets_to_hunt(node):
            continue  # the round moved on while we paused
        if level.wrong and rng.random() < level.wrong:
            target = _wrong_pick(node, rng) or target
        try:
            await node.get(target)
        except GetError as exc:
            log.info("%s: %s", node.name, exc)
            await trio.sleep(level.pace)


def _targets_to_hunt(node: Node) -> list[str]:
    state = node.round
    if state is None or state.over or not node.session.connected:  # no host: the round waits
        return []
    if trio.current_time() >= node.round_deadline:
        return []
    return [t for t in state.targets if t in node.catalog and node.view.file_source(t) is None]


def _wrong_pick(node: Node, rng: random.Random) -> str | None:
    """A catalog file we lack that is no target: a waste of time, as people do it too."""
    state = node.round
    targets = set(state.targets) if state else set()
    others = [n for n in node.catalog if n not in targets and node.view.file_source(n) is None]
    return rng.choice(others) if others else None


async def _harvest(node: Node, count: int, rng: random.Random) -> None:
    """Ask a few other players for their maps (the map scores, though less and less)."""
    peers = list(node.peers)
    for peer in rng.sample(peers, min(count, len(peers))):
        try:
            await node.request_map(peer.host, peer.port)
        except ProtocolError as exc:
            log.info("%s: map from %s: %s", node.name, peer.name, exc.detail)
