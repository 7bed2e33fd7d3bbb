"""BitTorrent as the reference swarm of scenario 7: opentracker and aria2c (Debian's) on the LAN.

One private torrent per file (torf writes it, bench/maketorrent.py in bench/.venv), a tracker
that knows only those info-hashes (opentracker's whitelist), one seeding aria2c, and N leeching
aria2c with DHT, local peer discovery and everything else that could reach outside switched off.
Each leecher is started ahead as ``sh -c 'echo ready; read go && exec aria2c ...'``, so that
telling all of them to go costs one write each, as telling rp2p's fetchers `get NAME` does; the
time of each finish is written by aria2c's download-complete hook (every piece SHA-1-checked).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .common import BENCH, BENCH_VENV, cpu_seconds, run_queue_seconds, tool_version
from .lan import Host, Program

TRACKER_PORT = "6969"
PROXIES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
ARIA2C = [
    "env", *(arg for name in PROXIES for arg in ("-u", name)),  # aria2c would follow them
    "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
    "--seed-ratio=0.0", "--seed-time=100000", "--file-allocation=none", "--summary-interval=0",
    "--console-log-level=warn",
]  # fmt: skip
"""A clean private swarm: no proxy, no DHT, no local peer discovery; seed until stopped."""
HOOK = '#!/bin/sh\ndate +%s.%N > "$3.finished"\n'
"""aria2c's --on-bt-download-complete: the finish time beside the file (its 3rd argument)."""


def unavailable() -> str | None:
    """Why the BitTorrent reference cannot run here, or None."""
    missing = [tool for tool in ("aria2c", "opentracker") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (`make bench` installs them with apt-get)"
    python = BENCH_VENV / "bin" / "python"
    if (
        not python.exists()
        or subprocess.run([python, "-c", "import torf"], capture_output=True).returncode
    ):
        return "torf is not installed in bench/.venv (`make bench` installs it)"
    return None


def versions() -> str:
    aria2 = tool_version(["aria2c", "--version"])
    torf = tool_version([str(BENCH_VENV / "bin" / "python"), "-c",
                         "import torf; print('torf', torf.__version__)"])  # fmt: skip
    return f"{aria2}, opentracker (Debian), {torf}"


class Clock(Protocol):
    def start(self) -> None: ...
    def stop(self) -> float: ...


class Swarm:
    """The tracker on `tracker_host`; `round()` times one flash crowd of one torrent."""

    def __init__(self, root: Path, logs: Path, tracker_host: Host, files: list[Path]) -> None:
        self.root = root / "bittorrent"
        self.logs = logs
        self.root.mkdir(mode=0o755)
        self.tracker_host = tracker_host
        url = f"http://{tracker_host.address}:{TRACKER_PORT}/announce"
        made = subprocess.run(
            [BENCH_VENV / "bin" / "python", BENCH / "maketorrent.py", self.root, url, *files],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if made.returncode:
            raise RuntimeError(f"maketorrent.py failed: {made.stderr.strip()}")
        self.infohash: dict[str, str] = {}
        self.piece_size = 0
        for line in made.stdout.splitlines():
            infohash, name, piece_size = line.split()
            self.infohash[name] = infohash
            self.piece_size = int(piece_size)
        # opentracker chroots into its folder and runs as nobody: both must be readable by all
        jail = self.root / "tracker"
        jail.mkdir(mode=0o755)
        whitelist = jail / "whitelist"
        whitelist.write_text("".join(f"{h}\n" for h in self.infohash.values()))
        whitelist.chmod(0o644)
        for folder in (self.root, *self.root.parents):
            if folder.stat().st_mode & 0o005 != 0o005:
                raise RuntimeError(f"opentracker (user nobody) cannot enter {folder}")
        self.hook = self.root / "finished.sh"
        self.hook.write_text(HOOK)
        self.hook.chmod(0o755)
        address = tracker_host.address
        self.tracker = Program(tracker_host, ["opentracker", "-i", address, "-p", TRACKER_PORT,
                                              "-P", TRACKER_PORT, "-d", jail, "-w", "whitelist"],
                               logs / "opentracker.log", stdin=False)  # fmt: skip
        self._wait_tracker(lambda text: "d5:files" in text or "failure" in text, "answer")

    def _scrape(self, infohash: str) -> str:
        """The tracker's scrape answer for one torrent, asked from the tracker's own host."""
        quoted = "".join(f"%{infohash[i : i + 2]}" for i in range(0, len(infohash), 2))
        url = f"http://{self.tracker_host.address}:{TRACKER_PORT}/scrape?info_hash={quoted}"
        code = ("import sys, urllib.request\n"
                "opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
                "sys.stdout.write(opener.open(sys.argv[1], timeout=2).read().decode('latin-1'))")  # fmt: skip
        done = self.tracker_host.run([sys.executable, "-I", "-c", code, url], check=False)
        return done.stdout

    def _wait_tracker(
        self, ready: Callable[[str], bool], what: str, infohash: str = "", timeout: float = 30
    ) -> None:
        deadline = time.monotonic() + timeout
        infohash = infohash or next(iter(self.infohash.values()))
        while time.monotonic() < deadline:
            if self.tracker.process.poll() is not None:
                raise RuntimeError(f"opentracker exited; see {self.tracker.log}")
            if ready(self._scrape(infohash)):
                return
            time.sleep(0.1)
        raise TimeoutError(f"the tracker did not {what} in {timeout:.0f} s")

    def round(self, tag: str, source: Path, seed_host: Host, hosts: list[Host], clock: Clock,
              timeout: float = 300) -> tuple[float, list[Path], tuple[float, float]]:  # fmt: skip
        """Seed `source` from `seed_host`, then all of `hosts` fetch it at once: the seconds
        from telling them to go until the last has every piece, where their copies are, and
        the CPU seconds the aria2c processes used and waited for a core meanwhile (`clock`
        runs over the same time)."""
        name = source.name
        torrent = self.root / f"{name}.torrent"
        seed_dir = source.parent
        seeder = Program(seed_host, [*ARIA2C, "-V", "-d", seed_dir, torrent],
                         self.logs / f"bt-{tag}-seeder.log", stdin=False)  # fmt: skip
        leechers: list[Program] = []
        try:
            infohash = self.infohash[name]
            self._wait_tracker(lambda text: re.search(r"8:completei[1-9]", text) is not None,
                               "see the seeder", infohash, timeout=120)  # fmt: skip
            folders = []
            for host in hosts:
                folder = self.root / f"{tag}-{host.name}"
                folder.mkdir()
                folders.append(folder)
                aria2c = [*ARIA2C, f"--on-bt-download-complete={self.hook}", "-d", folder, torrent]
                line = shlex.join(str(a) for a in aria2c)
                leechers.append(Program(host, ["sh", "-c", f"echo ready; read go && exec {line}"],
                                        self.logs / f"bt-{tag}-{host.name}.log", stdin=True))  # fmt: skip
            for leecher in leechers:
                leecher.wait(r"^ready$", 30)
            seeder_cpu = cpu_seconds(seeder.pid) or 0.0, run_queue_seconds(seeder.pid)
            waited = sum(run_queue_seconds(p.pid) for p in leechers)
            clock.start()
            started = time.time()
            for leecher in leechers:
                leecher.say("go")
            marks = [folder / f"{name}.finished" for folder in folders]
            deadline = time.monotonic() + timeout
            while not all(mark.exists() and mark.read_text().strip() for mark in marks):
                for leecher in leechers:
                    if leecher.process.poll() is not None:
                        raise RuntimeError(f"aria2c exited; see {leecher.log}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"BitTorrent {tag}: not done after {timeout:.0f} s")
                time.sleep(0.02)
            clock.stop()
            finished = max(float(mark.read_text()) for mark in marks)
            programs = (seeder, *leechers)
            cpu = sum(cpu_seconds(p.pid) or 0.0 for p in programs) - seeder_cpu[0]
            waited = sum(run_queue_seconds(p.pid) for p in programs) - seeder_cpu[1] - waited
            return finished - started, [folder / name for folder in folders], (cpu, waited)
        finally:
            for program in (seeder, *leechers):
                program.stop()
            for leftover in seed_dir.glob("*.aria2"):
                leftover.unlink()

    def close(self) -> None:
        self.tracker.stop()
