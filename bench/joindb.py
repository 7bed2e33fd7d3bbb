"""The join storm's database peer: `rp2p-db` itself, in a process of its own, counted.

`python -m bench.joindb SNAPSHOT MAX_PER_HOST -- RP2P_DB_ARGS...` runs `rp2p-db`'s own entry
point (`reliablep2p.app.cli.db_main`) with bench/counting.py's counters installed; each SIGUSR1
writes SNAPSHOT (JSON, atomically): its pid, what it has sent so far, its CPU seconds (all its threads),
the time its cyclic garbage collector took and the port it listens on. The bench adds those
counts to its players' so that the report covers every frame any node sent. It also says which
push rounds began mid-storm (`StormLog`), for the bench's log line.

Every player of the bench calls from 127.0.0.1, where on a LAN each has an address of its own,
so the per-address connection cap is raised to MAX_PER_HOST here, and an address's share of the
TLS handshakes worked on at once to all of them: patches of the bench, not options users
have. It stops when its stdin closes, so that a bench killed leaves none behind.
Everything else (its collector included) is as `rp2p-db` ships.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from reliablep2p.app import cli
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.net.server import HANDSHAKES_AT_ONCE
from reliablep2p.proto import PeerInfo

from .counting import counting


class StormLog:
    """When each player joined, each push round began and each full collection ended (monotonic
    seconds), for the rounds that began mid-storm: with joins still to come, each with how many
    had joined, how long since the last join and how long since a full collection ended (a
    pause of over 50 ms in the news starts a round; one seen across a stall of our own loop
    should not: `pushes.STALL_SECONDS`)."""

    def __init__(self, players: int) -> None:
        self.players = players
        self.joins: list[float] = []
        self.full_collections: list[float] = []
        self.mid_storm: list[dict[str, float]] = []

    def joined(self) -> None:
        self.joins.append(time.monotonic())

    def pushed(self) -> None:
        if not 0 < len(self.joins) < self.players:
            return
        now, collected = time.monotonic(), self.full_collections  # (all of them in the past)
        self.mid_storm.append({
            "joined": len(self.joins), "since_join": now - self.joins[-1],
            "since_full_collection": now - collected[-1] if collected else -1.0,
        })  # fmt: skip

    @staticmethod
    def described(rounds: list[dict[str, float]]) -> str:
        """`mid_storm` (as the snapshot carries it) for the bench's log line."""
        said = ", ".join(
            f"at {r['joined']:.0f} joined, {r['since_join'] * 1000:.0f} ms after a join"
            + (f", {r['since_full_collection'] * 1000:.0f} ms after a full collection"
               if 0 <= r["since_full_collection"] < 1 else "")
            for r in rounds
        )  # fmt: skip
        return f"{len(rounds)} push rounds mid-storm" + (f" ({said})" if said else "")


class CollectorClock:
    """CPU seconds the cyclic collector took, by generation, and how many full (gen-2)
    collections, via the documented `gc.callbacks` (`time.thread_time`: the CPU of the thread
    that set it off, so that others' load on the machine is not counted)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self.by_generation = [0.0, 0.0, 0.0]
        self._began = 0.0
        self.storm: StormLog | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.thread_time()
            return
        took = time.thread_time() - self._began
        self.seconds += took
        self.by_generation[info["generation"]] += took
        self.full += info["generation"] == 2
        if info["generation"] == 2 and self.storm is not None:
            self.storm.full_collections.append(time.monotonic())


def main(argv: list[str]) -> None:
    snapshot_path, per_host, *rest = argv
    if rest[:1] == ["--"]:
        rest = rest[1:]
    cap = int(per_host)
    started: list[DatabasePeer] = []
    original_init = DatabasePeer.__init__

    storm = StormLog(cap)

    def init(self: DatabasePeer, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        join, on_push = self.registry.join, self.pushes.on_push

        def joined(peer: PeerInfo) -> None:
            storm.joined()
            join(peer)

        def pushed() -> None:
            storm.pushed()
            on_push()

        self.registry.join, self.pushes.on_push = joined, pushed  # type: ignore[method-assign]
        self.server.caps.max_per_host = max(self.server.caps.max_per_host, cap)
        self.server.handshakes_per_host = HANDSHAKES_AT_ONCE  # (all of them, as one address)
        started.append(self)

    DatabasePeer.__init__ = init  # type: ignore[method-assign]
    clock = CollectorClock()
    clock.storm = storm
    gc.callbacks.append(clock)
    path = Path(snapshot_path)
    with counting() as traffic:
        sequence = 0

        def write(signum: int, frame: FrameType | None) -> None:
            nonlocal sequence
            sequence += 1
            data = {
                "sequence": sequence, "pid": os.getpid(), "port": started[0].port if started else 0,
                "cpu": time.process_time(), "gc_seconds": clock.seconds, "gc_full": clock.full,
                "gc_by_generation": clock.by_generation,
                "traffic": traffic.to_json(),
                "push_rounds": started[0].pushes.pushes if started else 0,
                "mid_storm_rounds": storm.mid_storm,
            }  # fmt: skip
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(data))
            os.replace(partial, path)

        signal.signal(signal.SIGUSR1, write)
        threading.Thread(target=_stop_with_the_bench, daemon=True).start()
        cli.db_main(rest)


def _stop_with_the_bench() -> None:
    """The bench holds our stdin open: at its end (killed too) we stop as on Ctrl-C."""
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main(sys.argv[1:])
