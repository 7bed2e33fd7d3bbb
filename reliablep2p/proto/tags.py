"""The network tag: a short name for a network, derived from its CA, spoken as one word.

The tag is the first 16 bytes of the SHA-256 of the network CA's public key (see
`net/identity.network_tag`). The database peer announces it on the LAN; a player's profile keeps
it; a join code starts with a word naming its first 11 bits, so a player with a code talks only
to a host of that network and a wrong host never sees a guess at the code.

A join code is its network's tag word, then the invite's number and words, joined by dashes:
``piano-7-orbit-lemon-sausage-ridge``. The words before the first number are the tag's; the
number and what follows are the invite (its password, see `codes.py`). The tag word comes from
the invite words' own list (BIP-39's English words). A code without a tag word
(``7-orbit-lemon-sausage-ridge``, from an older host) is still accepted: it just does not say
which network it belongs to.
"""

from __future__ import annotations

import re

import msgspec
from mnemonic import Mnemonic

from .errors import SecurityError

TAG_BYTES = 16
TAG_WORDS: list[str] = Mnemonic("english").wordlist
"""2048 words, 11 bits each: a standard list, so every version reads a code's tag alike."""
CODE_TAG_WORDS = 1
"""Tag words in a join code: two hosts on one LAN share one once in 2,048 (then the player is
shown both); the tag is no secret, so more words would only make the code longer."""
_BITS = (len(TAG_WORDS) - 1).bit_length()
_WORD_SET = frozenset(TAG_WORDS)
_SEPARATORS = re.compile(r"[\s-]+")


def tag_words(tag: bytes) -> tuple[str, ...]:
    """The words a join code starts with for a network of this tag."""
    if len(tag) != TAG_BYTES:
        raise ValueError(f"a network tag has {TAG_BYTES} bytes, not {len(tag)}")
    bits = int.from_bytes(tag, "big") >> (TAG_BYTES * 8 - _BITS * CODE_TAG_WORDS)
    values = [(bits >> (_BITS * i)) % len(TAG_WORDS) for i in reversed(range(CODE_TAG_WORDS))]
    return tuple(TAG_WORDS[value] for value in values)


def tagged_code(invite: str, tag: bytes) -> str:
    """The join code to read out: the network's tag word, then the invite's code."""
    return "-".join((*tag_words(tag), invite))


class JoinCode(msgspec.Struct, frozen=True):
    """A join code taken apart: the network's tag words (maybe none) and the invite."""

    words: tuple[str, ...]
    invite: str
    """The invite's own code, ``7-orbit-lemon-sausage-ridge``: its number and its password."""

    def __str__(self) -> str:
        return "-".join((*self.words, self.invite))

    @property
    def network(self) -> str:
        """The tag words as people read them (``piano``), or "" when the code has none."""
        return "-".join(self.words)

    def matches(self, tag: bytes) -> bool:
        """Could a network of this tag have minted the code? (Always, for a code with no tag.)"""
        return not self.words or (len(tag) == TAG_BYTES and tag_words(tag) == self.words)


def split_code(text: str) -> JoinCode:
    """Take a join code apart; spaces, dashes and case are all forgiven.

    Raises `SecurityError` (one line) for tag words that are not a network's. Text with no
    number is all invite, for `codes.parse_code` to refuse in its own words.
    """
    tokens = [token for token in _SEPARATORS.split(text.strip().lower()) if token]
    first_number = next((i for i, t in enumerate(tokens) if t.isascii() and t.isdigit()), None)
    if first_number is None:
        return JoinCode((), "-".join(tokens))
    words = tuple(tokens[:first_number])
    for word in words:
        if word not in _WORD_SET:
            raise SecurityError(f"{word!r} is not a word of join codes: check its spelling")
    if len(words) not in (0, CODE_TAG_WORDS):
        raise SecurityError(
            f"{text!r} is not a join code: it starts with one word naming the network, "
            "then the number (piano-7-orbit-lemon-sausage-ridge)"
        )
    return JoinCode(words, "-".join(tokens[first_number:]))
