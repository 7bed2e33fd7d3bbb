"""Scenarios 8 and 9 on the simulated LAN: one transfer on a fast link, and a fetcher's memory
when many peers hold the file.

8: a database peer, a seeder and a fetcher per round, each on a host whose link is
BENCH_LINK_MBIT (`tc tbf`, both ways), over TLS. Each fetcher is a long-running `rp2p-peer`,
joined and idle, so start-up is not timed: from writing `get NAME` until its `got` line (search,
connection, TLS handshake, every chunk checked, the fsync). Reported as payload bytes per second
over the tbf rate, beside a raw socket copy between the same two hosts.

9: BENCH_SOURCES seeders on hosts of their own hold one BENCH_SOURCES_MIB file (the vault too);
a joined fetcher, told of every holder first (it asks each seeder for its map), gets it from all
of them at once. Its peak RSS (VmHWM, over its whole life: start-up, join, the get)
must stay small however many sources it reads from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .common import (
    BENCH,
    MIB,
    cpu_seconds,
    fmt,
    log,
    logs_dir,
    make_random_file,
    median,
    proc_status_kib,
    run_queue_seconds,
    scratch_dir,
    sha256_file,
)
from .crowd import CpuClock
from .lan import PLAYER_PORT, Lan, LanRp2p, Program, simulated_lan, sources_of, unavailable
from .report import Section, Target

TIMEOUT = 600.0


def run_link(rounds: int, size_mib: int, mbit: int) -> Section:
    size = size_mib * MIB
    section = Section(
        f"8. One transfer on a {mbit} Mbit/s LAN link, TLS, start-up excluded "
        f"({size_mib} MiB, median of {rounds} rounds)"
    )
    target = f"one transfer on a {mbit} Mbit/s link: payload ≥ 0.9x the link rate"
    why = unavailable()
    if why is not None:
        section.note(f"Not measured: {why}.")
        section.targets.append(Target(target, "n/a", None))
        return section
    with scratch_dir("lan-link") as root, simulated_lan() as lan:
        link = Link(lan, root, logs_dir("lan-link"), size, mbit, rounds)
        link.start()
        for number in range(rounds):  # the two alternate: both see the same load
            rp2p, raw = link.rp2p(number), link.raw(number)
            log(f"lan link round {number + 1}: rp2p {_fraction(size, rp2p, mbit):.2f}x, raw "
                f"{_fraction(size, raw, mbit):.2f}x the link rate")  # fmt: skip
    rows = []
    for what, seconds in (("rp2p (TLS), a joined fetcher", link.seconds),
                          ("raw socket copy + fsync", link.raw_seconds),
                          ("raw socket copy, to its last byte received", link.raw_received)):  # fmt: skip
        took = median(seconds)
        rows.append([what, fmt(took, 2), fmt(size * 8 / took / 1e6, 0),
                     f"**{_fraction(size, took, mbit):.2f}x**",
                     ", ".join(f"{_fraction(size, s, mbit):.2f}" for s in seconds)])  # fmt: skip
    section.table(["transfer", "time (s)", "payload Mbit/s", "÷ link rate", "per round"], rows)
    cores = " / ".join(
        fmt(median(link.cores[k]), 2) for k in ("fetcher", "waiting", "seeder", "machine")
    )
    section.note(
        "The database peer, the seeder and each round's fetcher are hosts whose links are limited "
        f"to {mbit} Mbit/s both ways with `tc tbf`. rp2p's time is from `get` to `got` of a fetcher "
        "already joined (the search, the connection, the TLS handshake, every chunk checked, the "
        "fsync); the raw copy's from its connection to the fsync (bench/rawcopy.py, from the "
        "seeder's host to that round's fetcher's): the link's practical limit for a durable copy; "
        "its last row stops at the last byte received, before writing it out: what the link "
        "itself carried in that round. The rate is the file's bytes x 8 over that "
        "time; tbf counts whole Ethernet frames, so TCP/IP framing caps the payload near 0.95x. "
        f"rp2p's file came from: {', '.join(sorted(set(link.served)))}. CPU over rp2p's get, in "
        f"cores (of {os.cpu_count()}): the fetcher used / the fetcher waited for a core / the "
        "seeder used / the whole machine used (everyone's work): "
        f"{cores}."
    )
    fraction = _fraction(size, median(link.seconds), mbit)
    section.targets.append(Target(target, f"{fraction:.2f}x", fraction >= 0.9))
    return section


class Link:
    """A database peer, a seeder and one fetcher per round, each on its own host at `mbit`.

    Every round's fetcher is a fresh one, joined and idle, that gets the one file; it may get
    it from an earlier round's fetcher, on a link as fast as the seeder's.
    """

    NAME = "link.bin"

    def __init__(self, lan: Lan, root: Path, logs: Path, size: int, mbit: int, rounds: int) -> None:
        self.root = root
        self.logs = logs
        self.size = size
        rate = f"{mbit}mbit"
        self.db_host, self.seed_host = lan.host("db", rate=rate), lan.host("seed", rate=rate)
        self.get_hosts = [lan.host(f"getter{k + 1}", rate=rate) for k in range(rounds)]
        self.share = root / "seed"
        self.seconds: list[float] = []
        self.raw_seconds: list[float] = []
        self.raw_received: list[float] = []
        self.served: list[str] = []
        self.cores: dict[str, list[float]] = {
            "fetcher": [],
            "waiting": [],
            "seeder": [],
            "machine": [],
        }
        self.net = LanRp2p(root, logs)

    def start(self) -> None:
        self.share.mkdir()
        log(f"lan link: writing {self.size // MIB} MiB")
        make_random_file(self.share / self.NAME, self.size)
        self.digest = sha256_file(self.share / self.NAME)
        self.net.start_database(self.db_host)
        self.seeder = self.net.start_player(self.seed_host, "seeder", self.share)
        self.getters = [self.net.launch_player(host, host.name, self.root / f"share-{host.name}")
                        for host in self.get_hosts]  # fmt: skip
        for getter in self.getters:
            self.net.wait_joined(getter, getter.host.name)
        self.net.wait_backed_up(self.seeder, [self.NAME])
        for getter in self.getters:
            self.net.wait_catalog(getter, [self.NAME])
        self.net.wait_hunt_idle()

    def _check(self, copy: Path) -> None:
        if sha256_file(copy) != self.digest:
            raise RuntimeError(f"{copy} differs from the source")

    def rp2p(self, number: int) -> float:
        getter = self.getters[number]
        programs = (getter, self.seeder)
        before = [cpu_seconds(p.pid) or 0.0 for p in programs]
        queued = run_queue_seconds(getter.pid)
        clock = CpuClock()
        clock.start()
        took, lines = self.net.get_all([getter], self.NAME, TIMEOUT)
        self.cores["machine"].append(clock.stop() * (os.cpu_count() or 1))
        self.cores["waiting"].append((run_queue_seconds(getter.pid) - queued) / took)
        for key, program, then in zip(("fetcher", "seeder"), programs, before, strict=True):
            self.cores[key].append(((cpu_seconds(program.pid) or 0.0) - then) / took)
        self._check(self.root / f"share-{getter.host.name}" / self.NAME)
        self.seconds.append(took)
        self.served += sources_of(lines[0])
        return took

    def raw(self, number: int) -> float:
        address = self.seed_host.address
        sender = Program(self.seed_host, [sys.executable, BENCH / "rawcopy.py", "send",
                                          self.share / self.NAME, "--host", address],
                         self.logs / "rawcopy-send.log", stdin=False)  # fmt: skip
        copy = self.root / "raw" / self.NAME
        copy.parent.mkdir(exist_ok=True)
        try:
            _, port = sender.wait(r"^\d+$", 30)
            done = self.get_hosts[number].run(
                [sys.executable, BENCH / "rawcopy.py", "recv", port, copy, "--fsync",
                 "--host", address], timeout=TIMEOUT)  # fmt: skip
            self._check(copy)
        finally:
            sender.stop()
            copy.unlink(missing_ok=True)
        received, took = (float(word) for word in done.stdout.split()[-2:])
        self.raw_received.append(received)
        self.raw_seconds.append(took)
        return took


def _fraction(size: int, seconds: float, mbit: int) -> float:
    return size * 8 / seconds / (mbit * 1e6)


def run_sources(sources: int, size_mib: int, mbit: int) -> Section:
    size = size_mib * MIB
    section = Section(
        f"9. Memory: a fetcher of one {size_mib} MiB file that {sources} peers hold "
        f"({mbit} Mbit/s links, TLS)"
    )
    target = f"a fetcher with {sources} sources of a {size_mib} MiB file < 80 MiB RSS"
    why = unavailable()
    if why is not None:
        section.note(f"Not measured: {why}.")
        section.targets.append(Target(target, "n/a", None))
        return section
    with scratch_dir("lan-sources") as root, simulated_lan() as lan:
        logs = logs_dir("lan-sources")
        rate = f"{mbit}mbit"
        db_host = lan.host("db", rate=rate)
        seed_hosts = [lan.host(f"s{k}", rate=rate) for k in range(1, sources + 1)]
        get_host = lan.host("getter", rate=rate)
        name = "sources.bin"
        shares = [root / f"share-{host.name}" for host in seed_hosts]
        for share in shares:
            share.mkdir()
        log(f"lan sources: writing {size_mib} MiB, held by {sources} seeders")
        make_random_file(shares[0] / name, size)
        for share in shares[1:]:  # the same bytes: each seeder hashes its own link to them
            os.link(shares[0] / name, share / name)
        digest = sha256_file(shares[0] / name)
        net = LanRp2p(root, logs)
        net.start_database(db_host)
        first = net.start_player(seed_hosts[0], seed_hosts[0].name, shares[0])
        net.wait_backed_up(first, [name])  # the others then find the vault has it: no uploads
        others = [net.launch_player(host, host.name, share)
                  for host, share in zip(seed_hosts[1:], shares[1:], strict=True)]  # fmt: skip
        for host, other in zip(seed_hosts[1:], others, strict=True):
            net.wait_joined(other, host.name, timeout=TIMEOUT)  # each scanned its share first
        getter = net.start_player(get_host, "getter", root / "share-getter")
        net.wait_catalog(getter, [name])
        net.wait_hunt_idle()
        comm = Path(f"/proc/{getter.pid}/comm").read_text().strip()
        if comm != "rp2p-peer":
            raise RuntimeError(f"pid {getter.pid} is {comm!r}, not the fetcher")
        for host in seed_hosts:  # each seeder's map names it a holder: all 8 are sources
            since = len(getter.lines)
            getter.say(f"map {host.address}:{PLAYER_PORT}")
            getter.wait(r"^map from ", 60, since=since)
        at_rest = proc_status_kib(getter.pid, "VmRSS") or 0
        took, lines = net.get_all([getter], name, TIMEOUT)
        peak = proc_status_kib(getter.pid, "VmHWM") or 0
        if sha256_file(root / "share-getter" / name) != digest:
            raise RuntimeError("the getter's copy differs from the source")
        served = sources_of(lines[0])
        log(f"lan sources: {took:.2f} s, peak RSS {peak / 1024:.1f} MiB, from {served}")
    peak_mib = peak / 1024
    section.table(
        ["fetcher RSS joined, idle (MiB)", "fetcher peak RSS (MiB)", "time (s)", "sent bytes"],
        [[fmt(at_rest / 1024, 1), f"**{fmt(peak_mib, 1)}**", fmt(took, 2),
          f"{len(set(served))}: " + ", ".join(served)]],
    )  # fmt: skip
    section.note(
        f"{sources} seeders on hosts of their own hold the file, and the vault; the fetcher is a "
        "long-running `rp2p-peer`, joined before the get. Its peak is VmHWM over its whole "
        'life (start-up and join included), read after the `got` line; "sent bytes" are the '
        "sources its `got` line names."
    )
    value = f"{fmt(peak_mib, 1)} MiB, read from {len(set(served))} of {sources} holders"
    section.targets.append(Target(target, value, peak_mib < 80))
    return section
