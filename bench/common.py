"""Shared helpers: settings from the environment, processes we own, medians, the machine."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port as free_port  # one place for every port handed out

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BENCH_VENV = BENCH / ".venv"
MIB = 1024 * 1024


# ----------------------------------------------------------------------------- settings


def env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    return int(text) if text else default


def env_list(name: str, default: Sequence[int]) -> list[int]:
    text = os.environ.get(name, "").strip()
    return [int(x) for x in text.split(",") if x.strip()] if text else list(default)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- numbers


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b or a != a or b != b:
        return "n/a"
    return f"{a / b:.2f}x"


# -------------------------------------------------------------------------- processes


@dataclass
class Finished:
    """A process we waited for: its exit code, wall time and peak RSS (from `wait4`)."""

    returncode: int
    seconds: float
    maxrss_mib: float


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Meanwhile SIGTERM raises KeyboardInterrupt, so `finally` blocks (servers stopped) run."""
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_listening(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_for_text(
    path: Path,
    pattern: str,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    skip: int = 0,
) -> str:
    """Poll a log file until a line matches `pattern` (after `skip` earlier matches); the line."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            matches = [
                line for line in path.read_text(errors="replace").splitlines() if regex.search(line)
            ]
            if len(matches) > skip:
                return matches[skip]
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; see {path}")
        time.sleep(0.05)
    raise TimeoutError(f"no line matching {pattern!r} in {path} after {timeout} s")


class Processes:
    """Every process the benchmark starts; whatever is still running at exit is ended.

    Each child gets its own session, so it is ended as a process group whose id is the id of the
    process we started (never by name).
    """

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._results: dict[int, Path] = {}

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self._procs):
            self.stop(proc)

    def start(
        self, args: Sequence[object], *, measure: bool = False, **kwargs: object
    ) -> subprocess.Popen[bytes]:
        """Start a process; with `measure`, under bench/spawn.py, for `run_wait` to read."""
        argv = [str(a) for a in args]
        result = None
        if measure:
            fd, name = tempfile.mkstemp(prefix="rp2p-bench-", suffix=".result")
            os.close(fd)
            result = Path(name)
            program = shutil.which(argv[0]) or argv[0]
            argv = [sys.executable, "-I", "-S", str(BENCH / "spawn.py"), name, program, *argv[1:]]
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        kwargs.setdefault("env", child_env())
        proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            argv, start_new_session=True, **kwargs
        )
        for key in ("stdin", "stdout", "stderr"):  # files opened for the child: it has its copy
            stream = kwargs[key]
            if isinstance(stream, io.IOBase):
                stream.close()
        self._procs.append(proc)
        if result is not None:
            self._results[proc.pid] = result
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
        """SIGTERM the process's group, then SIGKILL if it lingers."""
        if proc.returncode is None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.wait()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if proc in self._procs:
            self._procs.remove(proc)
        result = self._results.pop(proc.pid, None)
        if result is not None:
            result.unlink(missing_ok=True)

    def run(self, args: Sequence[object], timeout: float = 600.0, **kwargs: object) -> Finished:
        """Run one process to the end: its exit code, wall time and peak RSS."""
        return self.run_wait(self.start(args, measure=True, **kwargs), timeout)

    def run_wait(self, proc: subprocess.Popen[bytes], timeout: float = 600.0) -> Finished:
        """Wait for a process started with `measure` (killed after `timeout`); as `run`."""
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
        result = self._results[proc.pid]
        text = result.read_text().split()
        self.stop(proc)
        if len(text) != 2:
            raise RuntimeError(
                f"{proc.args!r} ended without a measurement (exit {proc.returncode})"
            )
        return Finished(proc.returncode, float(text[0]), int(text[1]) / 1024)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def child_env() -> dict[str, str]:
    """The environment for children: ours, minus proxies (everything here is loopback)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def proc_status_kib(pid: int, field: str) -> int | None:
    """A `VmHWM`/`VmRSS`-style field of /proc/PID/status, in KiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def reset_peak_rss(pid: int) -> bool:
    """Reset a process's VmHWM to its current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_seconds(pid: int) -> float:
    """How long a process's live threads have waited, runnable, for a core so far (the sum of
    /proc/PID/task/*/schedstat); 0 for a process that is gone."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_random_file(path: Path, size: int) -> None:
    """`size` incompressible bytes, written in 8 MiB pieces (memory stays flat)."""
    with path.open("wb") as f:
        left = size
        while left:
            piece = min(left, 8 * MIB)
            f.write(os.urandom(piece))
            left -= piece


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(8 * MIB):
            digest.update(piece)
    return digest.hexdigest()


@contextlib.contextmanager
def scratch_dir(name: str) -> Iterator[Path]:
    """A fresh folder for one scenario's files, removed afterwards."""
    base = Path(os.environ.get("BENCH_TMP") or "/tmp")
    path = base / f"rp2p-bench-{os.getpid()}-{name}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def logs_dir(name: str) -> Path:
    """Where a scenario's process logs go; kept after the run for a look when something fails."""
    path = Path(os.environ.get("BENCH_TMP") or "/tmp") / "rp2p-bench-logs" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------------------- machine


def machine_description() -> list[tuple[str, str]]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, AttributeError):
        total = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        assert total is not None
        ram = f"{int(total.group(1)) / 1024 / 1024:.1f} GiB"
    distro = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip('"') + ", "
    rows = [
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} (affinity: {len(os.sched_getaffinity(0))})"),
        ("RAM", ram),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", f"{distro}{platform.system()} {platform.release()} {platform.machine()}"),
    ]
    commit = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    if commit:
        dirty = _output(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain",
                         "--untracked-files=no", "--", "reliablep2p"])  # fmt: skip
        rows.append(
            ("rp2p code", commit + (" + uncommitted changes in reliablep2p/" if dirty else ""))
        )
    return rows


def _output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def tool_version(args: list[str]) -> str:
    text = _output(args)
    return text.splitlines()[0] if text else "not found"
