"""The game's messages: the scoreboard, the round, the lobby, treasure, finds and the evening.

Part of the one `Message` union (`messages.py`); kept apart so each module stays one screenful
of the protocol. docs/game.md has the rules, docs/protocol.md every message.
"""

from __future__ import annotations

import msgspec


class PlayerStats(msgspec.Struct, frozen=True, gc=False):
    """One row of the scoreboard: `score` is the total over every round, `map_size` the
    entries of the player's map the host checked true."""

    name: str
    host: str
    port: int
    score: int
    files_found: int
    map_size: int
    online: bool
    wins: int = 0


class FoundBy(msgspec.Struct, frozen=True):
    """A credited find in the current round."""

    player: str
    target: str
    points: int
    from_vault: bool
    first: bool


class Standing(msgspec.Struct, frozen=True, gc=False):
    """A player's points in a round (finds and map), in the order that names the winner."""

    player: str
    points: int
    map_points: int = 0


class RoundState(msgspec.Struct, frozen=True):
    """The current (or just finished) round, pushed to every session when it changes.

    `targets` are the receiver's own: what it does not hold, by the host's records.
    """

    number: int
    targets: list[str]
    seconds_left: float
    finds: list[FoundBy]
    over: bool = False
    winner: str = ""
    standings: list[Standing] = []
    cut_short: bool = False
    """Over because the host stopped in the middle of it: its points count, nobody won it."""


MapEntry = tuple[str, str]
"""(file name, holder name): one entry of a map, as a player reports it."""
MAX_MAP_REPORT = 2000
"""Map entries a `stats` report may carry; the host reads no more than these."""


class Stats(msgspec.Struct, tag="stats"):
    """A peer reports its map: the entries, which the host checks; `map_size` alone is
    what old peers sent and scores nothing."""

    map_size: int
    entries: list[MapEntry] = []


class Lobby(msgspec.Struct, tag="lobby"):
    """Between rounds: when the next one starts (-1: waiting for `needed` more players),
    who said ready, and the host's settings."""

    starts_in: float = -1.0
    ready: list[str] = []
    needed: int = 0
    round_seconds: float = 0.0
    targets: int = 0
    evening: int = 0
    """Which evening the host runs: its first round's number (round numbers go on across
    evenings, so no two evenings of a network share one); 0: an older host."""


class Ready(msgspec.Struct, tag="ready"):
    """A player is ready for the next round (it only shortens the countdown)."""


class Plant(msgspec.Struct, tag="plant"):
    """The host hid fresh treasure with the receiver: fetch these from the vault and seed them."""

    names: list[str]


class Expired(msgspec.Struct, tag="expired"):
    """Treasure whose time is up: gone from the catalog and the vault; delete it from the
    share where the content matches (`hashes[i]` is `names[i]`'s)."""

    names: list[str]
    hashes: list[bytes]


class ChangeSetting(msgspec.Struct, tag="set"):
    """From the host's admin tool: change a setting of the running game."""

    key: str
    value: str


class Settings(msgspec.Struct, tag="settings"):
    """The game's settings now, as text (the answer to `set`)."""

    values: dict[str, str]


class EveningRow(msgspec.Struct, frozen=True):
    """One player's evening: rounds played and won, points, and the best find."""

    name: str
    rounds: int
    wins: int
    points: int
    best_find: str = ""
    best_points: int = 0


class EveningOver(msgspec.Struct, tag="evening_over"):
    """The host is stopping: everyone's evening, best first."""

    players: list[EveningRow]


class Scoreboard(msgspec.Struct, tag="scoreboard"):
    """Every player the database peer knows: a session's first scoreboard push."""

    players: list[PlayerStats]


class ScoreboardChanged(msgspec.Struct, tag="scoreboard_changed"):
    """The rows that changed since the last push (merge by name; `gone` rows are removed).

    Later pushes carry only these, so a join costs each of N players one row, not N rows.
    """

    players: list[PlayerStats]
    gone: list[str] = []


class Round(msgspec.Struct, tag="round"):
    """The round state, pushed to every session when it changes."""

    state: RoundState


class Found(msgspec.Struct, tag="found"):
    """A player claims it fetched a round target; the database peer answers `Challenge`."""

    name: str


class Challenge(msgspec.Struct, tag="challenge"):
    """Prove you hold `name`: answer SHA-256(nonce + the file's bytes)."""

    name: str
    nonce: bytes


class Proof(msgspec.Struct, tag="proof"):
    """Answer to `Challenge`."""

    name: str
    nonce: bytes
    digest: bytes


class Scored(msgspec.Struct, tag="scored"):
    """The verdict on a claimed find: the points (0 if refused) and why."""

    name: str
    points: int
    message: str
