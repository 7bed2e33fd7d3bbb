"""The name we join as where no certificate fixes it: a defaulted one moves on when taken.

With certificates a player's name is its certificate's, chosen at enrollment (`app/joining.py`
tries `NAME-2`... there). On an `--insecure-lan` network it is only what our `hello` says, so
two friends logged in as `pi` were both `pi` and the second was refused. The same turn is taken
here, at admission: a *defaulted* name the host says is online already becomes the next of
`app.naming.candidates`. Only before the first welcome: a player that was in and merely
reconnects (a network blip) keeps its name, whatever the host says meanwhile; a name the player
gave is never changed.
"""

from __future__ import annotations

from collections.abc import Sequence


class JoinNames:
    """The name we ask for, the ones left to try, and those the host said were taken."""

    def __init__(self, spare: Sequence[str] = ()) -> None:
        self.spare = list(spare)
        """Names to try in turn when ours is taken (none: the player chose its name)."""
        self.taken: list[str] = []
        self.settled = False
        """Welcomed once: the name is ours for the rest of the evening."""

    @property
    def defaulted(self) -> bool:
        return bool(self.spare or self.taken)

    def next_after(self, name: str) -> str | None:
        """The name to try now that the host refused `name` as taken (None: keep `name`,
        either because it was given, or settled, or nothing is left to try)."""
        if self.settled or not self.spare:
            return None
        self.taken.append(name)
        return self.spare.pop(0)

    def settle(self) -> tuple[str, ...]:
        """We were welcomed: the names taken before ours (told once, then never again)."""
        if self.settled:
            return ()
        self.settled = True
        return tuple(self.taken)
