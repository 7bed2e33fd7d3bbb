"""Profile one rp2p transfer with py-spy: where the receiver's and the sender's time goes.

    .venv/bin/pip install py-spy
    .venv/bin/python -m bench.profile_transfer [--tls] [--mib 512]

Starts an `rp2p-db` and a seeding `rp2p-peer` on 127.0.0.1, waits for the backup upload, then
runs `rp2p-peer --get` under `py-spy record` while a second py-spy samples the seeder. Prints the
hottest lines (own time) and functions (time including callees) of both, from py-spy's raw
(collapsed-stack) output; the raw files and speedscope-ready logs stay in the logs folder.
Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .common import MIB, Processes, log, logs_dir, make_random_file, scratch_dir
from .transfer import BIN, Rp2p

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def summarize(raw: Path, top: int = 12) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";")]
        if frames[0].startswith("thread ("):
            frames = frames[1:] or frames
            threads["main thread" if "_bootstrap" not in stack else "worker threads"] += count
        own[frames[-1]] += count
        for name in {_function(f) for f in frames}:
            inclusive[name] += count
    if not total:
        return "  (no samples)"
    out = [f"  {total} samples"
           + "".join(f"; {name} {100 * n / total:.0f}%" for name, n in threads.most_common())
           + "; own time by line:"]  # fmt: skip
    out += [f"    {100 * n / total:5.1f}%  {where}" for where, n in own.most_common(top)]
    out.append("  time including callees, by function:")
    out += [f"    {100 * n / total:5.1f}%  {where}" for where, n in inclusive.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path}:{match['line']})"


def _function(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls", action="store_true", help="profile the TLS (default) mode")
    parser.add_argument("--mib", type=int, default=512, help="file size (512)")
    parser.add_argument("--rate", type=int, default=200, help="samples per second (200)")
    parser.add_argument("--idle", action="store_true",
                        help="sample waiting threads too (where the wall time goes)")  # fmt: skip
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(BIN))
    if py_spy is None:
        sys.exit("py-spy is not installed in .venv: .venv/bin/pip install py-spy")
    logs = logs_dir("profile")
    with scratch_dir("profile") as root, Processes() as procs:
        seed = root / "seed"
        seed.mkdir()
        make_random_file(seed / "big.bin", args.mib * MIB)
        net = Rp2p(procs, root, seed, logs, tls=args.tls)
        net.start(["big.bin"])
        share = root / "out"
        share.mkdir()
        sender_raw, receiver_raw = logs / "sender.raw", logs / "receiver.raw"
        spy = [py_spy, "record", "--rate", args.rate, "--format", "raw", "--threads",
               *(["--idle"] if args.idle else [])]  # fmt: skip
        sender_spy = procs.start(
            [*spy, "--pid", net.seeder.pid, "--output", sender_raw],
            stdout=(logs / "py-spy-sender.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        time.sleep(1)
        security = ["--insecure-lan"] if not args.tls else net.security("getter")
        started = time.monotonic()
        procs.run(
            [*spy, "--output", receiver_raw, "--", BIN / "rp2p-peer", "--host", "127.0.0.1", "--db", f"127.0.0.1:{net.db_port}",
             "--share", share, "--name", "getter", *security, "--get", "big.bin"],
            stdout=(logs / "py-spy-receiver.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        os.killpg(sender_spy.pid, signal.SIGINT)  # like Ctrl-C: py-spy writes what it has
        sender_spy.wait(30)
        procs.stop(sender_spy)
    log(f"profiled get of {args.mib} MiB took {elapsed:.2f} s under py-spy")
    print(f"receiver (rp2p-peer --get):\n{summarize(receiver_raw)}\n")
    print(f"sender (seeding rp2p-peer):\n{summarize(sender_raw)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
