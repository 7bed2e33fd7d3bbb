"""The network tag: a short name for a network, derived from its CA, spoken as two words.

The tag is the first 16 bytes of the SHA-256 of the network CA's public key (see
`net/identity.network_tag`). The database peer announces it on the LAN; a player's profile keeps
it; a join code starts with two words naming its first two bytes, so a player with a code talks
only to a host of that network and a wrong host never sees a guess at the code.

A join code is its network's two tag words, then the invite's number and words, joined by
dashes: ``piano-moose-7-purple-sausage``. The words before the first number are the tag's; the
number and what follows are the invite (its password, see `codes.py`). A code without tag words
(``7-purple-sausage``, from an older host) is still accepted: it just does not say which network
it belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SecurityError

TAG_BYTES = 16
CODE_TAG_WORDS = 2
"""Tag words in a join code: 16 bits, so two hosts on one LAN share them once in 65,536."""

TAG_WORDS: tuple[str, ...] = tuple(
    [
        "alpine",
        "angel",
        "anvil",
        "arch",
        "arena",
        "armor",
        "bacon",
        "badge",
        "ball",
        "banana",
        "barn",
        "baron",
        "barrel",
        "basket",
        "baton",
        "beach",
        "bean",
        "bear",
        "beaver",
        "bell",
        "belt",
        "bench",
        "bike",
        "birch",
        "bison",
        "blade",
        "blaze",
        "block",
        "bloom",
        "board",
        "boat",
        "bolt",
        "book",
        "boot",
        "bottle",
        "bowl",
        "brain",
        "branch",
        "brass",
        "bread",
        "brick",
        "bridge",
        "brook",
        "broom",
        "brush",
        "bucket",
        "bunny",
        "button",
        "cabin",
        "cake",
        "camera",
        "canal",
        "candy",
        "canoe",
        "card",
        "cargo",
        "carpet",
        "cave",
        "cello",
        "chair",
        "chalk",
        "cheese",
        "chess",
        "chest",
        "cider",
        "circus",
        "city",
        "cliff",
        "clock",
        "cloud",
        "coach",
        "coast",
        "cobra",
        "cocoa",
        "coffee",
        "coin",
        "comb",
        "corn",
        "cotton",
        "couch",
        "crab",
        "crane",
        "crayon",
        "crown",
        "cube",
        "dance",
        "desk",
        "dish",
        "domino",
        "donkey",
        "door",
        "dream",
        "drum",
        "duck",
        "dune",
        "eagle",
        "earth",
        "easel",
        "echo",
        "elbow",
        "engine",
        "fairy",
        "farm",
        "fence",
        "fern",
        "ferry",
        "field",
        "fire",
        "fish",
        "flag",
        "flame",
        "flute",
        "fork",
        "frog",
        "gate",
        "gecko",
        "ghost",
        "giant",
        "gift",
        "glove",
        "goat",
        "gold",
        "golf",
        "goose",
        "grape",
        "grass",
        "guitar",
        "hammer",
        "hawk",
        "heart",
        "hill",
        "hippo",
        "horn",
        "horse",
        "hotel",
        "house",
        "igloo",
        "iron",
        "jacket",
        "jewel",
        "juice",
        "kayak",
        "kite",
        "knife",
        "knot",
        "koala",
        "ladder",
        "lake",
        "lamb",
        "lamp",
        "laser",
        "leaf",
        "lily",
        "lion",
        "lizard",
        "llama",
        "lock",
        "mask",
        "medal",
        "mirror",
        "moon",
        "moose",
        "moss",
        "mouse",
        "mule",
        "needle",
        "nest",
        "nickel",
        "night",
        "ocean",
        "opera",
        "orange",
        "organ",
        "paddle",
        "page",
        "paint",
        "palm",
        "paper",
        "park",
        "pasta",
        "pearl",
        "piano",
        "pillow",
        "pizza",
        "pony",
        "pool",
        "poppy",
        "potato",
        "prism",
        "pulse",
        "puzzle",
        "quail",
        "queen",
        "radio",
        "raft",
        "rain",
        "ranch",
        "ring",
        "robin",
        "robot",
        "rose",
        "ruby",
        "sail",
        "salad",
        "salt",
        "sand",
        "scarf",
        "scroll",
        "seal",
        "shark",
        "sheep",
        "shell",
        "ship",
        "shoe",
        "snail",
        "snake",
        "sofa",
        "soup",
        "spade",
        "spider",
        "spoon",
        "squash",
        "star",
        "stone",
        "storm",
        "straw",
        "sugar",
        "swan",
        "sword",
        "table",
        "tent",
        "toad",
        "toast",
        "tomato",
        "tooth",
        "torch",
        "tower",
        "train",
        "tree",
        "truck",
        "tuba",
        "tunnel",
        "turtle",
        "vase",
        "violin",
        "wagon",
        "whale",
        "wheat",
        "wheel",
        "window",
        "wing",
        "wolf",
        "wood",
        "worm",
        "yarn",
        "zipper",
    ]
)
"""One word per byte value; frozen: changing it would change every network's code words."""

_WORD_OF_BYTE = dict(enumerate(TAG_WORDS))
_BYTE_OF_WORD = {word: value for value, word in _WORD_OF_BYTE.items()}
_SEPARATORS = re.compile(r"[\s\-_.]+")


def tag_words(tag: bytes) -> tuple[str, ...]:
    """The words a join code starts with for a network of this tag."""
    if len(tag) < CODE_TAG_WORDS:
        raise ValueError(f"a network tag has {TAG_BYTES} bytes, not {len(tag)}")
    return tuple(_WORD_OF_BYTE[byte] for byte in tag[:CODE_TAG_WORDS])


def tagged_code(invite: str, tag: bytes) -> str:
    """The join code to read out: the network's tag words, then the invite's code."""
    return "-".join((*tag_words(tag), invite))


@dataclass(frozen=True)
class JoinCode:
    """A join code taken apart: the network's tag words (maybe none) and the invite."""

    words: tuple[str, ...]
    invite: str
    """The invite's own code, ``7-purple-sausage``: its number and its password."""

    def __str__(self) -> str:
        return "-".join((*self.words, self.invite))

    @property
    def network(self) -> str:
        """The tag words as people read them (``piano-moose``), or "" when the code has none."""
        return "-".join(self.words)

    def matches(self, tag: bytes) -> bool:
        """Could a network of this tag have minted the code? (Always, for a code with no tag.)"""
        return not self.words or (len(tag) >= CODE_TAG_WORDS and tag_words(tag) == self.words)


def split_code(text: str) -> JoinCode:
    """Take a join code apart; spaces, dashes and case are all forgiven.

    Raises `SecurityError` (one line) for text with no invite number or with tag words that are
    not a network's.
    """
    tokens = [token for token in _SEPARATORS.split(text.strip().lower()) if token]
    first_number = next((i for i, token in enumerate(tokens) if token.isdigit()), None)
    if first_number is None:
        raise SecurityError(
            f"{text!r} is not a join code (it looks like piano-moose-7-purple-sausage)"
        )
    words = tuple(tokens[:first_number])
    unknown = [word for word in words if word not in _BYTE_OF_WORD]
    if unknown or len(words) not in (0, CODE_TAG_WORDS):
        raise SecurityError(
            f"{text!r} is not a join code: it starts with {CODE_TAG_WORDS} words naming the "
            f"network{f' ({unknown[0]!r} is not one)' if unknown else ''}, then the number"
        )
    return JoinCode(words, "-".join(tokens[first_number:]))
