"""What players see of the game: the round, the lobby and the scoreboard, from the host's state.

Built once per change for every session (the scoreboard, the lobby, the shared part of the
round), never stored: `HuntHost` keeps the state, this only shows it. A player is sent the top
of the round's standings and its own place, not everyone's (`RoundFeed`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec
import trio

from ..proto import FoundBy, Lobby, PlayerStats, RoundState, Standing
from .board import TOP_ROWS, ranked
from .host import HuntHost, Online
from .records import PlayerRecord


def standings_for(
    standings: list[Standing], places: Mapping[str, int], player: str, top: int = TOP_ROWS
) -> list[Standing]:
    """The top `top` standings, then the player's own if it is further down (`places`: each
    player's index in `standings`)."""
    shown = standings[:top]
    if places.get(player, 0) >= top:  # its own place, far down
        shown = [*shown, standings[places[player]]]
    return shown


class RoundFeed:
    """The round as each player is sent it: the finds and the top of the standings, built once
    per change for everyone, then the player's own targets and place.

    A round of a LAN party has thousands in its standings (everyone's map scores); sent whole,
    and sorted again, to every session on every change, it cost O(N^2) per find.
    """

    def __init__(self, hunt: HuntHost, top: int = TOP_ROWS) -> None:
        self.hunt = hunt
        self.top = top
        self._shared: tuple[int, RoundState, dict[str, int]] | None = None

    def whole(self) -> RoundState | None:
        """The round with every standing and nobody's targets (what other database peers
        are told: they show their players their own views of it)."""
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
            over = not hunt.playing
            winner = (current.winner() or "") if over and not current.cut_short else ""
            state = RoundState(current.number, [], 0.0, finds, over, winner, standings,
                               cut_short=current.cut_short)  # fmt: skip
            self._shared = (hunt.round_version, state, places)
        _, state, _ = self._shared
        if state.over:
            return state
        return msgspec.structs.replace(state, seconds_left=current.time_left(trio.current_time()))

    def state(self, player: str) -> RoundState | None:
        whole = self.whole()
        if whole is None or self._shared is None or self.hunt.round is None:
            return None
        return msgspec.structs.replace(
            whole,
            targets=self.hunt.round.targets_for(player),
            standings=standings_for(whole.standings, self._shared[2], player, self.top),
        )


class HuntView:
    """The host's hunt as its sessions are pushed it (the `GameView` of `pushes.py`)."""

    def __init__(self, hunt: HuntHost) -> None:
        self.hunt = hunt
        self.round = RoundFeed(hunt)

    @property
    def lobby_version(self) -> int:
        return self.hunt.lobby_version

    @property
    def round_version(self) -> int:
        return self.hunt.round_version

    def lobby_state(self, online: Collection[str]) -> Lobby:
        return lobby_state(self.hunt, online)

    def round_state(self, player: str) -> RoundState | None:
        return self.round.state(player)

    def finders(self) -> set[str]:
        """Who found something in the current round (everyone sees their rows)."""
        current = self.hunt.round
        return {find.player for find in current.finds} if current is not None else set()


def lobby_state(hunt: HuntHost, online: Collection[str]) -> Lobby:
    now, online = trio.current_time(), set(online)
    return Lobby(
        starts_in=-1.0 if hunt.starts_at is None else max(0.0, hunt.starts_at - now),
        ready=sorted(name for name in hunt.ready if name in online),
        needed=max(0, hunt.min_players - len(online)),
        round_seconds=hunt.settings.round_seconds,
        targets=hunt.settings.targets,
        evening=hunt.evening_number(),
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
