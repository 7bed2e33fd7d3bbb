"""Strangers on the LAN against a real `rp2p-db`: guessing join codes, hogging connections.

Each attack comes from addresses of its own (127.0.0.2 and up); the rightful player comes from
127.0.0.1 and must get in all the same. docs/security.md lists what each test proves.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psutil
import pytest
import trio

from reliablep2p.proto import PROTOCOL_VERSION, Hello, encode_message
from reliablep2p.proto.codes import parse_code

from ..strangers import guess, hold_idle
from .cluster import Cluster, wait_for

pytestmark = pytest.mark.slow

LOOT = b"the rightful player gets this" * 100
HELLO = encode_message(Hello(version=PROTOCOL_VERSION, name="stranger", port=0))


async def test_a_flood_of_wrong_guesses_is_slowed_and_leaves_the_code_to_its_holder(
    cluster: Cluster,
) -> None:
    number, _ = parse_code(cluster.code)  # the printed code starts with its network's word
    wrong = f"{number}-not-the-right-words"
    told: list[str] = []

    async def try_once() -> None:
        told.append(await guess(cluster.enroll_port, wrong, source="127.0.0.2"))

    async with trio.open_nursery() as nursery:  # all at once...
        for _ in range(20):
            nursery.start_soon(try_once)
    for _ in range(5):  # ...and one after another
        await try_once()
    wrong_guesses = [t for t in told if t == "wrong-code: wrong join code"]
    busy = [t for t in told if t.startswith("busy: ")]
    assert 1 <= len(wrong_guesses) <= 4 and len(busy) == len(told) - len(wrong_guesses), told
    assert any(re.fullmatch(r"busy: too many join tries from 127.0.0.2; wait \d+ s.*", t)
               for t in busy), told  # fmt: skip
    # the code is untouched: its holder, at another address, joins with it at once
    holder = cluster.seeder("holder")
    wait_for(
        lambda: "holder joined from" in cluster.db_log() or holder.poll() is not None,
        30, "the holder to join",
    )  # fmt: skip
    assert holder.poll() is None, (cluster.root / "holder.log").read_text()


def strangers_held(pid: int, port: int) -> int:
    """Connections the database peer holds on `port` from addresses other than 127.0.0.1."""
    return sum(
        1
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.raddr and c.raddr.ip != "127.0.0.1"
    )


@pytest.mark.parametrize("first_words", [b"", HELLO], ids=["silent", "plaintext hello"])
async def test_idle_strangers_filling_the_connection_cap_do_not_keep_a_player_out(
    cluster: Cluster, tmp_path: Path, first_words: bytes
) -> None:
    """Silent, or past a plaintext `hello` (the port takes join codes in plaintext too): a
    stranger who has not asked for anything is still the first to make room."""
    assert cluster.db is not None
    seeder = cluster.seeder("seeder", {"loot.txt": LOOT})
    cluster.wait_cataloged("loot.txt")
    cluster.kill(seeder)  # so the file, too, must come through the crowded port
    idle: list[trio.SocketStream] = []
    try:
        for last in range(2, 7):  # 5 addresses x 103 = 515 idle connections, over the cap of 512
            idle += await hold_idle(cluster.db_port, 103, source=f"127.0.0.{last}")
        for stream in idle:
            if first_words:
                await stream.send_all(first_words)
        wait_for(lambda: strangers_held(cluster.db.pid, cluster.db_port) >= 512, 10,
                 "the database peer to hold 512 idle connections", interval=0.05)  # fmt: skip
        player = cluster.fetcher("player", "loot.txt", share=tmp_path / "player")
        try:
            out, _ = player.communicate(timeout=10)  # the strangers' handshakes last 15 s
        except subprocess.TimeoutExpired:
            player.kill()
            out, _ = player.communicate()
            raise AssertionError(f"the player was kept out: {out}") from None
        assert player.returncode == 0 and "from the vault" in out, out
        assert (tmp_path / "player" / "loot.txt").read_bytes() == LOOT
    finally:
        for stream in idle:
            await stream.aclose()
