"""`make demo`: a database peer and two seeding peers on loopback, in the foreground.

Everything lives in `demo/.run/` (made fresh each time); Ctrl-C stops every process it started.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN = Path(__file__).parent / ".run"
DB_PORT = 9000
SEEDERS = {
    8101: {
        "riddles.txt": "\n".join(
            f"Riddle {n}: what has {n} keys but opens no locks? A piano with {n} keys."
            for n in range(1, 40)
        ).encode(),
        "treasure-map.md": b"# Treasure map\n\nTen paces north of the oak, dig under the flat stone.\n",
    },
    8102: {
        "adventure.txt": b"You are standing in an open field west of a white house.\n" * 50,
        "big-archive.bin": random.Random(20).randbytes(20 * 1024 * 1024),
    },
}


def main() -> int:
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    bin_dir = Path(sys.executable).parent
    processes = [
        subprocess.Popen(
            [
                bin_dir / "rp2p-db",
                "--host",
                "127.0.0.1",
                "--port",
                str(DB_PORT),
                "--data",
                RUN / "db",
            ]
        )
    ]
    time.sleep(0.5)
    for port, files in SEEDERS.items():
        share = RUN / f"port_{port}"
        share.mkdir()
        for name, data in files.items():
            (share / name).write_bytes(data)
        processes.append(
            subprocess.Popen(
                [
                    bin_dir / "rp2p-peer",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--db",
                    f"127.0.0.1:{DB_PORT}",
                    "--share",
                    share,
                ],
                stdin=subprocess.PIPE,
            )
        )
    print(
        f"\nA database peer on 127.0.0.1:{DB_PORT} and seeders on {', '.join(map(str, SEEDERS))}.\n"
        f"Join from another terminal:\n  .venv/bin/rp2p-peer --port 8103 --db 127.0.0.1:{DB_PORT}\n"
        "then type: list, get riddles.txt, peers, address-book, disconnect.\n"
        "Ctrl-C here stops the demo.\n",
        flush=True,
    )
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("a demo process ended by itself; stopping the demo", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
