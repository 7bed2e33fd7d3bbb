"""A dict that counts its changes, so what is built from it can be cached and never go stale.

The database peer works out each player's holdings (what it published that the catalog trusts)
from two dicts: caching that by the two versions means no place that changes either can forget
to drop the cache, since every change goes through the dict itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Versioned(dict[K, V]):
    """A dict whose `version` grows with every change made through any of its methods."""

    __slots__ = ("version",)

    def __init__(self, *args: Any, **kwargs: V) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self.version += 1

    def __ior__(self, other: Any) -> Versioned[K, V]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def pop(self, key: K, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def popitem(self) -> tuple[K, V]:
        self.version += 1
        return super().popitem()

    def setdefault(self, key: K, default: Any = None) -> Any:
        self.version += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: V) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.version += 1
        super().clear()
