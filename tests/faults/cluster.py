"""Real `rp2p-db` and `rp2p-peer` processes on loopback, for the fault-injection suite.

Every process is started by a `Cluster`, which kills whatever is still running when the test ends.
Every wait has a deadline, so a hang fails the test instead of freezing CI.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..ports import free_port

BIN = Path(sys.executable).parent


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, *, interval: float = 0.002
) -> None:
    """Poll `predicate` every `interval` seconds (longer where each check starts a process)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


PORT_TRIES = 3
DB_START_TIMEOUT = 60.0
"""How long `rp2p-db` may take to print its join code (a loaded machine's start is seconds)."""


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line `process` prints, waited for no longer than `timeout` ('' at its end)."""
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return f"nothing in {timeout:g} s"


def how_it_ended(process: subprocess.Popen[str]) -> str:
    """'still runs', 'exited 2', or 'was killed by SIGQUIT': a silent end says who ended it."""
    status = process.poll()
    if status is None:
        return "still runs"
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited {status}"


def peak_rss_kib(pid: int) -> int:
    """The peak resident memory of a running process (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


class Cluster:
    """A database peer and the peers around it, as processes; `close()` kills what is left."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen[str]] = []
        self.db_port = free_port()
        self.enroll_port = free_port()
        self.discovery_port = free_port()
        """UDP: this cluster's own, so clusters of tests running at once do not hear each other."""
        self.code = ""
        self.code_line = ""
        """What the database peer printed of its join code at its last start."""
        self.db: subprocess.Popen[str] | None = None
        self.db_started = False
        """It printed its join code once: it restarts on the ports it had."""
        self._said: dict[str, int] = {}

    @property
    def data(self) -> Path:
        return self.root / "db"

    def start_db(self, *options: str) -> subprocess.Popen[str]:
        """Start (or restart) the database peer on the same port and data folder; `options`
        are more of its options (by default no round ever starts: the countdown is an hour).

        Its ports were free when this cluster was made, but another process may have taken one
        since (a port handed out as an outgoing connection's): at its first start, the
        database peer is started again on new ports while it says a port is taken."""
        for attempt in range(PORT_TRIES):
            said = len(self.db_log()) if (self.root / "db.log").exists() else 0
            line = self._start_db(options)
            if "join code: " in line or self.db_started or attempt == PORT_TRIES - 1:
                break
            if self.db is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.db.wait(10)
            if "Address already in use" not in self.db_log()[said:]:
                break
            self.db_port, self.enroll_port = free_port(), free_port()
        match = re.search(r"join code: (\S+)", line)
        assert self.db is not None
        if not match:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.db.wait(10)
            raise AssertionError(
                f"rp2p-db printed {line!r} and {how_it_ended(self.db)}; its log ends:"
                f" {self.db_log()[-800:]}"
            )
        self.code = self.code or match.group(1)
        self.code_line = line.strip()
        self.db_started = True
        return self.db

    def _start_db(self, options: tuple[str, ...]) -> str:
        """Start `rp2p-db`; the first line it printed."""
        log = (self.root / "db.log").open("a")
        self.db = self.spawn(
            [BIN / "rp2p-db", *self.db_args(), "--pause-seconds", "3600", *options],
            stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        return first_line(self.db, DB_START_TIMEOUT)

    def db_log(self) -> str:
        return (self.root / "db.log").read_text()

    def peer_log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def peer_args(self, name: str, port: int | None = None) -> list[str]:
        return [
            "--host", "127.0.0.1", "--port", str(port or free_port()), "--name", name,
            "--db", f"127.0.0.1:{self.db_port}", "--enroll-port", str(self.enroll_port),
            "--code", self.code, "--profile", str(self.root / "profiles" / name),
            "--share", str(self.root / f"share-{name}"),
        ]  # fmt: skip

    def share(self, name: str) -> Path:
        path = self.root / f"share-{name}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def seeder(
        self, name: str, files: dict[str, bytes] | None = None, *, port: int | None = None
    ) -> subprocess.Popen[str]:
        """A peer seeding `files`, reading commands from a pipe we keep open (on `port`, to
        start the same peer again)."""
        for filename, data in (files or {}).items():
            (self.share(name) / filename).write_bytes(data)
        log = (self.root / f"{name}.log").open("a")
        return self._spawn(
            [BIN / "rp2p-peer", *self.peer_args(name, port)],
            stdin=subprocess.PIPE, stdout=log, stderr=log,
        )  # fmt: skip

    def bot(self, name: str, files: dict[str, bytes], *options: str) -> subprocess.Popen[str]:
        """`rp2p-peer --bot` seeding `files`; `options` such as `--level hard`."""
        for filename, data in files.items():
            (self.share(name) / filename).write_bytes(data)
        log = (self.root / f"{name}.log").open("a")
        return self._spawn(
            [BIN / "rp2p-peer", *self.peer_args(name), "--bot", *options],
            stdout=log, stderr=log,
        )  # fmt: skip

    def fetcher(self, name: str, *files: str, share: Path | None = None) -> subprocess.Popen[str]:
        """`rp2p-peer --get` for `files` (into `share` if given); its stdout says where each
        came from."""
        gets = [arg for f in files for arg in ("--get", f)]
        folder = ["--share", str(share)] if share else []
        log = (self.root / f"{name}.log").open("a")
        return self._spawn(
            [BIN / "rp2p-peer", *self.peer_args(name), *folder, *gets],
            stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip

    def fetch(self, name: str, *files: str, timeout: float = 60, share: Path | None = None) -> str:
        """Run a fetcher to the end; its standard output (it must exit 0)."""
        process = self.fetcher(name, *files, share=share)
        out, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, f"{name} exited {process.returncode}: {out}"
        return out

    def player(
        self, name: str, files: dict[str, bytes] | None = None, *, share: Path | None = None
    ) -> Player:
        """A peer seeding `files`, that reads commands from us and whose answers we read."""
        for filename, data in (files or {}).items():
            (share or self.share(name)).joinpath(filename).write_bytes(data)
        folder = ["--share", str(share)] if share else []
        log = (self.root / f"{name}.log").open("a")
        process = self._spawn(
            [BIN / "rp2p-peer", *self.peer_args(name), *folder],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        return Player(process)

    def run(
        self, program: str, *args: object, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `rp2p-db` or `rp2p-peer` to its end; its exit status, stdout and stderr."""
        process = self._spawn([BIN / program, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            process.wait()
            said = (exc.stderr or b"").decode(errors="replace")
            raise AssertionError(
                f"{program} still ran after {timeout:g} s; it said: {said}"
            ) from None
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def db_args(self) -> list[str]:
        return [
            "--host", "127.0.0.1", "--port", str(self.db_port),
            "--enroll-port", str(self.enroll_port), "--data", str(self.data),
            "--discovery-port", str(self.discovery_port),
        ]  # fmt: skip

    def wait_said(self, name: str, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait for a line of `name`'s log (a peer's, or ``db``'s) matching `pattern`, after
        the line the last `wait_said` for it matched; the match."""
        path = self.root / f"{name}.log"
        match = None

        def found() -> bool:
            nonlocal match
            match = re.compile(pattern).search(path.read_text(), self._said.get(name, 0))
            return match is not None

        wait_for(found, timeout, f"{name} to say {pattern!r}", interval=0.05)
        assert match is not None
        self._said[name] = match.end()
        return match

    def wait_cataloged(self, *names: str, timeout: float = 60) -> None:
        wait_for(
            lambda: all(f"cataloged {n} " in self.db_log() for n in names),
            timeout, f"the database peer to back up {names}",
        )  # fmt: skip

    def spawn(self, command: list[object], **options: object) -> subprocess.Popen[str]:
        """Start a program of ours (killed at `close()` if still running)."""
        process = subprocess.Popen(
            [str(c) for c in command], text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            **options,  # type: ignore[call-overload]
        )  # fmt: skip
        self.processes.append(process)
        return process

    _spawn = spawn

    def kill(self, process: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
        process.send_signal(sig)
        process.wait(timeout=20)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=20)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


class Player:
    """A running `rp2p-peer` reading commands from a pipe; `ask` waits for the answer's line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # closed under us when the test ends
            for line in self.process.stdout:
                self._lines.put(line.rstrip("\n"))

    def ask(self, command: str, timeout: float = 60) -> str:
        """Type `command`; the first line it answers."""
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self._lines.get(timeout=0.05)
            except queue.Empty:
                if self.process.poll() is not None:
                    self._reader.join(timeout=5)  # what it printed before it ended
                    if not self._lines.empty():
                        continue
                    raise AssertionError(
                        f"the peer exited ({self.process.returncode}) instead of answering {command!r}"
                    ) from None
        raise AssertionError(f"no answer to {command!r} after {timeout:g} s")

    def type(self, command: str) -> None:
        """Type `command`, not waiting for anything."""
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def next_line(self, timeout: float = 60) -> str:
        """The next line it printed (of an answer longer than one line)."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no more lines after {timeout:g} s") from None

    def get(self, name: str, timeout: float = 60) -> str:
        """`get name`, asked again while the catalog pushed to this peer lacks it; the answer."""
        deadline = time.monotonic() + timeout
        while (answer := self.ask(f"get {name}", timeout)).endswith(": not in the catalog"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return answer
