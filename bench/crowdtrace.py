"""The timeline of one flash-crowd round (scenario 7 with BENCH_CROWD_TRACE=1), not a figure.

While a round runs, `NetSampler` reads every host's eth0 byte counters (``/proc/PID/net/dev`` of
a program in the host's namespace) and each program's CPU every `EVERY` seconds. After it,
`timeline()` puts those beside the fetchers' swarm lines (`bench/tracepeer.py`: each chunk
received, stored, begun and sent, stamped to the ms) and their `got` lines, and writes a text
report: per fetcher the first byte, first and last verified chunk and `got`; per `BIN` seconds
every host's receive and send rate; the round split into start-up (the fetchers together below
`FULL` of N links), middle and tail (first `got` to last).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .lan import Program

EVERY = 0.02
BIN = 0.25
FULL = 0.9
"""The start-up lasts until the fetchers together receive at this share of their N links."""
MARK = "@"


@dataclass
class Series:
    stamps: list[float] = field(default_factory=list)
    rx: list[int] = field(default_factory=list)
    tx: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def at(self, values: list[int] | list[float], t: float) -> float:
        """The counter's value at time `t` (linear between samples)."""
        stamps = self.stamps
        if not stamps or t <= stamps[0]:
            return float(values[0]) if values else 0.0
        for k in range(1, len(stamps)):
            if stamps[k] >= t:
                a, b = stamps[k - 1], stamps[k]
                share = (t - a) / (b - a) if b > a else 1.0
                return values[k - 1] + share * (values[k] - values[k - 1])
        return float(values[-1])


class NetSampler:
    """Samples the hosts' link counters and the programs' CPU in a thread of the bench."""

    def __init__(self, programs: dict[str, Program]) -> None:
        self.programs = programs
        self.series = {name: Series() for name in programs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, program in self.programs.items():
                sample = self._sample(program.pid)
                if sample is not None:
                    series = self.series[name]
                    series.stamps.append(time.monotonic())
                    series.rx.append(sample[0])
                    series.tx.append(sample[1])
                    series.cpu.append(sample[2])
            self._stop.wait(EVERY)

    def _sample(self, pid: int) -> tuple[int, int, float] | None:
        try:
            for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines():
                if line.strip().startswith("eth0:"):
                    fields = line.split(":", 1)[1].split()
                    rx, tx = int(fields[0]), int(fields[8])
                    break
            else:
                return None
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return rx, tx, (int(stat[11]) + int(stat[12])) / self._tick


_LINE = re.compile(rf"^{MARK}(\d+\.\d+) (.*)$")


def _events(program: Program, since: int, wall0: float) -> list[tuple[float, str]]:
    """The program's swarm lines since line `since`, as (seconds after the get, message)."""
    found = []
    for _, line in program.lines[since:]:
        match = _LINE.match(line)
        if match:
            found.append((float(match.group(1)) - wall0, match.group(2)))
    return found


def timeline(
    sampler: NetSampler,
    fetchers: list[Program],
    marks: list[int],
    started: float,
    wall0: float,
    name: str,
    mbit: int,
    others: dict[str, Program],
) -> str:
    """The report of one round (see the module's docstring)."""
    rate = mbit * 1e6 / 8
    out: list[str] = [f"# {name}: N={len(fetchers)}, link {mbit} Mbit/s = {rate / 1e6:.1f} MB/s"]
    gots: dict[str, float] = {}
    rows = []
    for fetcher, mark in zip(fetchers, marks, strict=True):
        host = fetcher.host.name
        got = next((s - started for s, line in fetcher.lines[mark:]
                    if line.startswith(f"got {name} ")), float("nan"))  # fmt: skip
        gots[host] = got
        events = _events(fetcher, mark, wall0)
        stored = [(t, m) for t, m in events if m.startswith("stored chunk")]
        received = [t for t, m in events if m.startswith("receiving chunk")]
        sent = [t for t, m in events if m.startswith("sent chunk")]
        series = sampler.series[host]
        rx0 = series.at(series.rx, started)
        first_byte = next((t - started for t, rx in zip(series.stamps, series.rx, strict=True)
                           if t >= started and rx - rx0 > 64 * 1024), float("nan"))  # fmt: skip
        rx_total = series.at(series.rx, started + got) - rx0 if got == got else float("nan")
        sources: dict[str, int] = {}
        for _, message in stored:
            who = message.rsplit(" from ", 1)[1]
            sources[who] = sources.get(who, 0) + 1
        rows.append(
            f"{host}: first byte {first_byte:.2f}  first header {min(received, default=-1):.2f}  "
            f"first stored {stored[0][0] if stored else -1:.2f}  last stored "
            f"{stored[-1][0] if stored else -1:.2f}  got {got:.2f}  chunks sent {len(sent)}  "
            f"rx {rx_total / 1e6:.1f} MB  from {dict(sorted(sources.items()))}"
        )
    out += rows
    end = max(v for v in gots.values() if v == v)
    first_got = min(v for v in gots.values() if v == v)
    hosts = [f.host.name for f in fetchers]
    everyone = {**others, **{f.host.name: f for f in fetchers}}
    bins = int(end / BIN) + 1
    header = "   t  | fetchers rx MB/s (sum, % of N links) | " + " ".join(f"{h:>5}" for h in hosts)
    out.append("")
    out.append("rx per fetcher, MB/s, per bin; tx of each host below")
    out.append(header)
    startup_end = None
    for k in range(bins):
        a, b = started + k * BIN, started + (k + 1) * BIN
        rates = []
        for host in hosts:
            s = sampler.series[host]
            rates.append((s.at(s.rx, b) - s.at(s.rx, a)) / BIN)
        total = sum(rates)
        share = total / (rate * len(hosts))
        if startup_end is None and share >= FULL:
            startup_end = k * BIN
        out.append(f"{k * BIN:5.2f} | {total / 1e6:6.1f} {share:5.0%} | "
                   + " ".join(f"{r / 1e6:5.1f}" for r in rates))  # fmt: skip
    out.append("")
    out.append("tx per host, MB/s, per bin (and CPU of the round, core-s)")
    names = list(everyone)
    out.append("   t  | " + " ".join(f"{h:>6}" for h in names))
    for k in range(bins):
        a, b = started + k * BIN, started + (k + 1) * BIN
        cells = []
        for host in names:
            s = sampler.series[host]
            cells.append(f"{(s.at(s.tx, b) - s.at(s.tx, a)) / BIN / 1e6:6.1f}")
        out.append(f"{k * BIN:5.2f} | " + " ".join(cells))
    cpu = []
    for host in names:
        s = sampler.series[host]
        cpu.append(f"{s.at(s.cpu, started + end) - s.at(s.cpu, started):6.2f}")
    out.append("  cpu | " + " ".join(cpu))
    lost = 0.0
    for k in range(bins):
        a, b = started + k * BIN, started + min((k + 1) * BIN, end)
        for host in hosts:
            s = sampler.series[host]
            done = gots[host] < k * BIN
            if not done and b > a:
                lost += (b - a) - (s.at(s.rx, b) - s.at(s.rx, a)) / rate
    out.append("")
    out.append(
        f"round {end:.2f} s; start-up (fetchers below {FULL:.0%} of N links) "
        f"{startup_end if startup_end is not None else float('nan'):.2f} s; tail (first got "
        f"{first_got:.2f} to last {end:.2f}) {end - first_got:.2f} s; fetcher-link seconds idle "
        f"before their got: {lost:.1f} ({lost / len(hosts):.2f} s each)"
    )
    return "\n".join(out)
