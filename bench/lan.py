"""The real programs on the simulated LAN of tests/lan/hosts.py, for scenarios 7 to 9.

Each host is a network namespace with its own address and a `tc tbf` rate on both ends of its
link; every program runs in one with ``ip netns exec``. Each program's output is read by a
thread that stamps every line with the time it arrived, so a round ends at the moment the last
`got` line was printed, not when a poll happened to see it.

`simulated_lan()` removes namespaces left by earlier runs that died, and everything it made
when it ends, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO

from tests.lan.hosts import Host, Lan, remove_stale, unavailable

BIN = Path(sys.executable).parent
DB_PORT = 9000
PLAYER_PORT = 7000
"""Each host has ports of its own, as separate machines: every program uses the same ones."""

__all__ = ["BIN", "Host", "Lan", "LanRp2p", "Program", "simulated_lan", "sources_of", "unavailable"]


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def simulated_lan() -> Iterator[Lan]:
    """A fresh `Lan`; namespaces of dead runs are removed first, ours at the end, whatever
    happens (SIGTERM is turned into KeyboardInterrupt meanwhile, so cleanup runs then too)."""
    remove_stale()
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        lan = Lan()
        try:
            yield lan
        finally:
            lan.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


class Program:
    """A process on a host: its output lines with their arrival times (and a log copy)."""

    def __init__(self, host: Host, argv: list[str | Path], log: Path, *, stdin: bool) -> None:
        self.host = host
        self.log = log
        self.lines: list[tuple[float, str]] = []
        self.process = host.popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("a") as copy:
            for line in self.process.stdout:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                copy.write(line)
                copy.flush()

    @property
    def pid(self) -> int:
        """The program's own pid: `ip netns exec` execs it."""
        return self.process.pid

    def say(self, command: str) -> None:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()

    def find(self, pattern: str, since: int = 0) -> tuple[float, str] | None:
        regex = re.compile(pattern)
        for stamp, line in self.lines[since:]:
            if regex.search(line):
                return stamp, line
        return None

    def wait(self, pattern: str, timeout: float, since: int = 0) -> tuple[float, str]:
        """The first line from index `since` on matching `pattern`, and when it arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(pattern, since)
            if found is not None:
                return found
            if self.process.poll() is not None:
                self._reader.join(1)
                found = self.find(pattern, since)
                if found is not None:
                    return found
                raise RuntimeError(
                    f"{self.host.name}: exited {self.process.returncode} before printing "
                    f"{pattern!r}; see {self.log}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.host.name}: no {pattern!r} after {timeout:.0f} s; see {self.log}"
                )
            time.sleep(0.01)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(5)


class LanRp2p:
    """`rp2p-db` on one host and `rp2p-peer`s on others, with TLS, joined by the db's code."""

    def __init__(self, root: Path, logs: Path) -> None:
        self.root = root
        self.logs = logs
        self.db: Program | None = None
        self.code = ""

    def start_database(self, host: Host) -> Program:
        # The hunt is kept idle (one instant round, then a pause longer than the benchmark), so
        # no find is claimed and proven mid-measurement: only the transfers are timed.
        db = self.db = Program(host, [
            BIN / "rp2p-db", "--port", str(DB_PORT), "--data", self.root / f"db-{host.name}",
            "--round-seconds", "0.001", "--lobby-seconds", "0", "--pause-seconds", "1e9",
        ], self.logs / f"{host.name}.log", stdin=False)  # fmt: skip
        _, line = db.wait(r"join code: \S+", 60)
        self.code = line.split("join code:")[1].split()[0]
        self.address = f"{host.address}:{DB_PORT}"
        return db

    def start_player(self, host: Host, name: str, share: Path, *, trace: bool = False) -> Program:
        """A long-running `rp2p-peer` reading commands on stdin, once the db says it joined."""
        player = self.launch_player(host, name, share, trace=trace)
        self.wait_joined(player, name)
        return player

    def launch_player(self, host: Host, name: str, share: Path, *, trace: bool = False) -> Program:
        """`start_player` without the wait: start many, then `wait_joined` for each. `trace`:
        through `bench/tracepeer.py`, which prints the swarm's debug lines stamped to the ms."""
        assert self.db is not None
        share.mkdir(parents=True, exist_ok=True)
        profile = self.root / "profiles" / name
        code = [] if profile.exists() else ["--code", self.code]
        program: list[str | Path] = [sys.executable, "-m", "bench.tracepeer"] if trace else [
            BIN / "rp2p-peer"]  # fmt: skip
        return Program(host, [
            *program, "--name", name, "--port", str(PLAYER_PORT), "--db", self.address,
            "--profile", profile, "--share", share, *code,
        ], self.logs / f"{name}.log", stdin=True)  # fmt: skip

    def wait_joined(self, player: Program, name: str, timeout: float = 120) -> None:
        assert self.db is not None
        deadline = time.monotonic() + timeout
        while self.db.find(rf"\b{re.escape(name)} joined from ") is None:
            if player.process.poll() is not None:
                raise RuntimeError(f"{name} exited before joining; see {player.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not join in {timeout:.0f} s; see {player.log}")
            time.sleep(0.02)

    @staticmethod
    def wait_backed_up(seeder: Program, names: list[str], timeout: float = 600) -> None:
        """Until the seeder printed that the vault holds every one of `names`."""
        for name in names:
            seeder.wait(rf"backed up {re.escape(name)} in the vault", timeout)

    @staticmethod
    def wait_catalog(player: Program, names: list[str], timeout: float = 60) -> None:
        """Until the player's catalog lists every one of `names` (asked with `list`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            since = len(player.lines)
            player.say("list")
            answer = time.monotonic() + 2
            while time.monotonic() < answer:
                listed = {line.split("  ")[0] for _, line in player.lines[since:]}
                if all(n in listed for n in names):
                    return
                time.sleep(0.02)
        raise TimeoutError(f"{player.host.name}: its catalog lacks some of {names}")

    def wait_hunt_idle(self, timeout: float = 120) -> None:
        """Until the idle hunt's one instant round is over (none starts during the rounds)."""
        assert self.db is not None
        self.db.wait(r"round 1 over", timeout)

    @staticmethod
    def get_all(fetchers: list[Program], name: str, timeout: float) -> tuple[float, list[str]]:
        """Tell every fetcher `get NAME` at once: the seconds until the last `got` line arrived,
        and those lines. A fetcher that answers anything else fails the round."""
        since = [len(f.lines) for f in fetchers]
        answer = rf"^(got {re.escape(name)} |already have |error: |rp2p-peer: )"
        started = time.monotonic()
        for fetcher in fetchers:
            fetcher.say(f"get {name}")
        last, lines = started, []
        for fetcher, mark in zip(fetchers, since, strict=True):
            stamp, line = fetcher.wait(answer, timeout, since=mark)
            if not line.startswith("got "):
                raise RuntimeError(f"{fetcher.host.name}: {line}")
            last = max(last, stamp)
            lines.append(line)
        return last - started, lines


def sources_of(line: str) -> list[str]:
    """Who sent bytes, from a `got` line: `from X after ...`, or `(N B from X, then ...)`."""
    parts = re.findall(r"[\d,]+ B from ([^,)]+)", line)
    if parts:
        return [p.strip() for p in parts]
    found = re.search(r" from (the vault|\S+) after ", line)
    return [found.group(1)] if found else []
