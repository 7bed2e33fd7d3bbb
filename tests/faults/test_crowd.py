"""A crowd joins a real `rp2p-db` at once: every player gets the whole peer list, and a
scoreboard view (the top rows and its own), not every row."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.game.board import TOP_ROWS
from reliablep2p.peer.node import Node

from .cluster import Cluster

pytestmark = pytest.mark.slow

CROWD = TOP_ROWS + 20
"""More players than the view's top rows: those further down see themselves below the top."""


EVERYONE = {f"c{index:02}" for index in range(CROWD)}
TOP = sorted(EVERYONE)[:TOP_ROWS]  # nobody scored: the board goes by name


def expected(name: str) -> tuple[set[str], list[str]]:
    """What `name` should know: the others in its peer list, the top rows and itself."""
    return EVERYONE - {name}, TOP if name in TOP else [*TOP, name]


async def join_at_once(cluster: Cluster, root: Path) -> dict[str, tuple[set[str], list[str]]]:
    """Every player starts together; once all know what they should (or half a minute passed),
    what each knows: the names in its peer list and those of its scoreboard, in order."""
    authority = NetworkAuthority.load_or_create(cluster.data)

    def player(name: str) -> Node:
        return Node(
            identity=authority.identity(name, root / "profiles" / name),
            share_dir=root / name, database=("127.0.0.1", cluster.db_port),
            rescan_interval=3600, rng=random.Random(name),
        )  # fmt: skip

    nodes = [player(name) for name in sorted(EVERYONE)]

    def known() -> dict[str, tuple[set[str], list[str]]]:
        return {n.name: ({p.name for p in n.peers}, [r.name for r in n.scoreboard]) for n in nodes}

    async with trio.open_nursery() as nursery:
        for node in nodes:
            nursery.start_soon(node.run)
        with trio.move_on_after(30):
            while any(what != expected(name) for name, what in known().items()):  # noqa: ASYNC110
                await trio.sleep(0.05)  # (the nodes' state, which their sessions keep)
        seen = known()
        nursery.cancel_scope.cancel()
    return seen


def test_a_crowd_joining_at_once_gets_the_whole_peer_list_and_a_board_of_top_rows_and_itself(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start_db()
        known = trio.run(join_at_once, cluster, tmp_path / "crowd")
    finally:
        cluster.close()
    for name, (peers, board) in known.items():
        assert peers == expected(name)[0], f"{name}'s peer list is not whole"
        assert board == expected(name)[1], f"{name}'s scoreboard"
