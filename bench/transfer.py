"""Scenarios 1 and 2: one big file between two processes on loopback, and their peak memory.

Every round runs each tool once, in a rotating order, on the same source file (in the page cache):

* rp2p: an `rp2p-db` and a seeding `rp2p-peer` run for the whole scenario; the seeder's backup
  upload into the vault is finished before anything is timed. Timed: one `rp2p-peer --get`
  process from start to exit (start-up, join, search, transfer, verify, fsync, leave).
* raw: `socket.sendfile` from one process into a plain `recv_into` + `write` loop in another.
* http: `python -m http.server` and `curl -o`.
* wormhole: magic-wormhole's own mailbox server and transit relay on 127.0.0.1; `wormhole send`
  is started and has announced its code before the timed `wormhole receive` starts.

A receiver's (and a per-round sender's) peak RSS is `wait4`'s ru_maxrss, taken by the small
bench/spawn.py that starts it (so the benchmark's own size does not leak in; its ~8 MiB is the
floor). A long-running sender's is its VmHWM, reset just before the timed run
(`/proc/PID/clear_refs`), so its start-up hashing and backup upload are not counted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .common import (
    BENCH,
    BENCH_VENV,
    MIB,
    Finished,
    Processes,
    fmt,
    free_port,
    log,
    logs_dir,
    make_random_file,
    median,
    proc_status_kib,
    ratio,
    reset_peak_rss,
    scratch_dir,
    sha256_file,
    tool_version,
    wait_for_text,
    wait_listening,
)
from .report import Section, Target

BIN = Path(sys.executable).parent
WORMHOLE_PY = BENCH_VENV / "bin" / "python"
TINY = 1024


@dataclass
class Runs:
    name: str
    size: int
    seconds: list[float] = field(default_factory=list)
    receiver_mib: list[float] = field(default_factory=list)
    sender_mib: list[float] = field(default_factory=list)
    skipped: str = ""

    def add(self, finished: Finished, sender_mib: float | None) -> None:
        self.seconds.append(finished.seconds)
        self.receiver_mib.append(finished.maxrss_mib)
        if sender_mib is not None:
            self.sender_mib.append(sender_mib)

    @property
    def mib_s(self) -> float:
        return self.size / MIB / median(self.seconds) if self.seconds else float("nan")


class Rp2p:
    """A database peer and a seeder of the shared folder, plain TCP or TLS (the default)."""

    def __init__(self, procs: Processes, root: Path, seed: Path, logs: Path, *, tls: bool) -> None:
        self.procs = procs
        self.root = root
        self.seed = seed
        self.logs = logs
        self.tls = tls
        self.mode = "tls" if tls else "plain"
        self.profiles = root / f"profiles-{self.mode}"
        self.code = ""
        self.db_options: list[str | Path] = []  # e.g. the stores (scenario 5's scaled rows)

    def _log(self, name: str) -> IO[bytes]:
        return (self.logs / f"{self.mode}-{name}").open("ab")

    def _own_share(self) -> Path:
        """The seed files hard-linked into a folder of this seeder's own: a share belongs to
        one peer at a time, and the plain and the TLS seeder run side by side."""
        share = self.root / f"seed-{self.mode}"
        share.mkdir(exist_ok=True)
        for path in self.seed.iterdir():
            if path.is_file() and not (share / path.name).exists():
                os.link(path, share / path.name)
        return share

    def security(self, name: str) -> list[str | Path]:
        if not self.tls:
            return ["--insecure-lan"]
        options: list[str | Path] = ["--profile", self.profiles / name,
                                     "--enroll-port", str(self.enroll_port)]  # fmt: skip
        if not (self.profiles / name).exists():
            options += ["--code", self.code]  # joins the network once, then the profile is kept
        return options

    def start(self, names: list[str]) -> None:
        """Start both, and wait until the vault holds every one of `names`."""
        self.db_port, self.enroll_port = free_port(), free_port()
        # The hunt is kept idle (one instant round, then a pause longer than the benchmark), so
        # no find is claimed and proven mid-measurement: only the transfer is timed.
        db_log = self.logs / f"{self.mode}-db.log"
        self.db_log = db_log
        self.db = db = self.procs.start(
            [BIN / "rp2p-db", "--host", "127.0.0.1", "--port", self.db_port,
             "--enroll-port", self.enroll_port, "--data", self.root / f"db-{self.mode}",
             "--round-seconds", "0.001", "--pause-seconds", "1e9",
             *([] if self.tls else ["--insecure-lan"]), *self.db_options],
            stdout=db_log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        if self.tls:
            line = wait_for_text(db_log, r"join code: \S+", 60, db)
            self.code = line.split("join code:")[1].split()[0]
        wait_listening(self.db_port, proc=db)
        seeder_log = self.logs / f"{self.mode}-seeder.log"
        share = self._own_share()
        self.seeder = self.procs.start(
            [BIN / "rp2p-peer", "--host", "127.0.0.1", "--db", f"127.0.0.1:{self.db_port}",
             "--share", share, "--name", "seeder", *self.security("seeder")],
            stdin=subprocess.PIPE, stdout=seeder_log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        started = time.monotonic()
        missing = set(names)
        while missing:
            line = wait_for_text(seeder_log, r"backed up \S+ in the vault", 900, self.seeder,
                                 skip=len(names) - len(missing))  # fmt: skip
            missing.discard(line.split("backed up ")[1].split(" in the vault")[0])
        log(f"{self.mode} seeder hashed and backed up {len(names)} files in "
            f"{time.monotonic() - started:.1f} s")  # fmt: skip

    def get(self, share: Path, name: str) -> tuple[Finished, float | None]:
        """One timed `rp2p-peer --get`; the receiver's and the seeder's peak RSS."""
        share.mkdir()
        reset_peak_rss(self.seeder.pid)
        finished = self.procs.run(
            [BIN / "rp2p-peer", "--host", "127.0.0.1", "--db", f"127.0.0.1:{self.db_port}",
             "--share", share, "--name", "getter", *self.security("getter"), "--get", name],
            stdout=self._log("getter.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        hwm = proc_status_kib(self.seeder.pid, "VmHWM")
        if finished.returncode:
            raise RuntimeError(f"rp2p-peer --get failed ({finished.returncode}); see {self.logs}")
        return finished, hwm / 1024 if hwm else None


class Bench:
    def __init__(self, procs: Processes, root: Path, logs: Path, size: int, small: int) -> None:
        self.procs = procs
        self.root = root
        self.size = size
        self.small = small
        self.seed = root / "seed"
        self.out = root / "out"
        self.logs = logs
        for d in (self.seed, self.out):
            d.mkdir()
        self.src = self.seed / "big.bin"
        self.checked: set[str] = set()
        self.nets = {tls: Rp2p(procs, root, self.seed, logs, tls=tls) for tls in (False, True)}

    def _log(self, name: str) -> IO[bytes]:
        return (self.logs / name).open("ab")

    # ------------------------------------------------------------------------ set-up

    def setup(self) -> None:
        log(f"transfer: writing {self.size // MIB} MiB + {self.small // MIB} MiB of random data")
        make_random_file(self.src, self.size)
        make_random_file(self.seed / "small.bin", self.small)
        make_random_file(self.seed / "tiny.bin", TINY)
        self.src_hash = sha256_file(self.src)
        for net in self.nets.values():
            net.start(["tiny.bin", "small.bin", "big.bin"])
            self.rp2p(net.tls, "tiny.bin", TINY)  # warm-up; with TLS, the getter joins here
        self._setup_http()
        self._setup_wormhole()

    def _setup_http(self) -> None:
        self.curl = shutil.which("curl")
        if self.curl is None:
            return
        self.http_port = free_port()
        self.http = self.procs.start(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
             self.seed, str(self.http_port)],
            stderr=self._log("http.log"),
        )  # fmt: skip
        wait_listening(self.http_port, proc=self.http)

    def _setup_wormhole(self) -> None:
        self.wormhole_problem = ""
        if not WORMHOLE_PY.exists():
            self.wormhole_problem = "bench/.venv is missing (run `make bench`, which creates it)"
            return
        check = "import wormhole, wormhole_mailbox_server, wormhole_transit_relay"
        if subprocess.run([WORMHOLE_PY, "-c", check], capture_output=True).returncode:
            self.wormhole_problem = "its packages could not be installed into bench/.venv"
            return
        self.mailbox_port, self.relay_port = free_port(), free_port()
        twist = BENCH_VENV / "bin" / "twist"
        mailbox = self.procs.start(
            [twist, "wormhole-mailbox", f"--port=tcp:{self.mailbox_port}:interface=127.0.0.1",
             f"--channel-db={self.root / 'mailbox.sqlite'}"],
            stdout=self._log("mailbox.log"), stderr=self._log("mailbox.log"),
        )  # fmt: skip
        relay = self.procs.start(
            [twist, "transitrelay", f"--port=tcp:{self.relay_port}:interface=127.0.0.1"],
            stdout=self._log("relay.log"), stderr=self._log("relay.log"),
        )  # fmt: skip
        try:
            wait_listening(self.mailbox_port, proc=mailbox)
            wait_listening(self.relay_port, proc=relay)
        except (RuntimeError, TimeoutError) as exc:
            self.wormhole_problem = f"its servers did not start: {exc}"

    # ------------------------------------------------------------------------ one run each

    def _check(self, tool: str, path: Path, size: int) -> None:
        got = path.stat().st_size if path.exists() else -1
        if got != size:
            raise RuntimeError(
                f"{tool}: received {got} bytes instead of {size}; logs in {self.logs}"
            )
        if size == self.size and tool not in self.checked:  # content, once per tool
            if sha256_file(path) != self.src_hash:
                raise RuntimeError(f"{tool}: the received file differs from the source")
            self.checked.add(tool)

    def rp2p(self, tls: bool, name: str, size: int) -> tuple[Finished, float | None]:
        share = self.out / "rp2p"
        try:
            result = self.nets[tls].get(share, name)
            self._check(f"rp2p {tls} {name}", share / name, size)
        finally:
            shutil.rmtree(share, ignore_errors=True)
        return result

    def raw(self, durable: bool = False) -> tuple[Finished, float | None]:
        target = self.out / "raw.bin"
        sender = self.procs.start(
            [sys.executable, BENCH / "rawcopy.py", "send", self.src],
            measure=True,
            stdout=subprocess.PIPE,
        )
        try:
            assert sender.stdout is not None
            port = int(sender.stdout.readline())
            finished = self.procs.run(
                [sys.executable, BENCH / "rawcopy.py", "recv", str(port), target,
                 *(["--fsync"] if durable else [])]
            )  # fmt: skip
            sent = self.procs.run_wait(sender)
            self._check("raw", target, self.size)
        finally:
            target.unlink(missing_ok=True)
        return finished, sent.maxrss_mib

    def http_curl(self) -> tuple[Finished, float | None]:
        assert self.curl is not None
        target = self.out / "curl.bin"
        try:
            reset_peak_rss(self.http.pid)
            finished = self.procs.run(
                [self.curl, "-sS", "--fail", "--noproxy", "*", "-o", target,
                 f"http://127.0.0.1:{self.http_port}/big.bin"],
                stderr=self._log("curl.log"),
            )  # fmt: skip
            hwm = proc_status_kib(self.http.pid, "VmHWM")
            if finished.returncode:
                raise RuntimeError(f"curl failed ({finished.returncode})")
            self._check("http", target, self.size)
        finally:
            target.unlink(missing_ok=True)
        return finished, hwm / 1024 if hwm else None

    def wormhole(self, number: int) -> tuple[Finished, float | None]:
        target = self.out / "wormhole.bin"
        code = f"{number}-rp2p-bench"
        common = [WORMHOLE_PY, BENCH / "wormhole_lo.py",
                  "--relay-url", f"ws://127.0.0.1:{self.mailbox_port}/v1",
                  "--transit-helper", f"tcp:127.0.0.1:{self.relay_port}"]  # fmt: skip
        send_log = self.logs / f"wormhole-send-{number}.log"
        sender = self.procs.start(
            [*common, "send", "--hide-progress", "--no-qr", "--code", code, self.src],
            measure=True,
            stdout=send_log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_text(send_log, "Wormhole code is", 60, sender)
            time.sleep(0.5)  # let it reach the mailbox: the receiver is what we time
            finished = self.procs.run(
                [*common, "receive", "--hide-progress", "--accept-file", "-o", target, code],
                stdout=self._log("wormhole-receive.log"), stderr=self._log("wormhole-receive.log"),
                timeout=300,
            )  # fmt: skip
            sent = self.procs.run_wait(sender, timeout=60)
            if finished.returncode or sent.returncode:
                raise RuntimeError(f"wormhole failed; see {self.logs}")
            self._check("wormhole", target, self.size)
        finally:
            target.unlink(missing_ok=True)
        return finished, sent.maxrss_mib


PLAIN, TLS = "rp2p, plain TCP (--insecure-lan)", "rp2p, TLS 1.3 (the default)"
RAW, HTTP, WORMHOLE = "raw socket copy", "http.server + curl", "magic-wormhole"
RAW_FSYNC = "raw socket copy + fsync (durable, as rp2p)"


def run(rounds: int, size: int, small: int) -> tuple[Section, Section]:
    results = {name: Runs(name, size) for name in (PLAIN, TLS, RAW, RAW_FSYNC, HTTP, WORMHOLE)}
    smalls = {tls: Runs("small", small) for tls in (False, True)}
    tinies = {tls: Runs("tiny", TINY) for tls in (False, True)}
    with scratch_dir("transfer") as root, Processes() as procs:
        bench = Bench(procs, root, logs_dir("transfer"), size, small)
        bench.setup()
        if bench.curl is None:
            results[HTTP].skipped = "curl is not installed and could not be installed"
        if bench.wormhole_problem:
            results[WORMHOLE].skipped = bench.wormhole_problem
        order = list(results)
        for number in range(rounds):
            for name in order[number % len(order) :] + order[: number % len(order)]:
                runs = results[name]
                if runs.skipped:
                    continue
                if name in (PLAIN, TLS):
                    runs.add(*bench.rp2p(name == TLS, "big.bin", size))
                elif name in (RAW, RAW_FSYNC):
                    runs.add(*bench.raw(durable=name == RAW_FSYNC))
                elif name == HTTP:
                    runs.add(*bench.http_curl())
                else:
                    try:
                        runs.add(*bench.wormhole(100 + number))
                    except (RuntimeError, TimeoutError) as exc:
                        runs.skipped = f"it failed here: {exc}"
                        continue
                log(f"transfer round {number + 1}/{rounds}: {name}: {runs.seconds[-1]:.2f} s")
            for tls in (False, True):
                smalls[tls].add(*bench.rp2p(tls, "small.bin", small))
                tinies[tls].add(*bench.rp2p(tls, "tiny.bin", TINY))
        at_rest = {tls: proc_status_kib(net.seeder.pid, "VmRSS") for tls, net in bench.nets.items()}
    throughput = _throughput_section(results, tinies, rounds)
    memory = _memory_section(results, smalls, at_rest)
    return throughput, memory


def _throughput_section(results: dict[str, Runs], tinies: dict[bool, Runs], rounds: int) -> Section:
    plain, tls = results[PLAIN], results[TLS]
    size_mib = plain.size // MIB
    section = Section(
        f"1. Transfer throughput: one {size_mib} MiB file, loopback, median of {rounds} rounds"
    )
    rows = []
    for runs in results.values():
        if runs.skipped:
            rows.append([runs.name, "—", "—", "—", "—", "—", "—", f"not measured: {runs.skipped}"])
            continue
        rows.append([
            runs.name,
            fmt(median(runs.seconds), 2),
            f"**{fmt(runs.mib_s, 0)}**",
            ratio(runs.mib_s, plain.mib_s),
            ratio(runs.mib_s, tls.mib_s),
            fmt(median(runs.receiver_mib), 0),
            fmt(median(runs.sender_mib), 0) if runs.sender_mib else "n/a",
            ", ".join(fmt(size_mib / s, 0) for s in runs.seconds),
        ])  # fmt: skip
    section.table(
        ["tool", "time (s)", "MiB/s", "÷ rp2p plain", "÷ rp2p TLS", "receiver peak RSS (MiB)",
         "sender peak RSS (MiB)", "MiB/s per round"],
        rows,
    )  # fmt: skip
    section.note(
        "Times are whole receiving processes, start to exit; ratios are MiB/s of the row's tool "
        "over rp2p's. rp2p's time includes start-up, join, search, per-chunk SHA-256 checks, the "
        "fsync before the file becomes visible, and leaving; for scale, an `rp2p-peer --get` of a "
        f"1 KiB file takes {fmt(median(tinies[False].seconds), 2)} s plain and "
        f"{fmt(median(tinies[True].seconds), 2)} s with TLS here. The others do not fsync: their "
        "bytes stay in the page cache, and the row with fsync shows what making 512 MiB durable "
        "costs on this disk."
    )
    section.note("")
    section.note(
        "Versions: " + tool_version(["curl", "--version"]) + "; magic-wormhole "
        + tool_version([str(WORMHOLE_PY), "-c", "import wormhole; print(wormhole.__version__)"])
        + " with its own mailbox server and transit relay on 127.0.0.1; its direct transit is "
        "offered and listens on 127.0.0.1 only (bench/wormhole_lo.py)."
    )  # fmt: skip
    raw = results[RAW]
    section.facts["raw_mib_s"] = raw.mib_s
    section.targets.append(
        Target("rp2p (plain) ≥ 0.7x the raw socket copy", ratio(plain.mib_s, raw.mib_s),
               plain.mib_s >= 0.7 * raw.mib_s if raw.seconds and plain.seconds else None)
    )  # fmt: skip
    for name in (HTTP, WORMHOLE):
        other = results[name]
        section.targets.append(
            Target(f"rp2p (plain) ahead of {name}",
                   f"{fmt(plain.mib_s, 0)} vs {fmt(other.mib_s, 0)} MiB/s",
                   plain.mib_s > other.mib_s if other.seconds and plain.seconds else None)
        )  # fmt: skip
    wormhole = results[WORMHOLE]
    section.targets.append(
        Target("rp2p with TLS ≥ 3x magic-wormhole", ratio(tls.mib_s, wormhole.mib_s),
               tls.mib_s >= 3 * wormhole.mib_s if wormhole.seconds and tls.seconds else None)
    )  # fmt: skip
    return section


def _memory_section(
    results: dict[str, Runs], smalls: dict[bool, Runs], at_rest: dict[bool, int | None]
) -> Section:
    section = Section("2. Memory: peak RSS of rp2p's sender and receiver (median of rounds)")
    big_mib = results[PLAIN].size // MIB
    small_mib = smalls[False].size // MIB
    rows = []
    peaks, growths = [], []
    for tls in (False, True):
        big, small = results[TLS if tls else PLAIN], smalls[tls]
        mode = "TLS" if tls else "plain"
        for what, a, b in (
            ("receiver (`rp2p-peer --get`, ru_maxrss)", small.receiver_mib, big.receiver_mib),
            ("sender (seeding `rp2p-peer`, VmHWM)", small.sender_mib, big.sender_mib),
        ):
            growth = median(b) - median(a)
            peaks.append(median(b))
            growths.append(growth)
            rows.append([f"{what}, {mode}", fmt(median(a), 1), fmt(median(b), 1), f"{growth:+.1f}"])
    section.table(["process", f"{small_mib} MiB file", f"{big_mib} MiB file", "growth (MiB)"], rows)
    section.note(
        "The seeder's VmHWM is reset (`/proc/PID/clear_refs`) just before each timed get, so its "
        "start-up hashing and backup upload are not counted. Its resident size at rest after all "
        "transfers: "
        + ", ".join(f"{(kib or 0) / 1024:.1f} MiB {'TLS' if tls else 'plain'}" for tls, kib in at_rest.items())
        + "."
    )  # fmt: skip
    peak = max(peaks)
    section.targets.append(
        Target("sender and receiver each < 80 MiB", f"max {fmt(peak, 1)} MiB", peak < 80)
    )
    growth = max(growths)
    section.targets.append(
        Target(f"flat in file size ({small_mib} → {big_mib} MiB grows < 16 MiB)",
               f"max {growth:+.1f} MiB", growth < 16)
    )  # fmt: skip
    return section
