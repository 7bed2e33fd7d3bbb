"""The shape of a SQL connection both backends give the shared queries (`?` placeholders)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol


class Rows(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """One transaction's connection: `?` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows: ...


def unpack_chunks(packed: bytes) -> list[bytes]:
    """The chunk hashes of a catalog row, stored end to end."""
    packed = bytes(packed)
    return [packed[i : i + 32] for i in range(0, len(packed), 32)]
