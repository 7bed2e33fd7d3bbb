"""The small phrases every line is made of: counts, lists, names, who sent a file.

Kept apart from `words.py` (the events and results in sentences), which builds on them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from ..peer import events

LISTED_SOURCES = 3
"""A file that came from more sources than this says how many, not who (the rest of the line
lists them with their bytes)."""


def shown(name: str) -> str:
    """A name as it can be printed safely: quoted and escaped if it holds a character that
    would hide or reorder text (a bidi override would turn the rest of the line around)."""
    return name if name.isprintable() else repr(name)


def counted(count: int, thing: str) -> str:
    return f"{count} {thing}{'' if count == 1 else 's'}"


def listed(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`: a list as a sentence says it."""
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1]))) if items else ""


def points(count: int) -> str:
    return counted(count, "point")


def code_left(uses: int, expires_at: float) -> str:
    """What is left of a join code: how many more may join with it, for how long."""
    minutes = max(1, math.ceil((expires_at - time.time()) / 60))
    within = f"{math.ceil(minutes / 60)} h" if minutes > 90 else f"{minutes} min"
    return f"for {counted(uses, 'player')}, {within}"


def source(who: str) -> str:
    """Who served a file, as a sentence names it: a player by name, the database peer as
    "the vault" (the feed said "from vault" here and "the vault" there)."""
    return "the vault" if who == events.VAULT else who


def probes(count: int) -> str:
    return counted(count, "probe")


def from_whom(sources: Sequence[tuple[str, int]], main: str) -> str:
    """Who sent a file's bytes, as a player says it: "ana", "ana, bo and the vault" (the
    players by bytes sent, the vault last), "5 sources"; `main` when `sources` says nothing.
    A get that switched source mid-transfer named only its last (or largest) one."""
    sent = dict(sources)
    who = sorted((name for name, count in sent.items() if count),
                 key=lambda name: (name == events.VAULT, -sent[name]))  # fmt: skip
    if not who:
        return source(main)
    if len(who) > LISTED_SOURCES:
        return f"{len(who)} sources"
    return listed([source(name) for name in who])
