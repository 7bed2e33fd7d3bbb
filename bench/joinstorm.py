"""Scenario 3: N peers join one database peer at once: `rp2p-db` in a process of its own.

The N players run in this process on one trio loop; the database peer is the real program
(bench/joindb.py runs `rp2p-db` with the counters installed). Every player is started first
(listening, its share scanned); then all their sessions start at once and the clock runs until
every peer's list holds all N-1 others. (Timing the players' own start-up too measured the
harness: at N = 2,000 it was held up by the 40 worker threads that every in-process player
shares for its share scan.) Counted (bench/counting.py, in both processes): every frame any
node sends, the database peer's included, from that moment until the network has been quiet
for `QUIET` seconds after converging.

Every player here calls from 127.0.0.1, where on a LAN each has its own address: the database
peer's cap on connections per address is raised to N, and an address's share of the TLS
handshakes worked on at once to all of them (in bench/joindb.py), so that the storm is not
refused or queued as one host opening N connections (the global caps, and everything else,
are as shipped).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.peer import events
from reliablep2p.peer.node import Node
from reliablep2p.peer.session import DatabaseSession

from .common import fmt, log, median, scratch_dir
from .counting import Traffic, counting
from .joindb import StormLog
from .report import Section, Target

QUIET = 0.5
SETTLE_LIMIT = 10.0
CONVERGE_LIMIT = 120.0
START_LIMIT = 30.0
BENCH_ROOT = Path(__file__).resolve().parent.parent
"""Where `python -m bench.joindb` is found."""
SMALL, BIG = 500, 2000
"""The sizes the issue's targets compare."""
TIME_GROWTH, BYTES_GROWTH = 6.0, 2.0
"""At most this much more time to converge, and frame bytes per join, at BIG than at SMALL."""
PEER_LIST = ("Welcome", "UpdatePeers")
"""Messages that carry the peer list (the seed protocol's whole list per join)."""

Run = tuple[float, Traffic, int, float, float, float, float]
"""Seconds to converge, what was sent (until quiet), session retries, the players' CPU seconds to
converge, the machine's load average (1 minute) then, the database peer's CPU seconds to
converge and the part of them its garbage collector took."""


@contextlib.contextmanager
def gated_sessions(go: trio.Event) -> Iterator[None]:
    """Sessions with the database peer wait for `go` (patched in from outside, as counting)."""
    original = DatabaseSession.run

    async def run(self: DatabaseSession) -> None:
        await go.wait()
        await original(self)

    DatabaseSession.run = run  # type: ignore[method-assign]
    try:
        yield
    finally:
        DatabaseSession.run = original  # type: ignore[method-assign]


class DatabaseProcess:
    """`rp2p-db` in a process of its own (bench/joindb.py: counted, its per-address cap N)."""

    def __init__(self, root: Path, n: int, tls: bool) -> None:
        self.data = root / "db"
        self.snapshot_path = root / "db-traffic.json"
        self.out, self.err = root / "db.out", root / "db.err"
        self.n, self.tls = n, tls
        self.authority: NetworkAuthority | None = None
        """The network keys it made on its first start, read once it serves, so that every
        player here is set up as an enrolled one, with its certificate, before the clock."""
        self.process: trio.Process | None = None
        self.requested = 0

    async def start(self) -> int:
        """Starts it, and returns its port once it is serving."""
        argv = [sys.executable, "-m", "bench.joindb", str(self.snapshot_path), str(self.n), "--",
                "--host", "127.0.0.1", "--port", "0", "--discovery-port", "0",
                "--data", str(self.data)] + ([] if self.tls else ["--insecure-lan"])  # fmt: skip
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = await trio.lowlevel.open_process(
                argv, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=BENCH_ROOT
            )
        ready = "join code:" if self.tls else "INSECURE LAN MODE"
        with trio.fail_after(START_LIMIT):
            while ready not in self.out.read_text() + self.err.read_text():
                if self.process.poll() is not None:
                    raise RuntimeError(f"rp2p-db exited: {self.err.read_text()[-2000:]}")
                await trio.sleep(0.02)
        if self.tls:
            self.authority = NetworkAuthority.load(self.data)
        return int((await self.snapshot())["port"])

    async def snapshot(self) -> dict[str, Any]:
        """What it has sent so far, its CPU seconds and collector time (asked with SIGUSR1)."""
        assert self.process is not None
        self.requested += 1
        self.process.send_signal(signal.SIGUSR1)
        with trio.fail_after(START_LIMIT):
            while True:
                with contextlib.suppress(FileNotFoundError, ValueError):
                    data: dict[str, Any] = json.loads(self.snapshot_path.read_text())
                    if data["sequence"] >= self.requested:
                        return data
                await trio.sleep(0.005)

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        if self.process.stdin is not None:
            await self.process.stdin.aclose()
        with trio.move_on_after(START_LIMIT):
            await self.process.wait()
            return
        self.process.kill()
        await self.process.wait()


class Storm:
    def __init__(self, root: Path, n: int, tls: bool, *, gc_paused: bool = True) -> None:
        self.root = root
        self.gc_paused = gc_paused
        """The players' collector, paused from the start to converging: on a LAN every player
        is a process with a small heap of its own; here they share one with N^2 list entries."""
        self.n = n
        self.tls = tls
        self.retries = 0
        self.db_pid = 0
        self.mid_storm: list[dict[str, float]] = []
        """The push rounds that began before the last join (bench/joindb.py's `StormLog`)."""
        self.cpu = self.db_cpu = self.db_gc = self.load = 0.0
        """CPU seconds from the start to converging of the players' process (all its threads)
        and of the database peer's, the part of the latter its collector took, and the load
        average then: on a shared machine, wall time also counts what the others ran."""

    async def run(self, traffic: Traffic) -> tuple[float, Traffic]:
        go = trio.Event()
        db = DatabaseProcess(self.root, self.n, self.tls)
        try:
            port = await db.start()
            async with trio.open_nursery() as nursery:
                nodes = [self._node(i, port, db.authority) for i in range(self.n)]
                with gated_sessions(go):
                    async with trio.open_nursery() as starting:
                        for node in nodes:
                            starting.start_soon(nursery.start, node.run)
                before = await db.snapshot()
                traffic.reset()
                start, cpu = trio.current_time(), time.process_time()
                if self.gc_paused:
                    gc.disable()
                go.set()
                try:
                    with trio.fail_after(CONVERGE_LIMIT):
                        await self._converged(nodes)
                finally:
                    gc.enable()
                converged = trio.current_time() - start
                self.cpu = time.process_time() - cpu
                self.load = os.getloadavg()[0]
                at_converged = await db.snapshot()
                self.db_cpu = at_converged["cpu"] - before["cpu"]
                self.db_gc = at_converged["gc_seconds"] - before["gc_seconds"]
                self.db_pid = int(at_converged["pid"])
                self.mid_storm = at_converged["mid_storm_rounds"]
                self.retries = sum(n.session.failed_tries for n in nodes)
                self._check(nodes)
                after = await _settle(traffic, db)
                nursery.cancel_scope.cancel()
        finally:
            await db.stop()
        sent_by_db = Traffic.from_json(after["traffic"]).plus(
            Traffic.from_json(before["traffic"]), -1
        )
        return converged, traffic.snapshot().plus(sent_by_db)

    def _node(self, i: int, port: int, authority: NetworkAuthority | None) -> Node:
        name = f"p{i}"
        identity = None
        if authority is not None:  # set up before the clock starts, like an enrolled player
            identity = authority.identity(name, self.root / "profiles" / name)
        node = Node(
            name=name, share_dir=self.root / name, database=("127.0.0.1", port),
            rescan_interval=3600, rng=random.Random(i), identity=identity,
        )  # fmt: skip
        return node

    async def _converged(self, nodes: list[Node]) -> None:
        """Until every list is whole at once. A node is looked at when its list changes (its
        events), not all N every few milliseconds: that polling was the bench's own N x time
        cost in the players' CPU, a few percent of it at N = 2,000."""
        whole: set[int] = set()
        news = trio.Event()

        def short(node: Node) -> bool:
            return not node.ready.is_set() or len(node.peers) != self.n - 1

        def watcher(number: int, node: Node) -> Callable[[events.Event], None]:
            def heard(event: events.Event) -> None:
                if isinstance(event, events.PeersChanged | events.Joined):
                    if short(node):
                        whole.discard(number)
                    else:
                        whole.add(number)
                        if len(whole) == len(nodes):
                            news.set()

            return heard

        for number, node in enumerate(nodes):
            node.subscribe(watcher(number, node))
            if not short(node):
                whole.add(number)
        while True:
            if len(whole) == len(nodes) and not any(short(n) for n in nodes):
                return  # (and nobody slipped back unheard: a session that dropped)
            with trio.move_on_after(0.1):  # (and a look at all, now and then)
                await news.wait()
            news = trio.Event()

    def _check(self, nodes: list[Node]) -> None:
        everyone = {n.me.addr for n in nodes}
        for node in nodes:
            if set(node.peers.peers) != everyone - {node.me.addr}:
                raise RuntimeError(f"{node.name}'s peer list is wrong")


def _bytes_bound(peer_list: float, rest: float) -> str:
    """Why the bytes target is out of reach while every player learns the whole list."""
    entry = peer_list / (BIG - 1)
    most = rest / ((BIG - 1) - BYTES_GROWTH * (SMALL - 1))
    return (
        f"The bytes target, worked out: a join costs (N-1) entries of e bytes (every player "
        f"learns every other; protocol 2 sends an entry as an array, about 21 bytes, and peer "
        f"lists over 1 KiB zlib'd) plus a flat rest R. (N-1)e + R at N={BIG} is at most "
        f"{BYTES_GROWTH:g}x that at N={SMALL} only if e ≤ R / {(BIG - 1) - int(BYTES_GROWTH) * (SMALL - 1)}: "
        f"here R = {rest / 1024:.1f} KiB, so e ≤ {most:.1f} bytes, and e = {entry:.1f} bytes "
        "(compressed). One entry here carries a name out of N (11 bits at 2,000), a port out of "
        "the ~28,000 ephemeral ones (15 bits) and a host all share: about 3.3 bytes of "
        "information for an ideal coder, on a LAN (names people chose, an address each) more. "
        "So while `welcome` and `update_peers` give every player the whole list (the seed "
        "protocol, which issue 15 keeps) the 2x cannot be met; the peer list is what grows, the "
        "rest stays flat."
    )


async def _settle(traffic: Traffic, db: DatabaseProcess) -> dict[str, Any]:
    """Wait until no node has sent anything for QUIET seconds (or SETTLE_LIMIT passed); the
    database peer's last snapshot."""
    last = await db.snapshot()
    with trio.move_on_after(SETTLE_LIMIT):
        while True:
            before = traffic.frame_bytes, last["traffic"]["frame_bytes"]
            await trio.sleep(QUIET)
            last = await db.snapshot()
            if (traffic.frame_bytes, last["traffic"]["frame_bytes"]) == before:
                break
    return last


def run(sizes: list[int], rounds: int, *, gc_paused: bool = True) -> Section:
    """`gc_paused`: the players' cyclic garbage collector is paused from the start to
    converging. Their one heap holds every player's peer list (N^2 entries) and each full
    collection walks them all; on a LAN each player is a process with a heap of its own (N
    entries). The database peer's process keeps its collector on, as shipped."""
    logging.getLogger("rp2p").setLevel(logging.ERROR)
    results: dict[tuple[bool, int], list[Run]] = {}
    with counting() as traffic:
        for tls in (False, True):
            for n in sizes:
                for number in range(rounds):
                    with scratch_dir(f"join-{n}") as root:
                        storm = Storm(root, n, tls, gc_paused=gc_paused)
                        converged, total = trio.run(storm.run, traffic)
                    results.setdefault((tls, n), []).append(
                        (
                            converged,
                            total,
                            storm.retries,
                            storm.cpu,
                            storm.load,
                            storm.db_cpu,
                            storm.db_gc,
                        )
                    )
                    log(f"join storm {'TLS' if tls else 'plain'} N={n} round {number + 1}/{rounds}: "
                        f"{converged:.2f} s (CPU: players {storm.cpu:.2f} s, database peer "
                        f"{storm.db_cpu:.2f} s of which its collector {storm.db_gc:.2f} s), "
                        f"{total.frame_bytes / n / 1024:.1f} KiB per join, "
                        f"{storm.retries} session retries, load {storm.load:.1f}; "
                        f"{StormLog.described(storm.mid_storm)}")  # fmt: skip
    return _section(sizes, rounds, results, gc_paused)


def _section(
    sizes: list[int], rounds: int, results: dict[tuple[bool, int], list[Run]], gc_paused: bool
) -> Section:
    paused = "" if gc_paused else ", the players' garbage collector on"
    section = Section(
        f"3. Join storm: N peers join one database peer at once, median of {rounds} rounds{paused}"
    )
    rows = []
    seconds: dict[tuple[bool, int], float] = {}
    cpu: dict[tuple[bool, int], float] = {}
    db_cpu: dict[tuple[bool, int], float] = {}
    per_join: dict[tuple[bool, int], float] = {}
    peer_list: dict[tuple[bool, int], float] = {}
    for (tls, n), runs in results.items():
        seconds[tls, n] = median([r[0] for r in runs])
        cpu[tls, n] = median([r[3] for r in runs])
        db_cpu[tls, n] = median([r[5] for r in runs])
        db_gc = median([r[6] for r in runs])
        messages = median([r[1].total_messages for r in runs])
        frame_bytes = median([r[1].frame_bytes for r in runs])
        wire_bytes = median([r[1].wire_bytes for r in runs])
        listed = median([sum(r[1].message_bytes[k] for k in PEER_LIST) for r in runs])
        connections = median([r[1].connections for r in runs])
        busy = median([r[1].messages.get("Error(busy)", 0) for r in runs])
        retries = median([r[2] for r in runs])
        per_join[tls, n] = frame_bytes / n
        peer_list[tls, n] = listed / n
        rows.append([
            "TLS" if tls else "plain", str(n), f"**{fmt(seconds[tls, n], 2)}**",
            fmt(db_cpu[tls, n], 2), fmt(db_gc, 2), fmt(cpu[tls, n], 2), ", ".join(f"{r[4]:.1f}" for r in runs),
            fmt(messages, 0), fmt(frame_bytes / 1024, 0), fmt(wire_bytes / 1024, 0),
            fmt(messages / n, 1), f"**{fmt(frame_bytes / n / 1024, 1)}**",
            fmt(listed / n / 1024, 1), fmt((frame_bytes - listed) / n / 1024, 1),
            fmt(connections, 0), f"{fmt(busy, 0)} / {fmt(retries, 0)}",
            ", ".join(f"{r[0]:.2f}" for r in runs),
        ])  # fmt: skip
    section.table(
        ["link", "N", "converged (s)", "database peer CPU (s)", "of which its GC (s)",
         "players' CPU (s)", "load", "messages", "frame KiB", "wire KiB", "messages / join",
         "frame KiB / join", "of which peer list", "of which the rest", "TCP connections",
         "busy refusals / session retries", "seconds per round"],
        rows,
    )  # fmt: skip
    largest = max(sizes)
    last = results.get((False, largest)) or next(iter(results.values()))
    total = last[len(last) // 2][1]
    kinds = sorted(total.messages, key=lambda k: -total.message_bytes[k])
    section.note(
        f"What was sent for N={largest} (plain, one round), by message type: "
        + ", ".join(f"{k} {total.messages[k]:,} ({total.message_bytes[k] / 1024:,.0f} KiB)" for k in kinds)
        + "."
    )  # fmt: skip
    section.note("")
    players_gc = (
        "paused from the start to converging (each real player is a process with a small "
        "heap of its own; these N share one, holding N^2 peer-list entries a full collection "
        "would walk)" if gc_paused else "on (BENCH_JOIN_GC=on)"
    )  # fmt: skip
    section.note(
        "The database peer is `rp2p-db` itself, a process of its own (started through "
        "bench/joindb.py, which installs the traffic counters there and raises its per-address "
        "connection cap to N and an address's share of the TLS handshakes under way to all of "
        "them, as every player here calls from 127.0.0.1 where on a LAN each has "
        "its own address; its garbage collector is on, everything else as shipped). The N "
        f"players run in the benchmark's process on one trio loop, their collector {players_gc}. "
        "The clock starts once every player is up (listening, share scanned) and all their "
        "sessions start together, and stops when every player's list holds all N-1 others. "
        "`database peer CPU` and `players' CPU` are each process's CPU time (all threads) from "
        "the start to converging, `of which its GC` the database peer's collector time "
        "(`gc.callbacks`), `load` the machine's load average then (on a shared machine, wall "
        "time also counts what others ran). "
        "Counts cover every frame any node sent, the database peer's included (its process "
        "writes its counts when asked), from the start until the network was quiet for "
        f"{QUIET} s after converging (frame bytes: the protocol's frames; wire bytes: TCP payload, "
        "TLS records and handshakes included). The peer list (`welcome`, `update_peers`, as "
        "zlib'd `Z` frames when over 1 KiB) is the seed protocol's whole list for every joining "
        "player: each of N players learns N-1 others, so its bytes per join grow as N; the rest (the scoreboard view, hellos, stats) "
        "stays flat. The core has no traffic counters: the benchmark wraps `Channel.send`, "
        "`Channel.send_data`, `SocketStream.send_all`, `TLSStream._send_raw` and "
        "`trio.open_tcp_stream` from outside "
        "(bench/counting.py), in both processes."
    )
    for tls in (False, True):
        link = "TLS" if tls else "plain"
        small, big = (tls, SMALL), (tls, BIG)
        if small not in results or big not in results:
            section.targets.append(
                Target(f"join storm at N={BIG} vs N={SMALL} ({link})",
                       f"needs BENCH_JOIN_SIZES with {SMALL} and {BIG}", None)
            )  # fmt: skip
            continue
        growth = seconds[big] / seconds[small]
        section.targets.append(
            Target(f"converge time at N={BIG} ≤ {TIME_GROWTH:g}x N={SMALL} ({link})",
                   f"{seconds[small]:.2f} s → {seconds[big]:.2f} s ({growth:.1f}x; CPU of the "
                   f"database peer {db_cpu[small]:.2f} → {db_cpu[big]:.2f} s, "
                   f"{db_cpu[big] / db_cpu[small]:.1f}x, of the players {cpu[small]:.2f} → "
                   f"{cpu[big]:.2f} s, {cpu[big] / cpu[small]:.1f}x)",
                   growth <= TIME_GROWTH)
        )  # fmt: skip
        growth = per_join[big] / per_join[small]
        rest = (per_join[big] - peer_list[big]) / (per_join[small] - peer_list[small])
        if not tls:
            section.note("")
            section.note(_bytes_bound(peer_list[big], per_join[big] - peer_list[big]))
        section.targets.append(
            Target(f"frame bytes per join at N={BIG} ≤ {BYTES_GROWTH:g}x N={SMALL} ({link})",
                   f"{per_join[small] / 1024:.1f} → {per_join[big] / 1024:.1f} KiB "
                   f"({growth:.1f}x; without the peer list {rest:.1f}x)",
                   growth <= BYTES_GROWTH)
        )  # fmt: skip
    return section
