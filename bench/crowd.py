"""Scenario 7: a flash crowd on a simulated LAN — N fetchers ask for one file at once.

Every host (a network namespace, tests/lan/hosts.py) has a link of BENCH_CROWD_MBIT, limited
with `tc tbf` both ways. rp2p: a real `rp2p-db` (the vault holds the file) and one seeding
`rp2p-peer` on hosts of their own, and N long-running `rp2p-peer` fetchers, one per host, joined
and idle, over TLS. A round writes `get NAME` to all N at once; timed: from then until the last
`got NAME` line (the file verified and in place). BitTorrent on the same hosts and links: one
seeding aria2c and N leeching aria2c, told to go at once (bench/torrent.py). Every round has a
file of its own (nobody holds it but the seeder and, for rp2p, the vault), and the figure is the
median of the rounds, set against the swarm ideal: the file's size over one link's rate, the
time if every fetcher received at its full downlink rate from the first byte.
With BENCH_CROWD_TRACE=1 each rp2p round also writes its timeline (`crowdtrace.py`) into the
logs folder: when each fetcher got its first byte and chunks, every host's rates by the
quarter second, how long the start-up and the tail took.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import torrent
from .common import (
    MIB,
    cpu_seconds,
    fmt,
    log,
    logs_dir,
    make_random_file,
    median,
    run_queue_seconds,
    scratch_dir,
    sha256_file,
)
from .crowdtrace import NetSampler, timeline
from .lan import Lan, LanRp2p, Program, simulated_lan, sources_of, unavailable
from .report import Section, Target

RP2P, BITTORRENT = "rp2p (TLS)", "BitTorrent (aria2c + opentracker)"
TIMEOUT = 300.0
TRACE = os.environ.get("BENCH_CROWD_TRACE") == "1"
"""Each rp2p round's timeline into the logs folder (`bench/crowdtrace.py`)."""


@dataclass
class Crowd:
    """The rounds of one tool at one N."""

    seconds: list[float] = field(default_factory=list)
    machine: list[float] = field(default_factory=list)
    """The machine's busy share of its cores over each round (everyone's work)."""
    cores: list[float] = field(default_factory=list)
    """The tool's own processes' CPU over each round, in cores."""
    waiting: list[float] = field(default_factory=list)
    """How many of them, on average, were runnable but waiting for a core."""
    served: Counter[str] = field(default_factory=Counter)


@dataclass
class Setting:
    sizes: list[int]
    rounds: int
    size: int
    mbit: int

    @property
    def ideal(self) -> float:
        return self.size * 8 / (self.mbit * 1e6)

    def names(self, n: int) -> list[str]:
        return [f"crowd-n{n:02d}-r{r + 1}.bin" for r in range(self.rounds)]


class CpuClock:
    """The machine's busy share of all cores between `start()` and `stop()` (/proc/stat)."""

    busy = float("nan")

    @staticmethod
    def _sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    def start(self) -> None:
        self._begin = self._sample()

    def stop(self) -> float:
        busy, total = self._sample()
        self.busy = (busy - self._begin[0]) / max(total - self._begin[1], 1)
        return self.busy


def run(sizes: list[int], rounds: int, size_mib: int, mbit: int) -> Section:
    setting = Setting(sorted(sizes), rounds, size_mib * MIB, mbit)
    results: dict[tuple[str, int], Crowd] = {}
    skipped: dict[str, str] = {}
    why = unavailable()
    if why is not None:
        skipped = {RP2P: why, BITTORRENT: why}
        return _section(setting, results, skipped)
    with scratch_dir("crowd") as root, simulated_lan() as lan:
        root.chmod(0o755)
        logs = logs_dir("crowd")
        bench = CrowdBench(lan, root, logs, setting)
        problem = torrent.unavailable()
        for tool, phase in ((RP2P, bench.rp2p), (BITTORRENT, bench.bittorrent)):
            if tool == BITTORRENT and problem is not None:
                skipped[tool] = problem
                continue
            try:  # one tool failing still leaves the other's figures
                phase(results)
            except Exception as exc:
                log(f"crowd: {tool} failed:\n{traceback.format_exc()}")
                skipped[tool] = f"failed in this run: {type(exc).__name__}: {exc}"
    return _section(setting, results, skipped, bench.piece_size)


class CrowdBench:
    def __init__(self, lan: Lan, root: Path, logs: Path, setting: Setting) -> None:
        self.lan = lan
        self.root = root
        self.logs = logs
        self.setting = setting
        self.piece_size = 0
        rate = f"{setting.mbit}mbit"
        self.db_host = lan.host("db", rate=rate)
        self.seed_host = lan.host("seed", rate=rate)
        self.hosts = [lan.host(f"f{k:02d}", rate=rate) for k in range(1, max(setting.sizes) + 1)]
        self.seed = root / "seed"
        self.seed.mkdir()
        names = [name for n in setting.sizes for name in setting.names(n)]
        log(f"crowd: writing {len(names)} files of {setting.size // MIB} MiB")
        for name in names:
            make_random_file(self.seed / name, setting.size)
        self.digest = {name: sha256_file(self.seed / name) for name in names}

    def _check(self, tool: str, copies: list[Path]) -> None:
        for copy in copies:
            if not copy.exists() or sha256_file(copy) != self.digest[copy.name]:
                raise RuntimeError(f"{tool}: {copy} is missing or differs from the source")

    # ------------------------------------------------------------------------------ rp2p

    def rp2p(self, results: dict[tuple[str, int], Crowd]) -> None:
        net = LanRp2p(self.root, self.logs)
        db = net.start_database(self.db_host)
        seeder = net.start_player(self.seed_host, "seeder", self.seed, trace=TRACE)
        names = list(self.digest)
        fetchers = [net.launch_player(host, host.name, self.root / f"share-{host.name}",
                                      trace=TRACE) for host in self.hosts]  # fmt: skip
        for fetcher in fetchers:  # they join while the seeder backs its files up
            net.wait_joined(fetcher, fetcher.host.name)
        net.wait_backed_up(seeder, names)
        log(f"crowd: the vault holds all {len(names)} files; {len(fetchers)} fetchers joined")
        for fetcher in fetchers:
            net.wait_catalog(fetcher, names)
        net.wait_hunt_idle()
        programs = [db, seeder, *fetchers]
        clock = CpuClock()
        for n in self.setting.sizes:
            crowd = results[RP2P, n] = Crowd()
            for number, name in enumerate(self.setting.names(n)):
                clock.start()
                before = _cpu(programs)
                split = _cpu_split(db, seeder, fetchers)
                if TRACE:
                    sampler = NetSampler({"db": db, "seeder": seeder,
                                          **{f.host.name: f for f in fetchers[:n]}})  # fmt: skip
                    sampler.start()
                    marks, started, wall0 = [len(f.lines) for f in fetchers[:n]], *_clocks()
                seconds, lines = net.get_all(fetchers[:n], name, TIMEOUT)
                if TRACE:
                    time.sleep(0.3)  # the last lines and samples
                    sampler.stop()
                    report = timeline(sampler, fetchers[:n], marks, started, wall0, name,
                                      self.setting.mbit, {"db": db, "seeder": seeder})  # fmt: skip
                    (self.logs / f"timeline-{name}.txt").write_text(report + "\n")
                after = _cpu(programs)
                split = [
                    b - a for a, b in zip(split, _cpu_split(db, seeder, fetchers), strict=True)
                ]
                crowd.cores.append((after[0] - before[0]) / seconds)
                crowd.waiting.append((after[1] - before[1]) / seconds)
                crowd.machine.append(clock.stop())
                crowd.seconds.append(seconds)
                for line in lines:
                    crowd.served.update(sources_of(line))
                self._check(f"rp2p N={n}", [self.root / f"share-{h.name}" / name
                                            for h in self.hosts[:n]])  # fmt: skip
                log(f"crowd rp2p N={n} round {number + 1}: {seconds:.2f} s "
                    f"({seconds / self.setting.ideal:.2f}x ideal), CPU {after[0] - before[0]:.2f} s "
                    f"(database peer {split[0]:.2f}, seeder {split[1]:.2f}, fetchers "
                    f"{split[2]:.2f}), load {os.getloadavg()[0]:.2f}")  # fmt: skip
        for program in programs:
            program.stop()

    # ------------------------------------------------------------------------ BitTorrent

    def bittorrent(self, results: dict[tuple[str, int], Crowd]) -> None:
        swarm = torrent.Swarm(self.root, self.logs, self.db_host,
                              [self.seed / name for name in self.digest])  # fmt: skip
        self.piece_size = swarm.piece_size
        try:
            for n in self.setting.sizes:
                crowd = results[BITTORRENT, n] = Crowd()
                for number, name in enumerate(self.setting.names(n)):
                    clock = CpuClock()
                    seconds, copies, cpu = swarm.round(f"n{n:02d}-r{number + 1}", self.seed / name,
                                                       self.seed_host, self.hosts[:n], clock,
                                                       TIMEOUT)  # fmt: skip
                    crowd.machine.append(clock.busy)
                    crowd.cores.append(cpu[0] / seconds)
                    crowd.waiting.append(cpu[1] / seconds)
                    crowd.seconds.append(seconds)
                    self._check(f"BitTorrent N={n}", copies)
                    log(f"crowd BitTorrent N={n} round {number + 1}: {seconds:.2f} s "
                        f"({seconds / self.setting.ideal:.2f}x ideal)")  # fmt: skip
        finally:
            swarm.close()


def _clocks() -> tuple[float, float]:
    """The monotonic clock (the programs' line stamps) and the wall clock (their log's), now."""
    return time.monotonic(), time.time()


def _cpu(programs: list[Program]) -> tuple[float, float]:
    """CPU seconds used by `programs` so far, and spent waiting for a core."""
    used = sum(cpu_seconds(p.pid) or 0.0 for p in programs)
    return used, sum(run_queue_seconds(p.pid) for p in programs)


def _cpu_split(db: Program, seeder: Program, fetchers: list[Program]) -> list[float]:
    """CPU seconds so far of the database peer, the seeder, and all fetchers together."""
    return [cpu_seconds(db.pid) or 0.0, cpu_seconds(seeder.pid) or 0.0,
            sum(cpu_seconds(f.pid) or 0.0 for f in fetchers)]  # fmt: skip


def _served_words(served: Counter[str]) -> str:
    """`seeder 9, vault 6, fetchers 3`: who sent bytes to how many fetchers, over all rounds."""
    kinds: Counter[str] = Counter()
    for who, count in served.items():
        kinds["fetchers" if re.fullmatch(r"f\d+", who) else who] += count
    return ", ".join(f"{who} {count}" for who, count in kinds.most_common()) or "—"


def _section(
    setting: Setting,
    results: dict[tuple[str, int], Crowd],
    skipped: dict[str, str],
    piece_size: int = 0,
) -> Section:
    piece_kib = piece_size // 1024
    ideal = setting.ideal
    size_mib = setting.size // MIB
    section = Section(
        f"7. LAN flash crowd: N fetchers ask for one {size_mib} MiB file at once, "
        f"{setting.mbit} Mbit/s per host (median of {setting.rounds} rounds)"
    )
    low, high = setting.sizes[0], setting.sizes[-1]
    rows = []
    ratios: dict[tuple[str, int], float] = {}
    for tool in (RP2P, BITTORRENT):
        if tool in skipped:
            rows.append([tool, "—", "—", "—", "—", "—", f"not measured: {skipped[tool]}"])
            continue
        for n in setting.sizes:
            crowd = results.get((tool, n))
            if crowd is None or not crowd.seconds:
                rows.append([tool, str(n), "—", "—", "—", "—", "not measured (see the log)"])
                continue
            seconds = median(crowd.seconds)
            ratios[tool, n] = seconds / ideal
            rows.append([
                tool, str(n), fmt(seconds, 2), f"**{seconds / ideal:.2f}x**",
                ", ".join(fmt(s, 2) for s in crowd.seconds),
                f"{median(crowd.cores):.2f} / {median(crowd.waiting):.2f} / "
                f"{median(crowd.machine):.0%}",
                _served_words(crowd.served) if tool == RP2P else "the swarm",
            ])  # fmt: skip
    section.table(
        ["tool", "N", "time (s)", "÷ ideal", "seconds per round", "CPU: used / waiting for a core (cores) / machine busy",
         "who sent bytes (fetchers, all rounds)"],
        rows,
    )  # fmt: skip
    scaling = {
        tool: ratios[tool, high] / ratios[tool, low]
        for tool in (RP2P, BITTORRENT)
        if (tool, high) in ratios and (tool, low) in ratios
    }
    if low != high:
        section.note(
            f"Scaling, the N={high} ratio ÷ the N={low} ratio: "
            + (", ".join(f"{tool} {value:.2f}x" for tool, value in scaling.items()) or "n/a")
            + "."
        )
        section.note("")
    section.note(
        f"The swarm ideal is the size over one link: {size_mib} MiB x 8 / {setting.mbit} Mbit/s "
        f"= {ideal:.2f} s. Each host (the database peer, the seeder, every fetcher) is a network "
        f"namespace whose link is limited to {setting.mbit} Mbit/s both ways with `tc tbf`. rp2p "
        "runs over TLS, fetchers already joined and idle; its time ends at the last `got` line "
        "(every chunk SHA-256-checked, the file fsynced and in place); the seeder and the vault "
        "hold the file. BitTorrent has one seeder (no vault), each leecher's finish is aria2c's "
        "download-complete hook (every piece SHA-1-checked, not fsynced), the aria2c processes "
        "start when told to go, which adds their start-up (tens of ms) to their time. Every "
        "copy is checked against the source's SHA-256 after each round. CPU over a round: "
        "the tool's own processes' user + system time in cores, how many of them were "
        "runnable but waiting for a core (schedstat), and how busy the machine's "
        f"{os.cpu_count()} cores were (everything on it: the LAN's hosts share them). "
        + (
            f"Versions: {torrent.versions()}; torf's piece size here: {piece_kib} KiB."
            if BITTORRENT not in skipped
            else ""
        )
    )
    rp2p_high, bt_high = ratios.get((RP2P, high)), ratios.get((BITTORRENT, high))
    section.targets.append(
        Target(f"flash crowd: all N={high} rp2p fetchers done within 1.6x the swarm ideal",
               f"{rp2p_high:.2f}x" if rp2p_high else "n/a",
               rp2p_high <= 1.6 if rp2p_high else None)
    )  # fmt: skip
    section.targets.append(
        Target(f"flash crowd: rp2p ahead of BitTorrent at N={high}",
               f"{rp2p_high:.2f}x vs {bt_high:.2f}x the ideal" if rp2p_high and bt_high else "n/a",
               rp2p_high < bt_high if rp2p_high and bt_high else None)
    )  # fmt: skip
    if low != high:
        value = scaling.get(RP2P)
        section.targets.append(
            Target(f"flash crowd: rp2p's N={high} ratio ≤ 1.2x its N={low} ratio",
                   f"{value:.2f}x" if value else "n/a", value <= 1.2 if value else None)
        )  # fmt: skip
    return section
