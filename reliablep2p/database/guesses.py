"""How often one address may try a join code: a growing wait after every try.

A wrong guess must not use up a code: a stranger could then burn every live code before its
holder typed it. So codes are never touched by guesses; instead each try from an address
makes that address wait before its next: 1 s, 2 s, 4 s ... up to a minute. A try that proves
the code right forgets the address, so a player who mistypes once waits a second, and a
guesser gets a minute per guess. docs/security.md works out what that leaves a guesser.

Sans-IO: the caller passes the time.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress

FIRST_WAIT = 1.0
MAX_WAIT = 60.0
FORGET_AFTER = 3600.0
"""An address quiet this long past its wait starts afresh: a guesser who pauses an hour to win
back its first quick tries gets 7 tries for 60 it could have made."""
MAX_ADDRESSES = 65536
"""Addresses remembered at once (a few MB); past it the longest-quiet one is forgotten."""


@dataclasses.dataclass
class _Record:
    tries: int
    next_try: float


class GuessLimiter:
    """Per-address waits between tries of a join code."""

    def __init__(
        self,
        *,
        first_wait: float = FIRST_WAIT,
        max_wait: float = MAX_WAIT,
        forget_after: float = FORGET_AFTER,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.forget_after = forget_after
        self.max_addresses = max_addresses
        self._records: collections.OrderedDict[str, _Record] = collections.OrderedDict()
        """By address, the one tried longest ago first."""

    def try_now(self, address: str, now: float) -> float:
        """Count a try from `address` and return 0; or, if it must still wait, the seconds
        left (and nothing is counted)."""
        self._forget_quiet(now)
        who = source_of(address)
        record = self._records.get(who)
        if record is not None and now < record.next_try:
            return record.next_try - now
        tries = record.tries + 1 if record else 1
        self._records[who] = _Record(tries, now + self.wait_after(tries))
        self._records.move_to_end(who)
        while len(self._records) > self.max_addresses:
            self._records.popitem(last=False)
        return 0.0

    def wait_after(self, tries: int) -> float:
        """The wait after an address's `tries`-th try (in a row, without a right code)."""
        return min(self.first_wait * 2.0 ** min(tries - 1, 64), self.max_wait)

    def forget(self, address: str) -> None:
        """`address` brought the right code: its next try is free."""
        self._records.pop(source_of(address), None)

    def _forget_quiet(self, now: float) -> None:
        while self._records:
            record = next(iter(self._records.values()))
            if now - record.next_try < self.forget_after:
                return
            self._records.popitem(last=False)


def source_of(address: str) -> str:
    """Who is trying: the IPv4 address, or the /64 network of an IPv6 one (a host on a LAN
    may pick any address in its /64, so counting single addresses would count nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
