"""The real programs on the simulated LAN: `rp2p-db` on one host, `rp2p-peer` on others.

Every program runs with ``ip netns exec`` on its host and is killed by the `Lan` at the end.
Each host has its own ports, so every database peer listens on 9000 (TCP, join codes included,
and UDP for its announcements) and every player on 7000, as on separate machines.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.faults.cluster import wait_for

from .hosts import Host

BIN = Path(sys.executable).parent
DB_PORT = 9000
PLAYER_PORT = 7000


@dataclass
class Database:
    host: Host
    process: subprocess.Popen[str]
    code: str
    log: Path

    @property
    def address(self) -> str:
        return f"{self.host.address}:{DB_PORT}"

    def log_text(self) -> str:
        return self.log.read_text()

    def wait_cataloged(self, *names: str, timeout: float = 20) -> None:
        wait_for(lambda: all(f"cataloged {n} " in self.log_text() for n in names),
                 timeout, f"the database peer to back up {names}", interval=0.02)  # fmt: skip


def start_database(host: Host, root: Path, *options: str) -> Database:
    """`rp2p-db` on `host`, once it printed its join code (`options`: round settings, ...)."""
    root.mkdir(parents=True, exist_ok=True)
    log = root / "db.log"
    settings = options or ("--pause-seconds", "3600")
    process = host.popen(
        [BIN / "rp2p-db", "--port", str(DB_PORT), "--data", root / "db", *settings],
        stdout=subprocess.PIPE, stderr=log.open("a"),
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"join code: (\S+)", line)
    assert match, f"rp2p-db on {host.name} printed {line!r}; its log: {log.read_text()}"
    return Database(host, process, match.group(1), log)


@dataclass
class Player:
    """A running `rp2p-peer` reading commands from a pipe; what it prints goes to `log`."""

    name: str
    host: Host
    process: subprocess.Popen[str]
    log: Path
    share: Path

    def output(self) -> str:
        return self.log.read_text()

    def say(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait_output(self, pattern: str, timeout: float = 20, *, count: int = 1) -> re.Match[str]:
        """The first match of the regular expression `pattern` in what it printed (once there
        are `count` matches)."""

        def search() -> list[re.Match[str]]:
            return list(re.finditer(pattern, self.output(), re.MULTILINE))

        wait_for(lambda: len(search()) >= count, timeout,
                 f"{self.name} to print {pattern!r}", interval=0.02)  # fmt: skip
        return search()[0]

    def get(self, name: str, timeout: float = 20) -> str:
        """Type `get NAME`; the line it answers (a `got` line, or fails with its error)."""
        self.say(f"get {name}")
        line = self.wait_output(rf"^(got {re.escape(name)} |error: ).*$", timeout).group(0)
        assert line.startswith("got "), f"{self.name}: {line}"
        return line


def player_args(
    name: str, database: Database, root: Path, *extra: str | Path, code_only: bool = False
) -> list[str | Path]:
    """`rp2p-peer`'s arguments; with `code_only`, the join code alone finds the host."""
    where = [] if code_only else ["--db", database.address]
    return [BIN / "rp2p-peer", "--name", name, "--port", str(PLAYER_PORT),
            *where, "--code", database.code,
            "--profile", root / "profiles" / name, "--share", root / f"share-{name}",
            *extra]  # fmt: skip


def start_player(
    host: Host, database: Database, root: Path, name: str,
    files: dict[str, bytes] | None = None, *extra: str | Path, code_only: bool = False,
) -> Player:  # fmt: skip
    """`rp2p-peer` on `host` seeding `files`, joined once the database peer says so."""
    share = root / f"share-{name}"
    share.mkdir(parents=True, exist_ok=True)
    for filename, data in (files or {}).items():
        (share / filename).write_bytes(data)
    log = root / f"{name}.log"
    out = log.open("a")
    process = host.popen(player_args(name, database, root, *extra, code_only=code_only),
                         stdin=subprocess.PIPE, stdout=out, stderr=out)  # fmt: skip
    wait_for(lambda: f"{name} joined from" in database.log_text() or process.poll() is not None,
             20, f"{name} to join", interval=0.02)  # fmt: skip
    assert process.poll() is None, f"{name} exited: {log.read_text()}"
    return Player(name, host, process, log, share)


def fetch(host: Host, database: Database, root: Path, name: str, *files: str) -> str:
    """`rp2p-peer --get` on `host` to the end; its output (it must exit 0)."""
    gets = [arg for f in files for arg in ("--get", f)]
    done = host.run(player_args(name, database, root, *gets), timeout=60, check=False)
    assert done.returncode == 0, f"{name} exited {done.returncode}: {done.stdout}{done.stderr}"
    return done.stdout
