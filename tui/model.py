"""What the screen shows, derived from the node's public state: plain values, no widgets.

Pure functions, so the widgets stay dumb and this is easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliablep2p.peer.node import Node
from reliablep2p.proto import FoundBy, RoundState

VAULT = "vault"


@dataclass(frozen=True)
class Player:
    """One row of the players table."""

    name: str
    score: int = 0
    files_found: int = 0
    map_size: int = 0
    online: bool = True
    me: bool = False
    host: bool = False
    wins: int = 0


def players(node: Node, *, host_online: bool | None = None) -> list[Player]:
    """The scoreboard we are sent and ourselves: the host first, then by score.

    The host sends the top rows, whoever found something this round and our own row, not every
    player (a LAN party has thousands); `online_count` says how many play. The host is online
    once we joined, unless `host_online` (our session with it) says otherwise.
    """
    online = {peer.name for peer in node.peers}
    rows: dict[str, Player] = {}
    for stats in node.scoreboard:
        rows[stats.name] = Player(
            stats.name, stats.score, stats.files_found, stats.map_size,
            online=stats.name in online, wins=stats.wins,
        )  # fmt: skip
    mine = rows.get(node.name, Player(node.name))
    rows[node.name] = Player(
        node.name, mine.score, mine.files_found, len(node.address_book),
        online=True, me=True, wins=mine.wins,
    )  # fmt: skip
    ranked = sorted(rows.values(), key=lambda p: (-p.score, -p.files_found, p.name))
    if node.database_peer is not None:
        online_host = node.ready.is_set() if host_online is None else host_online
        ranked.insert(0, Player(VAULT, online=online_host, host=True))
    return ranked


def online_count(node: Node) -> int:
    """Players online, ourselves included (the peer list knows them all; the board shows some)."""
    return len(node.peers) + 1


def me(node: Node) -> Player:
    return next(p for p in players(node) if p.me)


@dataclass(frozen=True)
class CatalogRow:
    name: str
    size: int
    holders: tuple[str, ...]
    have: bool
    target: bool


def catalog(node: Node) -> list[CatalogRow]:
    """The trusted files, by name, with who is known to hold each and whether we have it."""
    mine = {info.name for info in node.seeding()}
    targets = set(node.round.targets) if node.round and not node.round.over else set()
    return [
        CatalogRow(
            info.name,
            info.size,
            tuple(sorted(p.name for p in node.address_book.holders(info.name))),
            have=info.name in mine,
            target=info.name in targets,
        )
        for info in sorted(node.catalog.values(), key=lambda i: i.name)
    ]


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
    """Time left as m:ss."""
    whole = max(0, int(seconds + 0.5))
    return f"{whole // 60}:{whole % 60:02d}"


def holders(names: tuple[str, ...], most: int = 3) -> str:
    if not names:
        return "—"
    shown = ", ".join(names[:most])
    return shown + (f" +{len(names) - most}" if len(names) > most else "")
