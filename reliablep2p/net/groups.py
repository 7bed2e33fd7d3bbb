"""A conversation's first protocol error, out of trio's exception groups."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import trio

from ..proto import ProtocolError


@contextlib.contextmanager
def first_protocol_error() -> Iterator[None]:
    """Let a `ProtocolError` raised inside a nursery surface as itself, not in a group.

    trio wraps task errors in `ExceptionGroup`s; for a conversation (a session with its reader
    and keepalive tasks) the first protocol error is the whole story, and callers catch it by
    type. Groups holding anything else are left alone.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        _, rest = group.split(trio.Cancelled)
        leaves = list(_leaves(rest)) if rest is not None else []
        if leaves and all(isinstance(leaf, ProtocolError) for leaf in leaves):
            raise leaves[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
