"""A bot player: hunts the running round's targets with the ordinary `get`, at a human pace.

Bots use the same search as people, so their maps grow the same way; what they find they seed.
"""

from __future__ import annotations

import logging
import random

import trio

from ..peer import events
from ..peer.fetch import GetError
from ..peer.node import Node

log = logging.getLogger("rp2p.bot")


async def play(node: Node, *, pace: float = 3.0, rng: random.Random | None = None) -> None:
    """Play forever: for each round, fetch the targets we lack in random order.

    `pace` is the mean pause in seconds before each `get` (uniform between 0.5x and 1.5x).
    """
    rng = rng or random.Random()
    changed = trio.Event()

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.RoundChanged):
            changed.set()

    node.subscribe(on_event)
    while True:
        todo = _targets_to_hunt(node)
        if not todo:
            await changed.wait()
            changed = trio.Event()
            continue
        await trio.sleep(pace * rng.uniform(0.5, 1.5))
        target = rng.choice(todo)
        if target not in _targets_to_hunt(node):
            continue  # the round moved on while we paused
        try:
            await node.get(target)
        except GetError as exc:
            log.info("%s: %s", node.name, exc)
            await trio.sleep(pace)


def _targets_to_hunt(node: Node) -> list[str]:
    state = node.round
    if state is None or state.over or not node.session.connected:  # no host: the round waits
        return []
    if trio.current_time() >= node.round_deadline:
        return []
    return [t for t in state.targets if t in node.catalog and node.view.file_source(t) is None]
