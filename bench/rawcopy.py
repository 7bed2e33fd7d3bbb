"""The practical limit: a raw loopback socket copy, `socket.sendfile` into a file.

python bench/rawcopy.py send FILE      # prints the port, serves FILE to one client, exits
python bench/rawcopy.py recv PORT OUT  # connects, writes everything it receives to OUT
python bench/rawcopy.py recv PORT OUT --fsync  # the same, made durable before exit, as rp2p does
"""

from __future__ import annotations

import os
import socket
import sys

BUFFER = 1024 * 1024


def send(path: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        print(server.getsockname()[1], flush=True)
        conn, _ = server.accept()
        with conn, open(path, "rb") as f:
            conn.sendfile(f)


def receive(port: int, path: str, durable: bool) -> None:
    buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    with socket.create_connection(("127.0.0.1", port)) as conn, open(path, "wb") as out:
        while count := conn.recv_into(buffer):
            out.write(view[:count])
        if durable:
            out.flush()
            os.fsync(out.fileno())


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2])
    else:
        receive(int(sys.argv[2]), sys.argv[3], "--fsync" in sys.argv[4:])
