"""Scenario 3: N peers, all in this process, join one database peer at once.

Timed: from starting every node's `run` together to the moment every peer's list holds all N-1
others. Counted (bench/counting.py): every frame any node sends — the database peer's included —
from the start until the network has been quiet for `QUIET` seconds after converging.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import trio

from reliablep2p.database.peer import DatabasePeer
from reliablep2p.peer.node import Node

from .common import fmt, log, median, scratch_dir
from .counting import Traffic, counting
from .report import Section, Target

QUIET = 0.5
SETTLE_LIMIT = 10.0
CONVERGE_LIMIT = 120.0


class Storm:
    def __init__(self, root: Path, n: int, tls: bool) -> None:
        self.root = root
        self.n = n
        self.tls = tls
        self.retries = 0

    async def run(self, traffic: Traffic) -> tuple[float, Traffic, Traffic]:
        async with trio.open_nursery() as nursery:
            db = DatabasePeer(data_dir=self.root / "db", port=0, secure=self.tls)
            await nursery.start(db.run)
            nodes = [self._node(i, db) for i in range(self.n)]
            traffic.reset()
            start = trio.current_time()
            for node in nodes:
                nursery.start_soon(node.run)
            with trio.fail_after(CONVERGE_LIMIT):
                while not all(n.ready.is_set() and len(n.peers) == self.n - 1 for n in nodes):  # noqa: ASYNC110
                    await trio.sleep(0.005)
            converged = trio.current_time() - start
            self.retries = sum(n.session.failed_tries for n in nodes)
            at_convergence = traffic.snapshot()
            self._check(nodes)
            await _settle(traffic)
            nursery.cancel_scope.cancel()
        return converged, at_convergence, traffic.snapshot()

    def _node(self, i: int, db: DatabasePeer) -> Node:
        name = f"p{i}"
        identity = None
        if db.authority is not None:  # set up before the clock starts, like an enrolled player
            identity = db.authority.identity(name, self.root / "profiles" / name)
        node = Node(
            name=name, share_dir=self.root / name, database=("127.0.0.1", db.port),
            rescan_interval=3600, rng=random.Random(i), identity=identity,
        )  # fmt: skip
        return node

    def _check(self, nodes: list[Node]) -> None:
        everyone = {n.me.addr for n in nodes}
        for node in nodes:
            if set(node.peers.peers) != everyone - {node.me.addr}:
                raise RuntimeError(f"{node.name}'s peer list is wrong")


async def _settle(traffic: Traffic) -> None:
    """Wait until nothing has been sent for QUIET seconds (or SETTLE_LIMIT passed)."""
    with trio.move_on_after(SETTLE_LIMIT):
        while True:
            before = traffic.frame_bytes
            await trio.sleep(QUIET)
            if traffic.frame_bytes == before:
                return


def run(sizes: list[int], rounds: int) -> Section:
    logging.getLogger("rp2p").setLevel(logging.ERROR)
    results: dict[tuple[bool, int], list[tuple[float, Traffic, Traffic, int]]] = {}
    with counting() as traffic:
        for tls in (False, True):
            for n in sizes:
                for number in range(rounds):
                    with scratch_dir(f"join-{n}") as root:
                        storm = Storm(root, n, tls)
                        converged, first, total = trio.run(storm.run, traffic)
                    results.setdefault((tls, n), []).append(
                        (converged, first, total, storm.retries)
                    )
                    log(f"join storm {'TLS' if tls else 'plain'} N={n} round {number + 1}/{rounds}: "
                        f"{converged:.2f} s, {total.total_messages} messages")  # fmt: skip
    return _section(sizes, rounds, results)


def _section(
    sizes: list[int],
    rounds: int,
    results: dict[tuple[bool, int], list[tuple[float, Traffic, Traffic, int]]],
) -> Section:
    section = Section(
        f"3. Join storm: N peers join one database peer at once, median of {rounds} rounds"
    )
    rows = []
    per_join: dict[bool, list[float]] = {False: [], True: []}
    for (tls, n), runs in results.items():
        seconds = median([r[0] for r in runs])
        messages = median([r[2].total_messages for r in runs])
        frame_bytes = median([r[2].frame_bytes for r in runs])
        wire_bytes = median([r[2].wire_bytes for r in runs])
        connections = median([r[2].connections for r in runs])
        busy = median([r[2].messages.get("Error(busy)", 0) for r in runs])
        retries = median([r[3] for r in runs])
        per_join[tls].append(messages / n)
        rows.append([
            "TLS" if tls else "plain", str(n), f"**{fmt(seconds, 2)}**",
            fmt(messages, 0), fmt(frame_bytes / 1024, 0), fmt(wire_bytes / 1024, 0),
            fmt(messages / n, 1), fmt(frame_bytes / n / 1024, 1), fmt(connections, 0), f"{fmt(busy, 0)} / {fmt(retries, 0)}",
            ", ".join(f"{r[0]:.2f}" for r in runs),
        ])  # fmt: skip
    section.table(
        ["link", "N", "converged (s)", "messages", "frame KiB", "wire KiB", "messages / join",
         "frame KiB / join", "TCP connections", "busy refusals / session retries",
         "seconds per round"],
        rows,
    )  # fmt: skip
    largest = max(sizes)
    last = results.get((False, largest)) or next(iter(results.values()))
    total = last[len(last) // 2][2]
    kinds = sorted(total.messages, key=lambda k: -total.message_bytes[k])
    section.note(
        f"What was sent for N={largest} (plain, one round), by message type: "
        + ", ".join(f"{k} {total.messages[k]:,} ({total.message_bytes[k] / 1024:,.0f} KiB)" for k in kinds)
        + "."
    )  # fmt: skip
    section.note("")
    section.note(
        "Everything runs in one process on one trio loop, the database peer too, so the nodes share "
        "one core. Counts cover every frame any node sent, from the start until the network was "
        f"quiet for {QUIET} s after converging (frame bytes: the protocol's frames; wire bytes: TCP "
        "payload, TLS records and handshakes included). The core has no traffic counters: the "
        "benchmark wraps `Channel.send`, `Channel.send_data`, `SocketStream.send_all` and "
        "`trio.open_tcp_stream` from outside (bench/counting.py)."
    )
    for tls in (False, True):
        if (tls, largest) in results:
            seconds = median([r[0] for r in results[(tls, largest)]])
            section.targets.append(
                Target(f"{largest} peers converge in < 5 s ({'TLS' if tls else 'plain'})",
                       f"{seconds:.2f} s", seconds < 5 if largest >= 500 else None)
            )  # fmt: skip
        costs = per_join[tls]
        if len(costs) > 1:
            growth = costs[-1] / costs[0]
            section.targets.append(
                Target(f"per-join cost flat in N ({'TLS' if tls else 'plain'}; messages per join, "
                       f"N={sizes[0]} → {largest})",
                       f"{costs[0]:.1f} → {costs[-1]:.1f} ({growth:.1f}x)", growth < 1.5)
            )  # fmt: skip
    return section
