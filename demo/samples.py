"""Sample files for the demo, generated (no downloads): text games, images, one big archive."""

from __future__ import annotations

import random
import struct
import zlib

BIG_SIZE = 20 * 1024 * 1024


def png(width: int, height: int, pixel: object) -> bytes:
    """A real RGB PNG; `pixel(x, y)` gives (r, g, b)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width))  # type: ignore[operator]
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


RIDDLES = [
    ("What has keys but can't open locks?", "A piano."),
    ("What gets wetter the more it dries?", "A towel."),
    ("What has a neck but no head?", "A bottle."),
    ("What can travel around the world while staying in a corner?", "A stamp."),
    ("What has many teeth but cannot bite?", "A comb."),
]


def text_games() -> dict[str, bytes]:
    riddles = "\n\n".join(f"Q: {q}\nA: {a}" for q, a in RIDDLES)
    adventure = (
        "THE LOST PACKET - a very small adventure\n\n"
        "You stand in a dim server room. A single LED blinks amber.\n"
        "> look\nRacks hum. A cable leads north, towards a door marked 'LAN'.\n"
        "> north\nThe door opens onto a corridor of switches. Somewhere a packet is lost.\n"
        "> listen\nFrom the east: a faint checksum, repeating itself. You are on the right track.\n"
    )
    return {
        "riddles.txt": riddles.encode(),
        "lost-packet-adventure.txt": adventure.encode(),
        "treasure-map.md": b"# Treasure map\n\nTen paces north of the oak, dig under the flat stone.\n",
    }


def images() -> dict[str, bytes]:
    return {
        "sunset.png": png(96, 64, lambda x, y: (255, 120 + y, 60 + x)),
        "checkerboard.png": png(
            64, 64, lambda x, y: (0, 0, 0) if (x // 8 + y // 8) % 2 else (240,) * 3
        ),
        "ocean.png": png(96, 64, lambda x, y: (20, 80 + y, 160 + x // 2)),
    }


def big_archive() -> dict[str, bytes]:
    return {"dragon-hoard.bin": random.Random(20).randbytes(BIG_SIZE)}


def sets() -> list[dict[str, bytes]]:
    """One set of files per bot: each seeds something the others lack."""
    games, pictures = text_games(), images()
    return [
        {**games, "checkerboard.png": pictures["checkerboard.png"]},
        {"sunset.png": pictures["sunset.png"], "ocean.png": pictures["ocean.png"]},
        {**big_archive(), "cipher.txt": b"Gur gernfher vf haqre gur bnx.\n"},
    ]
