"""Scenario 5: the vault under load — F fetchers at once, each an 8 MiB file from the database peer.

The database peer is a real `rp2p-db` process whose vault got F distinct files from a seeding
`rp2p-peer` before anything is timed. The fetchers are F joined nodes in this process (one trio
loop, on the other core), each doing `secure_get(file, database peer)`: that asks the vault and
nobody else, and verifies every chunk as a player's download does. A fetcher told `busy` (the
database peer serves `MAX_SERVING` files at once) backs off and asks again with the same policy
`Node.get` uses. Timed: from all fetchers starting to the last file verified on disk.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import trio

from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.peer.fetch import BACKOFF_CAP, BUSY_BACKOFF, SourcesBusy
from reliablep2p.peer.node import Node
from reliablep2p.peer.serving import MAX_SERVING

from .common import (
    MIB,
    Processes,
    cpu_seconds,
    fmt,
    log,
    logs_dir,
    make_random_file,
    median,
    own_cpu_seconds,
    ratio,
    scratch_dir,
)
from .report import Section
from .transfer import Rp2p


class Load:
    def __init__(self, net: Rp2p, root: Path, names: list[str], number: int) -> None:
        self.net = net
        self.root = root
        self.names = names
        self.number = number
        self.busy = 0
        self.authority = NetworkAuthority.load_or_create(net.root / "db-tls") if net.tls else None

    def _node(self, k: int) -> Node:
        name = f"r{self.number}f{k}"
        identity = None
        if self.authority is not None:  # the network's CA signs it, as enrollment would
            identity = self.authority.identity(name, self.root / "profiles" / name)
        return Node(name=name, share_dir=self.root / name, database=("127.0.0.1", self.net.db_port),
                    rescan_interval=3600, rng=random.Random(k), identity=identity)  # fmt: skip

    async def run(self) -> float:
        async with trio.open_nursery() as nursery:
            nodes = [self._node(k) for k in range(len(self.names))]
            for node in nodes:
                nursery.start_soon(node.run)
            with trio.fail_after(120):
                while not all(n.ready.is_set() for n in nodes):  # noqa: ASYNC110
                    await trio.sleep(0.01)
            start = trio.current_time()
            async with trio.open_nursery() as fetches:
                for node, name in zip(nodes, self.names, strict=True):
                    fetches.start_soon(self._fetch, node, name)
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
        return elapsed

    async def _fetch(self, node: Node, name: str) -> None:
        delay = BUSY_BACKOFF
        while True:
            try:
                result = await node.secure_get(name, "127.0.0.1", self.net.db_port)
            except SourcesBusy:
                self.busy += 1
                await trio.sleep(delay * node.rng.uniform(0.5, 1.5))
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            if not result.from_vault:
                raise RuntimeError(f"{name} came from {result.source}, not the vault")
            return


def run(fetchers: int, size: int, rounds: int, raw_limit: float) -> Section:
    logging.getLogger("rp2p").setLevel(logging.ERROR)
    names = [f"vault{k:03d}.bin" for k in range(fetchers)]
    results: dict[bool, list[tuple[float, int, float, float]]] = {False: [], True: []}
    with scratch_dir("vault") as root, Processes() as procs:
        seed = root / "seed"
        seed.mkdir()
        log(f"vault: writing {fetchers} files of {size // MIB} MiB")
        for name in names:
            make_random_file(seed / name, size)
        logs = logs_dir("vault")
        nets = {tls: Rp2p(procs, root, seed, logs, tls=tls) for tls in (False, True)}
        for tls, net in nets.items():
            net.start(names)
            procs.stop(net.seeder)  # only the vault holds the files now
            for number in range(rounds):
                with scratch_dir(f"vault-fetch-{number}") as where:
                    load = Load(net, where, names, number)
                    db_cpu, my_cpu = cpu_seconds(net.db.pid) or 0.0, own_cpu_seconds()
                    seconds = trio.run(load.run)
                    db_cpu = (cpu_seconds(net.db.pid) or 0.0) - db_cpu
                    my_cpu = own_cpu_seconds() - my_cpu
                results[tls].append((seconds, load.busy, db_cpu, my_cpu))
                log(f"vault {net.mode} round {number + 1}/{rounds}: {seconds:.2f} s, "
                    f"{fetchers * size / MIB / seconds:.0f} MiB/s, {load.busy} busy retries")  # fmt: skip
            procs.stop(net.db)
    return _section(fetchers, size, rounds, raw_limit, results)


def _section(
    fetchers: int,
    size: int,
    rounds: int,
    raw_limit: float,
    results: dict[bool, list[tuple[float, int, float, float]]],
) -> Section:
    section = Section(
        f"5. Vault under load: {fetchers} fetchers at once, {size // MIB} MiB each, from the "
        f"database peer (median of {rounds} rounds)"
    )
    total_mib = fetchers * size / MIB
    rows = []
    plain_rate = float("nan")
    for tls, runs in results.items():
        seconds = median([r[0] for r in runs])
        rate = total_mib / seconds
        if not tls:
            plain_rate = rate
        rows.append([
            "TLS" if tls else "plain", fmt(seconds, 2), f"**{fmt(rate, 0)}**",
            ratio(rate, raw_limit), fmt(median([r[1] for r in runs]), 0),
            f"{median([r[2] / r[0] for r in runs]):.0%}", f"{median([r[3] / r[0] for r in runs]):.0%}",
            ", ".join(fmt(total_mib / r[0], 0) for r in runs),
        ])  # fmt: skip
    section.table(
        ["link", "time (s)", "aggregate MiB/s", "÷ raw socket copy (scenario 1)", "busy retries",
         "database peer CPU", "fetchers' process CPU", "MiB/s per round"],
        rows,
    )  # fmt: skip
    section.note(
        f"{fetchers} x {size // MIB} MiB = {total_mib:,.0f} MiB per round. The database peer serves "
        f"at most {MAX_SERVING} files at once and answers `busy` beyond that. CPU is the share of "
        "one core over the timed part (the fetchers' process includes its idle trio loop and its "
        "hashing threads)."
    )
    section.facts["vault_mib_s"] = plain_rate
    return section
