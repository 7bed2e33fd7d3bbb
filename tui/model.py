"""What the screen shows, derived from the node's public state: plain values, no widgets.

Pure functions, so the widgets stay dumb and this is easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliablep2p.game.board import TOP_ROWS
from reliablep2p.peer.node import Node
from reliablep2p.proto import FoundBy, Lobby, PlayerStats, RoundState

VAULT = "vault"


@dataclass(frozen=True)
class Player:
    """One row of the players table: `score` is the total, `round_points` this round's."""

    name: str
    score: int = 0
    files_found: int = 0
    map_size: int = 0
    online: bool = True
    me: bool = False
    host: bool = False
    wins: int = 0
    round_points: int = 0


def round_points(state: RoundState | None) -> dict[str, int]:
    return {s.player: s.points for s in state.standings} if state else {}


def players(node: Node, *, host_online: bool | None = None) -> list[Player]:
    """The scoreboard we are sent, and ourselves: the host first, then by this round's points
    (the order that names the round's winner), then by total.

    The host sends its top rows, whoever found something this round and our own row, not every
    player (a LAN party has thousands); `online_count` says how many play. In a game that fits
    that view, who is online but not on the board yet shows too. The host is online once we
    joined, unless `host_online` (our session with it) says otherwise. Our map size is the
    host's count of its true entries, as for everyone.
    """
    online = {peer.name for peer in node.peers}
    points = round_points(node.round)
    rows: dict[str, Player] = {}
    for stats in node.scoreboard:
        rows[stats.name] = Player(
            stats.name, stats.score, stats.files_found, stats.map_size,
            online=stats.name in online, wins=stats.wins, round_points=points.get(stats.name, 0),
        )  # fmt: skip
    if len(online) < TOP_ROWS:  # the whole board fits the view
        for name in online - rows.keys():
            rows[name] = Player(name, round_points=points.get(name, 0))
    mine = rows.get(node.name, Player(node.name, round_points=points.get(node.name, 0)))
    rows[node.name] = Player(
        node.name, mine.score, mine.files_found, mine.map_size,
        online=True, me=True, wins=mine.wins, round_points=mine.round_points,
    )  # fmt: skip
    order = standings_order(node.round)
    ranked = sorted(rows.values(), key=lambda p: (
        order.get(p.name, len(order)), -p.score, -p.files_found, p.name
    ))  # fmt: skip
    if node.database_peer is not None:
        online_host = node.ready.is_set() if host_online is None else host_online
        ranked.insert(0, Player(VAULT, online=online_host, host=True))
    return ranked


def online_count(node: Node) -> int:
    """Players online, ourselves included (the peer list knows them all; the board shows some)."""
    return len(node.peers) + 1


def me(node: Node) -> Player:
    return next(p for p in players(node) if p.me)


def standings_order(state: RoundState | None) -> dict[str, int]:
    """Each player's place in the round's standings (best first), as the host ranked them."""
    return {s.player: i for i, s in enumerate(state.standings)} if state else {}


@dataclass(frozen=True)
class FinalRow:
    """One row of the round-over table: ranked by the round's points, as the winner was."""

    name: str
    round_points: int
    map_points: int
    total: int
    files_found: int
    map_size: int
    wins: int


def final_rows(state: RoundState, board: list[PlayerStats]) -> list[FinalRow]:
    """The round's standings (the host's order, which names the winner), then everyone else
    on the scoreboard by total."""
    totals = {row.name: row for row in board}
    rows = []
    for standing in state.standings:
        stats = totals.get(standing.player)
        rows.append(FinalRow(
            standing.player, standing.points, standing.map_points,
            stats.score if stats else 0, stats.files_found if stats else 0,
            stats.map_size if stats else 0, stats.wins if stats else 0,
        ))  # fmt: skip
    ranked = {s.player for s in state.standings}
    for stats in board:
        if stats.name not in ranked:
            rows.append(FinalRow(stats.name, 0, 0, stats.score, stats.files_found,
                                 stats.map_size, stats.wins))  # fmt: skip
    return rows


@dataclass(frozen=True)
class CatalogRow:
    name: str
    size: int
    holders: tuple[str, ...]
    have: bool
    target: bool


def catalog(node: Node, query: str = "") -> list[CatalogRow]:
    """The trusted files whose name has `query` in it (any case): the targets we still need
    first, then by name, with who is known to hold each and whether we have it."""
    mine = {info.name for info in node.seeding()}
    targets = set(node.round.targets) if node.round and not node.round.over else set()
    rows = [
        CatalogRow(
            info.name,
            info.size,
            tuple(sorted(p.name for p in node.address_book.holders(info.name))),
            have=info.name in mine,
            target=info.name in targets,
        )
        for info in node.catalog.values()
        if query.casefold() in info.name.casefold()
    ]
    return sorted(rows, key=lambda row: (not (row.target and not row.have), row.name))


def address_book(node: Node) -> dict[str, tuple[str, ...]]:
    """Our map: file → the players known to hold it."""
    return {
        name: tuple(sorted(p.name for p in peers))
        for name, peers in sorted(node.address_book.as_map().items())
    }


@dataclass(frozen=True)
class Target:
    """One line of the hunt: who found it first, how many others did, whether you did."""

    name: str
    first: FoundBy | None = None
    mine: FoundBy | None = None
    others: int = 0
    """Finders besides the first one and you."""
    have: bool = False
    """You hold the file (maybe not credited yet)."""


def still_to_find(rows: list[Target]) -> int:
    """Targets you still need: not found by you, and not in your share."""
    return sum(1 for row in rows if row.mine is None and not row.have)


def hunt(state: RoundState, me: str, have: set[str]) -> list[Target]:
    """The round's targets in their order, each with its finds."""
    rows = []
    for target in state.targets:
        finds = [find for find in state.finds if find.target == target]
        first = next((find for find in finds if find.first), finds[0] if finds else None)
        mine = next((find for find in finds if find.player == me), None)
        others = len({f.player for f in finds} - {me} - ({first.player} if first else set()))
        rows.append(Target(target, first, mine, others, have=target in have))
    return rows


@dataclass
class Countdown:
    """The game's clock as the screen keeps it: deadlines on the UI's monotonic clock, set
    when the host's news arrives."""

    round: RoundState | None = None
    round_ends: float = 0.0
    lobby: Lobby | None = None
    lobby_starts: float = 0.0
    paused: float | None = None
    """While the host is away: the time the round had left (its clock stands still)."""

    def line(self, now: float) -> str:
        """`round 3 · 1:23 left`, `next round in 0:07`, or what the lobby waits for."""
        state, lobby = self.round, self.lobby
        if state is not None and not state.over and self.paused is not None:
            return f"round {state.number} · paused, {clock(self.paused)} left"
        if state is not None and not state.over:
            return f"round {state.number} · {clock(self.round_ends - now)} left"
        if lobby is not None and lobby.starts_in >= 0:
            number = state.number + 1 if state else 1
            return f"round {number} in {clock(self.lobby_starts - now)}"
        if lobby is not None and lobby.needed:
            return f"waiting for {lobby.needed} more player{'' if lobby.needed == 1 else 's'}"
        return ""


# ---------------------------------------------------------------------------- formatting


def size(count: float) -> str:
    """Bytes for people: 512 B, 1.5 KiB, 12.0 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def fraction(done: int, total: int) -> str:
    """Progress in bytes, the unit said once when both share it: 7.0/20.0 MiB."""
    left, right = size(done), size(total)
    if left.split()[-1] == right.split()[-1]:
        return f"{left.split()[0]}/{right}"
    return f"{left}/{right}"


def rate(bytes_per_second: float) -> str:
    return size(bytes_per_second) + "/s"


def clock(seconds: float) -> str:
    """Time left as m:ss (never below 0:00)."""
    whole = max(0, int(seconds + 0.5))
    return f"{whole // 60}:{whole % 60:02d}"


def holders(names: tuple[str, ...], most: int = 3, *, yours: bool = False) -> str:
    """Who holds a file, as the catalog shows it: `yours` (we seed it) says "you" first."""
    if yours:
        names = ("you", *names)
    if not names:
        return "—"
    shown = ", ".join(names[:most])
    return shown + (f" +{len(names) - most}" if len(names) > most else "")
