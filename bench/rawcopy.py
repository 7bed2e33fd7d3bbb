"""The practical limit: a raw socket copy, `socket.sendfile` into a file.

python bench/rawcopy.py send FILE      # prints the port, serves FILE to one client, exits
python bench/rawcopy.py recv PORT OUT  # connects, writes everything it receives to OUT
python bench/rawcopy.py recv PORT OUT --fsync  # the same, made durable before exit, as rp2p does

On loopback by default; `--host ADDRESS` (both sides) for a host of the simulated LAN, where the
receiver prints the seconds from connecting to the last byte received, then to the last byte
written (after the fsync with `--fsync`): start-up excluded.
"""

from __future__ import annotations

import os
import socket
import sys
import time

BUFFER = 1024 * 1024


def send(path: str, host: str) -> None:
    with socket.create_server((host, 0)) as server:
        print(server.getsockname()[1], flush=True)
        conn, _ = server.accept()
        with conn, open(path, "rb") as f:
            conn.sendfile(f)


def receive(port: int, path: str, durable: bool, host: str) -> tuple[float, float]:
    """Seconds from connecting to the last byte received, and to the file written (and synced)."""
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    with socket.create_connection((host, port)) as conn, open(path, "wb") as out:
        started = time.perf_counter()
        while count := conn.recv_into(buffer):
            out.write(view[:count])
        received = time.perf_counter() - started
        if durable:
            out.flush()
            os.fsync(out.fileno())
    return received, time.perf_counter() - started


if __name__ == "__main__":
    args = sys.argv[1:]
    address = "127.0.0.1"
    if "--host" in args:
        at = args.index("--host")
        address = args[at + 1]
        del args[at : at + 2]
    if args[0] == "send":
        send(args[1], address)
    else:
        received, written = receive(int(args[1]), args[2], "--fsync" in args[3:], address)
        if address != "127.0.0.1":
            print(f"{received:.6f} {written:.6f}", flush=True)
