"""`make demo`: a complete local game on 127.0.0.1, and you in it.

Starts a database peer (secure, as in real use), three bots that each seed their own set of sample
files and hunt every round's targets, then opens `rp2p-tui` for you. Everything lives in
`demo/.run/`, made fresh each time. Quitting the TUI stops every process the demo started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from . import samples

RUN = Path(os.environ.get("RP2P_DEMO_DIR") or Path(__file__).parent / ".run")
"""Where the demo's game lives; tests point it elsewhere so they never touch a player's game."""
BIN = Path(sys.executable).parent
ROUND_SECONDS, PAUSE_SECONDS, LOBBY_SECONDS = 120, 10, 3
BOTS = {"ada": "hard", "brick": "normal", "cosmo": "easy"}
"""The opponents and their levels (`rp2p-peer --bot --level`): one you can beat, one you can't."""


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            found: int = probe.getsockname()[1]
            return found
    raise RuntimeError("no free port")


def start_database(port: int, log: IO[str]) -> tuple[subprocess.Popen[str], str]:
    """The database peer, and the join code it prints."""
    process = subprocess.Popen(
        [BIN / "rp2p-db", "--host", "127.0.0.1", "--port", str(port),
         "--enroll-port", str(free_port(0)), "--data", RUN / "db",
         "--round-seconds", str(ROUND_SECONDS), "--pause-seconds", str(PAUSE_SECONDS),
         "--lobby-seconds", str(LOBBY_SECONDS)],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := re.search(r"join code: (\S+)", line):
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"the database peer did not start; see {RUN / 'db.log'}")


def enroll_port_of(database: subprocess.Popen[str]) -> str:
    args = [str(a) for a in database.args]  # type: ignore[union-attr]
    return args[args.index("--enroll-port") + 1]


def player_args(name: str, port: int, db_port: int, enroll: str, code: str) -> list[str]:
    return [
        "--host", "127.0.0.1", "--port", str(port), "--name", name,
        "--db", f"127.0.0.1:{db_port}", "--enroll-port", enroll, "--code", code,
        "--share", str(RUN / f"share-{name}"), "--profile", str(RUN / "profiles" / name),
    ]  # fmt: skip


def main() -> int:
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    print("Preparing sample files ...", flush=True)
    for name, files in zip(BOTS, samples.sets(), strict=True):
        share = RUN / f"share-{name}"
        share.mkdir()
        for filename, data in files.items():
            (share / filename).write_bytes(data)
    processes: list[subprocess.Popen[str]] = []
    with contextlib.ExitStack() as logs:
        try:
            return play(processes, logs)
        except KeyboardInterrupt:
            return 130
        finally:
            stop(processes)


def play(processes: list[subprocess.Popen[str]], logs: contextlib.ExitStack) -> int:
    """Start the database peer and the bots, then let the person at the keyboard play."""
    db_port = free_port(9000)
    db_log = logs.enter_context(open(RUN / "db.log", "w"))  # noqa: SIM115 - closed by the stack
    database, code = start_database(db_port, db_log)
    processes.append(database)
    enroll = enroll_port_of(database)
    for name, level in BOTS.items():
        log = logs.enter_context(open(RUN / f"{name}.log", "w"))  # noqa: SIM115 - as above
        args = player_args(name, free_port(0), db_port, enroll, code)
        command = [BIN / "rp2p-peer", *args, "--bot", "--level", level]
        processes.append(
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, text=True)
        )
    print(f"Database peer on 127.0.0.1:{db_port}, join code {code}; bots: {', '.join(BOTS)}.")
    tui = BIN / "rp2p-tui"
    if not tui.exists():
        print("rp2p-tui is not installed; watching the bots (Ctrl-C stops the demo).")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 1
    you = os.environ.get("USER") or "you"
    command = [tui, *player_args(you, free_port(8001), db_port, enroll, code)]
    return subprocess.run(command, check=False).returncode


def stop(processes: list[subprocess.Popen[str]]) -> None:
    """Stop everything the demo started: nothing is left running or listening."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
