"""The end of a round at the host: its map points into the totals, the winner's win, the round
kept in the evening, nothing left to resume.

A round the host cut short (it stopped mid-round: Ctrl-C, `rp2p-db` told to stop) ends the same
way with what was found so far, but nobody wins it: it is counted in the evening, marked as cut
short, and it is not resumed at the next start (that evening is over).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from . import rules, saved
from .evening import RoundSummary
from .records import PlayerRecord, stored

if TYPE_CHECKING:
    from .host import HuntHost

log = logging.getLogger("rp2p.hunt")


async def end_round(
    host: HuntHost, current: rules.Round, played: list[str], *, cut_short: bool = False
) -> None:
    """Round `current` is over (`played`: who was online): count it everywhere."""
    current.ends_at = min(current.ends_at, trio.current_time())
    current.cut_short = cut_short
    host.playing = False
    await saved.save(host.store, None)  # over: nothing to resume
    winner = None if cut_short else current.winner()
    points = current.points()
    for name, gained in current.map_points.items():
        if gained:
            host.players.setdefault(name, PlayerRecord()).score += gained
    if winner is not None:
        host.players.setdefault(winner, PlayerRecord()).wins += 1
    for name in sorted({*current.map_points, *([winner] if winner else [])}):
        await host.save_player(name)
    summary = RoundSummary(current.number, winner, points,
                           [(f.player, f.target, f.points) for f in current.finds],
                           played, cut_short=cut_short)  # fmt: skip
    host.evening.add(summary)
    await stored(host.store.save_evening_round, current.number, summary.encode(),
                 what="the evening's round")  # fmt: skip
    log.info("round %d %s: %s", current.number, "cut short" if cut_short else "over",
             _said(winner, points))  # fmt: skip


def _said(winner: str | None, points: dict[str, int]) -> str:
    if winner is None:
        scored = sum(1 for gained in points.values() if gained)
        return (
            f"{scored} player{'s' * (scored != 1)} scored, nobody wins it"
            if scored
            else "nobody scored"
        )
    won = points[winner]
    return f"{winner} wins with {won} point{'s' * (won != 1)}"
