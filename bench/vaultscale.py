"""Scenario 5 on the scaled stores: the same fetchers, the vault in SeaweedFS and the metadata in
PostgreSQL, served by one database peer and then by two on the same stores, side by side.

Both servers are started here on loopback (tests/services.py, as the store tests do) and
stopped at the end, also on a failure, Ctrl-C or SIGTERM. The first `rp2p-db` (TLS) gets every
file from a seeding `rp2p-peer`; the second is given a copy of its network keys (`--ca DIR`).
Both run with `--vault-cache-mib 0`, so every chunk served comes from SeaweedFS (with a cache,
a second round would be served from local disk, and two peers would hold twice as much of it).
Rounds alternate, one database peer then two, so a change in the machine's load falls on both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trio

from tests.services import (
    S3_ENV,
    Postgres,
    Seaweed,
    Unavailable,
    running_postgres,
    running_seaweed,
)

from .common import (
    MIB,
    Processes,
    cpu_seconds,
    fmt,
    free_port,
    log,
    logs_dir,
    median,
    own_cpu_seconds,
    ratio,
    scratch_dir,
    sigterm_as_interrupt,
    wait_listening,
)
from .report import Section, Target
from .transfer import BIN, Rp2p
from .vaultload import Load

PEERS = (1, 2)


@dataclass
class Round:
    seconds: float
    busy: int
    db_cpu: list[float]
    """CPU seconds of each database peer the fetchers used."""
    weed_cpu: float
    own_cpu: float


@dataclass
class Scaled:
    runs: dict[int, list[Round]] = field(default_factory=lambda: {n: [] for n in PEERS})
    unavailable: str = ""


@contextlib.contextmanager
def _credentials() -> Iterator[None]:
    """The S3 key as users give it (the environment); the children inherit it."""
    before = {name: os.environ.get(name) for name in S3_ENV}
    os.environ.update(S3_ENV)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def servers(capacity: int = 0) -> Iterator[tuple[Postgres, Seaweed]]:
    """PostgreSQL and SeaweedFS (room for `capacity` bytes) on loopback, with the S3 key in the
    environment; both stopped on the way out, also on Ctrl-C or SIGTERM (Unavailable if either
    is not installed)."""
    volumes = 8 + 2 * -(-capacity // (64 * MIB))  # a volume is 64 MiB; they grow 7 at a time
    with (sigterm_as_interrupt(), running_postgres() as postgres,
          running_seaweed(volumes) as seaweed, _credentials()):  # fmt: skip
        yield postgres, seaweed


def measure(procs: Processes, seed: Path, names: list[str], rounds: int) -> Scaled:
    """Every round of both set-ups; `unavailable` says why not where the servers cannot run."""
    capacity = sum((seed / name).stat().st_size for name in names)
    try:
        with servers(capacity) as (postgres, seaweed), scratch_dir("vault-scaled") as root:
            return _measure(procs, postgres, seaweed, root, seed, names, rounds, capacity)
    except Unavailable as why:
        log(f"vault: no PostgreSQL + SeaweedFS rows: {why}")
        return Scaled(unavailable=str(why))


def _measure(procs: Processes, postgres: Postgres, seaweed: Seaweed, root: Path, seed: Path,
             names: list[str], rounds: int, capacity: int) -> Scaled:  # fmt: skip
    logs = logs_dir("vault-scaled")
    net = Rp2p(procs, root, seed, logs, tls=True)
    net.db_options = ["--store", postgres.new_database(), "--vault", seaweed.new_vault(),
                      "--s3-endpoint", seaweed.endpoint, "--vault-cache-mib", "0",
                      "--discovery-port", str(free_port())]  # fmt: skip
    net.start(names)
    procs.stop(net.seeder)  # only the vault holds the files now
    second, second_port = _start_second(procs, net, root, logs)
    ports = {1: [net.db_port], 2: [net.db_port, second_port]}
    pids = {1: [net.db.pid], 2: [net.db.pid, second.pid]}
    found = Scaled()
    for number in range(rounds):
        for peers in PEERS:
            with scratch_dir(f"vault-scaled-fetch-{number}-{peers}") as where:
                load = Load(net, where, names, 100 + 2 * number + peers, ports[peers])
                db_before = [cpu_seconds(pid) or 0.0 for pid in pids[peers]]
                weed_before, own_before = cpu_seconds(seaweed.process.pid) or 0.0, own_cpu_seconds()
                seconds = trio.run(load.run)
                db_cpu = [(cpu_seconds(pid) or 0.0) - b for pid, b in zip(pids[peers], db_before,
                                                                          strict=True)]  # fmt: skip
                found.runs[peers].append(Round(
                    seconds, load.busy, db_cpu,
                    (cpu_seconds(seaweed.process.pid) or 0.0) - weed_before,
                    own_cpu_seconds() - own_before,
                ))  # fmt: skip
            rate = capacity / MIB / seconds
            log(f"vault on PostgreSQL + SeaweedFS, {peers} database peer(s), round "
                f"{number + 1}/{rounds}: {seconds:.2f} s, {rate:.0f} MiB/s, {load.busy} busy retries")  # fmt: skip
    procs.stop(second)
    procs.stop(net.db)
    return found


def _start_second(procs: Processes, net: Rp2p, root: Path,
                  logs: Path) -> tuple[subprocess.Popen[bytes], int]:  # fmt: skip
    """A second `rp2p-db` on the same stores with a copy of the first one's network keys."""
    keys = root / "keys"
    keys.mkdir(mode=0o700)
    for name in ("ca.key", "ca.pem"):
        shutil.copy2(root / "db-tls" / name, keys / name)
    port = free_port()
    db_log = logs / "tls-db2.log"
    process = procs.start(
        [BIN / "rp2p-db", "--host", "127.0.0.1", "--port", port, "--enroll-port", free_port(),
         "--data", root / "db2", "--round-seconds", "0.001", "--pause-seconds", "1e9",
         "--ca", keys, *net.db_options],
        stdout=db_log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_listening(port, timeout=60, proc=process)
    return process, port


def add_rows(section: Section, found: Scaled, fetchers: int, size: int) -> None:
    """The side-by-side table, or one line saying why it is not there."""
    if found.unavailable:
        section.note(f"**PostgreSQL + SeaweedFS rows not run here:** {found.unavailable}.")
        section.targets.append(_target("not run here", None))
        return
    total_mib = fetchers * size / MIB
    rates = {peers: total_mib / median([r.seconds for r in runs])
             for peers, runs in found.runs.items()}  # fmt: skip
    rows = []
    for peers, runs in found.runs.items():
        seconds = median([r.seconds for r in runs])
        each = [median([r.db_cpu[k] / r.seconds for r in runs]) for k in range(peers)]
        rows.append([
            "one (all fetchers on it)" if peers == 1 else f"two ({fetchers - fetchers // 2} + "
            f"{fetchers // 2} fetchers)", fmt(seconds, 2), f"**{fmt(rates[peers], 0)}**",
            ratio(rates[peers], rates[1]), fmt(median([r.busy for r in runs]), 0),
            " + ".join(f"{c:.0%}" for c in each),
            f"{median([r.weed_cpu / r.seconds for r in runs]):.0%}",
            f"{median([r.own_cpu / r.seconds for r in runs]):.0%}",
            ", ".join(fmt(total_mib / r.seconds, 0) for r in runs),
        ])  # fmt: skip
    section.note("")
    section.note("The vault in SeaweedFS, the metadata in PostgreSQL (TLS, both servers on "
                 "this machine), one database peer, then two on the same stores:")  # fmt: skip
    section.note("")
    section.table(
        ["database peers", "time (s)", "aggregate MiB/s", "÷ one database peer", "busy retries",
         "each database peer's CPU", "SeaweedFS CPU", "fetchers' process CPU",
         "MiB/s per round"],
        rows,
    )  # fmt: skip
    section.note(
        "Both database peers run with `--vault-cache-mib 0`: every chunk they serve is read from "
        "SeaweedFS (one S3 GET per 1 MiB chunk) and verified. The fetchers of the two-peer rows "
        "alternate between them. Rounds alternate too (one peer, then two). Everything shares "
        f"this machine's {os.cpu_count()} cores: the fetchers, both database peers, SeaweedFS "
        "and PostgreSQL, so the ratio says what a second database peer buys when the cores "
        "are already busy, not what two machines would give."
    )
    two_over_one = rates[2] / rates[1]
    section.facts["vault_two_over_one"] = two_over_one
    section.targets.append(_target(f"{two_over_one:.2f}x ({fmt(rates[1], 0)} → "
                                   f"{fmt(rates[2], 0)} MiB/s)", None, reported=True))  # fmt: skip


def _target(value: str, met: bool | None, *, reported: bool = False) -> Target:
    return Target("vault under load on PostgreSQL + SeaweedFS, TLS: two database peers ÷ one "
                  "(issue 15 gives no number)", value, met, reported=reported)  # fmt: skip
