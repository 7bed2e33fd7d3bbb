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

import trio

from reliablep2p.peer.serving import MAX_SERVING

from . import vaultscale
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
from .vaultload import Load


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
        scaled = vaultscale.measure(procs, seed, names, rounds)
    section = _section(fetchers, size, rounds, raw_limit, results)
    vaultscale.add_rows(section, scaled, fetchers, size)
    return section


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
