"""The host's settings for the game, checked the same way from the command line and from
`rp2p-db set KEY VALUE` while the host runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

TARGETS_PER_ROUND = 5
TREASURE_PER_ROUND = 2
TREASURE_ROUNDS = 3


@dataclass(frozen=True)
class GameSettings:
    round_seconds: float = 120.0
    """How long a round lasts at most (it ends early once everything is found)."""
    pause_seconds: float = 15.0
    """The countdown between rounds (and before the first): every player ready shortens it."""
    targets: int = TARGETS_PER_ROUND
    """Files in a round's hunt, treasure included; each player hunts those it lacks."""
    treasure: int = TREASURE_PER_ROUND
    """Fresh files planted each round; more when the catalog has too few files someone lacks
    to make up `targets`, or a player would otherwise have nothing to find."""
    treasure_rounds: int = TREASURE_ROUNDS
    """Rounds a planted file lives; then it leaves the catalog, the vault and the shares."""

    def changed(self, key: str, value: str) -> GameSettings:
        """These settings with `key` (as typed: `round-seconds`) set to `value`; raises
        ValueError with one line for people."""
        field = key.replace("-", "_")
        if field not in KEYS:
            raise ValueError(f"unknown setting {key!r}; the settings are {', '.join(names())}")
        low, high = LIMITS[field]
        kind = type(getattr(self, field))
        try:
            number = kind(value)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(f"{key} must be {what}, not {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"{key} must be between {low:g} and {high:g}")
        updated = dataclasses.replace(self, **{field: number})
        if field == "targets" and updated.treasure > updated.targets:  # treasure included:
            updated = dataclasses.replace(updated, treasure=updated.targets)  # fewer, with it
        if updated.treasure > updated.targets:
            raise ValueError(f"treasure ({updated.treasure}) cannot exceed targets "
                             f"({updated.targets})")  # fmt: skip
        return updated

    def with_values(self, values: Mapping[str, str]) -> tuple[GameSettings, list[str]]:
        """These settings with `values` (key -> value, as typed) applied one by one; and the
        problems of those refused (one line each), which are left as they were."""
        settings, pending = self, sorted(values.items())
        while True:  # again while one more goes in (`treasure` may wait for `targets`)
            problems, left = [], []
            for key, value in pending:
                try:
                    settings = settings.changed(key, value)
                except ValueError as exc:
                    problems.append(str(exc))
                    left.append((key, value))
            if len(left) in (0, len(pending)):
                return settings, problems
            pending = left

    def as_text(self) -> dict[str, str]:
        return {name: f"{getattr(self, name.replace('-', '_')):g}" for name in names()}


KEYS = tuple(f.name for f in dataclasses.fields(GameSettings))
LIMITS: dict[str, tuple[float, float]] = {
    "round_seconds": (0.001, 1e9),
    "pause_seconds": (0, 1e9),
    "targets": (1, 50),
    "treasure": (1, 20),
    "treasure_rounds": (1, 1000),
}


def names() -> list[str]:
    """The settings as typed on the command line."""
    return [key.replace("_", "-") for key in KEYS]
