"""Fresh treasure: a fun name and new random bytes, made when a round starts.

The bytes come from the operating system's random source, never from the game's seeded random
generator: nobody can hold, or work out, content that did not exist before the round.
"""

from __future__ import annotations

import os
import random
from collections.abc import Container, Mapping
from typing import Protocol

from ..proto import FileInfo

ADJECTIVES = (
    "amber", "ancient", "blazing", "cobalt", "crimson", "cursed", "dusty", "emerald", "frozen",
    "gilded", "glowing", "hidden", "iron", "jade", "lost", "lucky", "moonlit", "mossy", "obsidian",
    "pearly", "rusty", "secret", "silver", "stormy", "sunken", "velvet", "whispering", "wild",
)  # fmt: skip
THINGS = (
    ("amulet", "gem"), ("chalice", "cup"), ("compass", "nav"), ("crown", "gem"),
    ("doubloon", "coin"), ("egg", "bin"), ("feather", "bin"), ("idol", "gem"), ("key", "bin"),
    ("lantern", "bin"), ("map", "txt"), ("orb", "gem"), ("parrot", "bin"), ("pearl", "gem"),
    ("ring", "gem"), ("scroll", "txt"), ("spyglass", "nav"), ("tiara", "gem"), ("trident", "bin"),
)  # fmt: skip
MIN_BYTES, MAX_BYTES = 4 * 1024, 48 * 1024


def treasure_name(rng: random.Random, number: int, taken: Container[str]) -> str:
    """A name no file in `taken` has, like `moonlit-doubloon-12.coin` (12: the round)."""
    for attempt in range(1000):
        thing, ext = rng.choice(THINGS)
        suffix = f"-{attempt}" if attempt > 20 else ""
        name = f"{rng.choice(ADJECTIVES)}-{thing}-{number}{suffix}.{ext}"
        if name not in taken:
            return name
    raise RuntimeError("no free treasure name")


def treasure_bytes(rng: random.Random) -> bytes:
    """New content, of a size picked by `rng` (its bytes are the system's random)."""
    return os.urandom(rng.randint(MIN_BYTES, MAX_BYTES))


class Treasury(Protocol):
    """Where treasure is buried and dug up again: the vault, the catalog and the pushes."""

    def catalog(self) -> Mapping[str, FileInfo]: ...

    async def bury(self, name: str, data: bytes, number: int) -> FileInfo | None:
        """The planted file; None if a store is down (the round goes on without it)."""
        ...

    async def dig_up(self, files: list[FileInfo], number: int) -> bool:
        """False if a store is down (nothing changed: dug up at a later round)."""
        ...

    def hand_out(self, seeder: str, names: list[str]) -> None: ...
