"""Join codes: a number and four words to read out loud, like ``7-orbit-lemon-sausage-ridge``.

The number names the invite (it is no secret); the whole code is the invite's password for
SPAKE2 (see `net/enroll.py`). The words come from BIP-39's English list: 2048 common words of
3 to 8 letters, no two alike in their first four letters, so a code survives being read out
loud and typed. Four of them are 44 bits: docs/security.md shows why that, with the database
peer's limit on tries per address, keeps guessing hopeless for a code's whole life.
"""

from __future__ import annotations

import math
import re
import secrets

from mnemonic import Mnemonic

from .errors import SecurityError
from .tags import split_code

WORDS: list[str] = Mnemonic("english").wordlist
WORDS_PER_CODE = 4
CODE_BITS = WORDS_PER_CODE * math.log2(len(WORDS))
MAX_NUMBER = 999
MAX_CODE_HOURS = 7 * 24
"""The longest a code may live: the guessing arithmetic in docs/security.md assumes it."""

_WORD_SET = frozenset(WORDS)
_EXAMPLE = "piano-7-orbit-lemon-sausage-ridge"
"""As `rp2p-db` prints a code: the network's word, the invite's number, the four words."""


def new_join_code(number: int, rng: secrets.SystemRandom | None = None) -> str:
    """A code to read out loud, like ``7-orbit-lemon-sausage-ridge``."""
    choose = (rng or secrets.SystemRandom()).choice
    return "-".join([str(number), *(choose(WORDS) for _ in range(WORDS_PER_CODE))])


def parse_code(code: str) -> tuple[int, bytes]:
    """The invite number and the password of a join code, typed with dashes or spaces, in any
    case. A misspelt word is caught here, so it never costs a try at the database peer. The
    network's tag word in front (see `tags.py`) is no part of the password."""
    if not code.strip():
        raise SecurityError(f"no join code typed: it looks like {_EXAMPLE}")
    number, *words = re.split(r"[\s-]+", split_code(code).invite)
    if not (number.isascii() and number.isdigit()) or len(words) != WORDS_PER_CODE:
        raise SecurityError(f"{code!r} is not a join code (it looks like {_EXAMPLE})")
    for word in words:
        if word not in _WORD_SET:
            raise SecurityError(f"{word!r} is not a word of join codes: check its spelling")
    return int(number), "-".join([str(int(number)), *words]).encode()


def is_current(code: str) -> bool:
    """Whether a stored code is of today's kind (older, shorter codes were guessable)."""
    try:
        parse_code(code)
    except SecurityError:
        return False
    return True
