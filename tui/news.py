"""The game's news as the screen tells it: feed lines for a round's start, finds and end, the
lobby's countdown, and the clock. Plain code with no widgets, so it is easy to test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from reliablep2p.app import words
from reliablep2p.proto import Lobby, RoundState

from . import model

Line = tuple[str, str]
"""A feed line: its text and its kind (`widgets.feed.STYLES`)."""


@dataclass
class RoundNews:
    """What changed since the last news, for one player (`me`)."""

    me: str
    countdown: model.Countdown = field(default_factory=model.Countdown)
    seen: RoundState | None = None
    after_round: list[Line] = field(default_factory=list)
    """The next round's countdown, heard before the end of the round still running: told
    after it (the feed read "the countdown is on", then "round 3 is over")."""
    waited: bool = False
    """We were in the lobby: waiting for players or counting down (a lobby with neither is
    the host's "a round is running", what one who joins mid-round hears)."""
    joining_since: float | None = None
    """When we began to join (`time.monotonic`): a round that has run no longer is news of now,
    though the host's first push may tell it with no lobby before it (the second player came
    within the push's 50 ms)."""
    heard_at_end: bool = False
    """The round we know of was over when we first heard of it: nobody watched it end here (its
    result is not shown over the board; `s` still shows it)."""

    def lobby(self, lobby: Lobby) -> list[Line]:
        before = self.countdown.lobby
        self.countdown.lobby = lobby
        self.waited = self.waited or lobby.starts_in >= 0 or lobby.needed > 0
        self.countdown.lobby_starts = time.monotonic() + max(0.0, lobby.starts_in)
        if lobby.starts_in >= 0 and (before is None or before.starts_in < 0):
            line = ("the countdown to the next round is on: press r when you are ready", "round")
            if self.seen is not None and not self.seen.over:
                self.after_round = [line]  # the host tells the lobby before the round's end
                return []
            return [line]
        return []

    def round(self, state: RoundState) -> tuple[list[Line], bool]:
        """One feed line per news (a round starts, a target is found, the round ends), and
        whether this news ended the round."""
        before, self.seen = self.seen, state
        self.countdown.round = state
        self.countdown.round_ends = time.monotonic() + state.seconds_left
        lines: list[Line] = []
        same = before is not None and before.number == state.number
        self.heard_at_end = self.heard_at_end and same
        known = {(f.player, f.target) for f in before.finds} if before and same else set()
        ended = state.over and not (same and before is not None and before.over)
        if not same:
            targets = ", ".join(state.targets) or "nothing (you have it all)"
            clock = model.clock(state.seconds_left)
            every = {(f.player, f.target) for f in state.finds}
            if state.over:  # first heard of at its end (we came between rounds): only that
                known = every  # it said "round 12 started (0:00)", and each find, then the end
                self.heard_at_end = True
            elif self._joined_during(before, state):
                lines.append((f"round {state.number} is on ({clock} left): find {targets}",
                              "round"))  # fmt: skip
                if state.finds:  # found before we came: not news of now
                    so_far = (f"{f.target} by {self._who(f.player)} +{f.points}"
                              for f in state.finds)  # fmt: skip
                    lines.append(("so far this round: " + ", ".join(so_far), "find"))
                known = every
            else:
                lines.append((f"round {state.number} started ({clock}): find {targets}", "round"))
            self.after_round = []  # a countdown to this round is over
        for find in state.finds:
            if (find.player, find.target) not in known:
                extra = (" first!" if find.first else "") + (
                    " from the vault" if find.from_vault else ""
                )
                text = f"★ {self._who(find.player)} found {find.target} +{find.points}{extra}"
                lines.append((text, "find"))
        if ended:
            lines.append((words.describe_round(state, me=self.me), "round"))
        if state.over:
            lines += self.after_round
            self.after_round = []
        return lines, ended

    def _who(self, player: str) -> str:
        return "you" if player == self.me else player

    def _joined_during(self, before: RoundState | None, state: RoundState) -> bool:
        """Whether this is the first we hear of a round that was running already: we came
        (or came back) in the middle of it, not from the lobby. It was told as "round 1
        started", with the finds made before, each as if made now."""
        return before is None and not state.over and not self.waited and not self._new(state)

    def _new(self, state: RoundState) -> bool:
        """Whether the round started after we began to join: it has run no longer than that
        (the lobby says how long a round lasts). The host started it on hearing from us."""
        lobby = self.countdown.lobby
        if self.joining_since is None or lobby is None or lobby.round_seconds <= 0:
            return False
        ran = lobby.round_seconds - state.seconds_left
        return ran < time.monotonic() - self.joining_since

    def clock(self) -> str:
        return self.countdown.line(time.monotonic())
