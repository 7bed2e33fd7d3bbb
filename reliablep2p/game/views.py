"""What players see of the game: the round, the lobby and the scoreboard, from the host's state.

Built once per change for every session (the scoreboard, the lobby, the shared part of the
round), never stored: `HuntHost` keeps the state, this only shows it. A player is sent the top
of the round's standings and its own place, not everyone's (`RoundFeed`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import trio

from ..proto import FoundBy, Lobby, PlayerStats, RoundState, Standing
from .board import TOP_ROWS, ranked
from .host import HuntHost, Online
from .records import PlayerRecord


class RoundFeed:
    """The round as each player is sent it: the finds and the top of the standings, built once
    per change for everyone, then the player's own targets and place.

    A round of a LAN party has thousands in its standings (everyone's map scores); sent whole,
    and sorted again, to every session on every change, it cost O(N^2) per find.
    """

    def __init__(self, hunt: HuntHost, top: int = TOP_ROWS) -> None:
        self.hunt = hunt
        self.top = top
        self._shared: tuple[int, list[FoundBy], list[Standing], dict[str, int]] | None = None

    def state(self, player: str) -> RoundState | None:
        hunt, current = self.hunt, self.hunt.round
        if current is None:
            return None
        if self._shared is None or self._shared[0] != hunt.round_version:
            standings = [
                Standing(name, points, current.map_points.get(name, 0))
                for name, points in current.standings()
            ]
            finds = [
                FoundBy(f.player, f.target, f.points, f.from_vault, f.first) for f in current.finds
            ]
            places = {standing.player: place for place, standing in enumerate(standings)}
            self._shared = (hunt.round_version, finds, standings, places)
        _, finds, standings, places = self._shared
        shown = standings[: self.top]
        if places.get(player, 0) >= self.top:  # its own place, far down
            shown = [*shown, standings[places[player]]]
        over = not hunt.playing
        return RoundState(
            number=current.number,
            targets=current.targets_for(player),
            seconds_left=0.0 if over else current.time_left(trio.current_time()),
            finds=finds,
            over=over,
            winner=standings[0].player if over and standings and standings[0].points > 0 else "",
            standings=shown,
        )


def lobby_state(hunt: HuntHost, online: Collection[str]) -> Lobby:
    now, online = trio.current_time(), set(online)
    return Lobby(
        starts_in=-1.0 if hunt.starts_at is None else max(0.0, hunt.starts_at - now),
        ready=sorted(name for name in hunt.ready if name in online),
        needed=max(0, hunt.min_players - len(online)),
        round_seconds=hunt.settings.round_seconds,
        targets=hunt.settings.targets,
    )


def scoreboard(hunt: HuntHost, online: Mapping[str, Online]) -> list[PlayerStats]:
    live = hunt.round.map_points if hunt.round and hunt.playing else {}
    rows = []
    for name in sorted(set(hunt.players) | set(online)):
        record = hunt.players.get(name, PlayerRecord())
        here = online.get(name)
        rows.append(
            PlayerStats(
                name=name,
                host=here.peer.host if here else "",
                port=here.peer.port if here else 0,
                score=record.score + live.get(name, 0),
                files_found=record.files_found,
                map_size=here.map_size if here else 0,
                online=here is not None,
                wins=record.wins,
            )
        )
    return ranked(rows)
