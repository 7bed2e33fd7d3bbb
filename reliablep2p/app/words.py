"""Events and command results in words: the one place the core's data becomes sentences.

`rp2p-peer` logs and prints these; the TUI shows them in its feed. Nothing in the core reads
them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import singledispatch

from ..net.channel import REFUSED as CONNECTION_REFUSED
from ..peer import events
from ..peer.fetch import GetResult
from ..proto import UPDATE_COMMAND, EveningRow, Lobby, PeerInfo, RoundState, short_hash
from . import commands
from .phrases import counted, from_whom, listed, points, probes, shown, source

TROUBLE = (
    events.SessionLost,
    events.DatabaseUnreachable,
    events.VersionRefused,
    events.NotReachable,
    events.Kicked,
    events.NamesTaken,
    events.JoinRefused,
    events.CatalogEntryIgnored,
    events.BackupFailed,
    events.PublishRefused,
    events.NotShared,
    events.FindRefused,
    events.TransferFailed,
)
"""Events that tell of something that went wrong (a warning in a log, red in the feed)."""


def is_trouble(event: events.Event) -> bool:
    return isinstance(event, TROUBLE)


@singledispatch  # register(TYPE): taking it from the annotation cost ~5 ms a start
def describe(event: events.Event) -> str:
    """One line for people about `event`."""
    return type(event).__name__


@describe.register(events.Joined)
def _(event: events.Joined) -> str:
    counts = f"{counted(event.peers, 'peer')} online, {counted(event.files, 'file')} in the catalog"
    if event.again and event.gone_host:
        return (f"database peer {event.gone_host}:{event.gone_port} gone; now on"
                f" {event.host}:{event.port}: {counts}")  # fmt: skip
    if event.again:
        return f"back with the host at {event.host}:{event.port}: {counts}"
    return f"joined as {event.name}: {counts}"


@describe.register(events.DatabasesChanged)
def _(event: events.DatabasesChanged) -> str:
    where = ", ".join(f"{host}:{port}" for host, port in event.addresses)
    return f"database peers of the network: {where}"


@describe.register(events.SessionLost)
def _(event: events.SessionLost) -> str:
    line = f"lost the host at {event.host}:{event.port} — retrying"
    if event.round:
        line += f" (round {event.round} is paused with {event.seconds_left:.0f} s left)"
    return line


@describe.register(events.NotReachable)
def _(event: events.NotReachable) -> str:
    return (f"the database peer cannot reach you back at {event.host}:{event.port}: nobody can "
            "fetch from you; listen on an address the others can reach (--host)")  # fmt: skip


UNREACHABLE = {
    events.NO_ANSWER: "nothing answers there (is rp2p-db running, and is the address right?)",
    events.HANDSHAKE: "the secure handshake failed (is it this network's host?)",
    events.BROKEN: "the connection broke while joining",
}


@describe.register(events.DatabaseUnreachable)
def _(event: events.DatabaseUnreachable) -> str:
    return f"{join_refused(event)} — retrying"


def join_refused(event: events.DatabaseUnreachable) -> str:
    """Why we are not in, without the "retrying" (a one-shot `rp2p-peer` stops there)."""
    where = f"the host at {event.host}:{event.port}"
    if event.cause == events.NAME_TAKEN:
        return f"{where} refused us: {event.detail}; choose another name with --name NAME"
    if event.cause == events.REFUSED:
        return f"{where} refused us: {event.detail}"
    return f"cannot reach {where}: {UNREACHABLE.get(event.cause, event.cause)}"


def database_unreachable(address: tuple[str, int], cause: str) -> str:
    """A database peer we could not ask (`ConnectionLost.cause` says why)."""
    where = "{}:{}".format(*address)
    why = f"nothing answers there ({cause})" if cause == CONNECTION_REFUSED else cause
    return f"cannot reach the database peer at {where}: {why}"


@describe.register(events.Renamed)
def _(event: events.Renamed) -> str:
    taken = listed(event.taken)
    return f"{taken} {'is' if len(event.taken) == 1 else 'are'} online already: you play as {event.name}"


@describe.register(events.JoinRefused)
def _(event: events.JoinRefused) -> str:
    return f"the host at {event.host}:{event.port} refused us: {event.detail}"


@describe.register(events.NamesTaken)
def _(event: events.NamesTaken) -> str:
    return f"{listed(event.names)} are all online already: choose a name with --name NAME"


@describe.register(events.VersionRefused)
def _(event: events.VersionRefused) -> str:
    return version_refused(event.host, event.port, event.theirs, event.ours)


def version_refused(host: str, port: int, theirs: int, ours: int) -> str:
    """Which side must update, when the host speaks another protocol version than we do."""
    where = f"the host at {host}:{port}"
    if not theirs:
        return (f"{where} does not speak protocol {ours}, as this rp2p-peer does: update the "
                f"older of the two ({UPDATE_COMMAND})")  # fmt: skip
    said = f"{where} speaks protocol {theirs}, this rp2p-peer speaks {ours}"
    if theirs > ours:
        return f"{said}: update rp2p-peer ({UPDATE_COMMAND})"
    return f"{said}: the host must update rp2p-db ({UPDATE_COMMAND})"


@describe.register(events.Left)
def _(event: events.Left) -> str:
    return "left the network"


@describe.register(events.Kicked)
def _(event: events.Kicked) -> str:
    return "the host removed you from the network (kicked out): it refuses you from now on"


@describe.register(events.OthersKicked)
def _(event: events.OthersKicked) -> str:
    return "kicked out by the host: " + ", ".join(event.names)


@describe.register(events.PeersChanged)
def _(event: events.PeersChanged) -> str:
    parts = []
    if event.joined:
        parts.append("joined: " + _names(event.joined))
    if event.left:
        parts.append("left: " + _names(event.left))
    return "; ".join(parts)


def _names(peers: tuple[PeerInfo, ...]) -> str:
    return ", ".join(p.name for p in peers[:5])


@describe.register(events.CatalogChanged)
def _(event: events.CatalogChanged) -> str:
    names = ", ".join(info.name for info in event.added[:3])
    more = f" and {len(event.added) - 3} more" if len(event.added) > 3 else ""
    return f"new in the catalog: {names}{more}"


@describe.register(events.CatalogEntryIgnored)
def _(event: events.CatalogEntryIgnored) -> str:
    return f"ignored a bad catalog entry: {event.reason}"


@describe.register(events.MapChanged)
def _(event: events.MapChanged) -> str:
    return f"map size {event.size}"


@describe.register(events.SeedingChanged)
def _(event: events.SeedingChanged) -> str:
    if event.fetched is not None:
        return f"now seeding {event.fetched}"
    return f"seeding {len(event.names)} files"


@describe.register(events.TransferProgress)
def _(event: events.TransferProgress) -> str:
    return f"{event.name}: {event.done:,}/{event.total:,} from {source(event.source)}"


@describe.register(events.TransferDone)
def _(event: events.TransferDone) -> str:
    resumed = f", resumed at {event.resumed_at:,} bytes" if event.resumed_at else ""
    return (f"got {event.name} ({event.size:,} bytes) from {from_whom(event.sources, event.source)} "
            f"after {probes(event.probes)}{resumed}")  # fmt: skip


@describe.register(events.TransferFailed)
def _(event: events.TransferFailed) -> str:
    return f"could not get {event.name}: {event.reason}"


@describe.register(events.BackedUp)
def _(event: events.BackedUp) -> str:
    tries = event.failed_tries
    after = f" (after {tries} failed tr{'y' if tries == 1 else 'ies'})" if tries else ""
    return f"backed up {event.name} in the vault{after}"


@describe.register(events.BackupFailed)
def _(event: events.BackupFailed) -> str:
    return f"backup of {event.name} failed: {event.reason}; trying again, less and less often"


@describe.register(events.PublishRefused)
def _(event: events.PublishRefused) -> str:
    return f"database peer will not take {shown(event.name)}: {event.reason}"


NOT_SHARED = {
    "link": "it is a symbolic link (put the file itself in the folder)",
    "folder": "it is a folder (only the files at the top of the share are shared)",
    "special": "it is not a regular file",
}


@describe.register(events.NotShared)
def _(event: events.NotShared) -> str:
    why = NOT_SHARED.get(event.kind) or f"its name {event.problem or 'cannot be shared'}"
    slash = "/" if event.kind == "folder" else ""
    return f"not shared: {shown(event.name)}{slash}: {why}"


@describe.register(events.Scoreboard)
def _(event: events.Scoreboard) -> str:
    leader = event.players[0] if event.players else None
    return f"leader: {leader.name} with {points(leader.score)}" if leader else "no players yet"


@describe.register(events.RoundChanged)
def _(event: events.RoundChanged) -> str:
    return describe_round(event.round, resumed=event.resumed)


@describe.register(events.FindScored)
def _(event: events.FindScored) -> str:
    return event.verdict


@describe.register(events.FindRefused)
def _(event: events.FindRefused) -> str:
    return f"no points for {event.name}: {event.reason}"


@describe.register(events.LobbyChanged)
def _(event: events.LobbyChanged) -> str:
    return describe_lobby(event.lobby)


@describe.register(events.TreasurePlanted)
def _(event: events.TreasurePlanted) -> str:
    return "the host hid fresh treasure with you (others hunt it): " + ", ".join(event.names)


@describe.register(events.TreasureExpired)
def _(event: events.TreasureExpired) -> str:
    return "treasure expired: " + ", ".join(event.names)


@describe.register(events.FilesRemoved)
def _(event: events.FilesRemoved) -> str:
    names = ", ".join(shown(name) for name in event.names)
    return f"the host removed {names} from the network: no longer offered (your copy stays)"


@describe.register(events.EveningOver)
def _(event: events.EveningOver) -> str:
    return "the host ended the evening: " + "; ".join(evening_lines(list(event.players))[1:4])


def describe_round(state: RoundState, *, resumed: bool = False, me: str = "") -> str:
    if state.over:
        return round_over_line(state, me)
    resumes = " resumes" if resumed else ""
    return (
        f"round {state.number}{resumes}: {counted(len(state.targets), 'file')} to find, "
        f"{state.seconds_left:.0f} s left"
    )


def round_over_line(state: RoundState, me: str = "") -> str:
    """A round's end as the feed, the hunt and the round-over screen all say it (`me` is told
    "you win"): it read "Round 3 over: winner nobody" in the hunt, "Winner: nobody" over it."""
    if state.cut_short:
        return cut_short_line(state.number)
    if not state.winner:  # any find names a winner (map points alone win nothing)
        return f"round {state.number} is over: nobody found anything"
    won = next((s.points for s in state.standings if s.player == state.winner), 0)
    who = "you win" if state.winner == me else f"{state.winner} wins"
    return f"round {state.number} is over: {who}" + (f" with {points(won)}" if won else "")


def headline(line: str) -> str:
    """A line of words as a screen's title: its first letter a capital."""
    return line[:1].upper() + line[1:]


def describe_lobby(lobby: Lobby) -> str:
    if lobby.starts_in < 0:
        if lobby.needed:
            return f"waiting for {counted(lobby.needed, 'more player')}"
        return "a round is running"
    ready = f"; ready: {', '.join(lobby.ready)}" if lobby.ready else ""
    return f"next round in {lobby.starts_in:.0f} s{ready}"


def evening_lines(rows: list[EveningRow], cut_short: Sequence[int] = ()) -> list[str]:
    """The evening, for a log or a terminal: a head line, one line per player, and the rounds
    the host cut short as it stopped (`cut_short`)."""
    if not rows:
        return ["the evening is over: no rounds were played"]
    lines = [f"the evening is over after {counted(max(r.rounds for r in rows), 'round')}:"]
    for row in rows:
        lines.append(f"{row.name}: {_evening(row)}")
    for number in cut_short:
        lines.append(cut_short_line(number))
    return lines


def cut_short_line(number: int) -> str:
    return f"round {number} was cut short when the host stopped: its points count, nobody won it"


def my_evening(row: EveningRow) -> str:
    return f"your evening: {_evening(row)}"


def _evening(row: EveningRow) -> str:
    best = f", best find {row.best_find} +{row.best_points}" if row.best_find else ""
    rounds = counted(row.rounds, "round")
    return f"won {row.wins} of {rounds}, {row.points} points{best}"


# ----------------------------------------------------------------------- command results


def result_lines(result: commands.Result) -> list[str]:
    """A command's result as lines for a terminal."""
    if isinstance(result, GetResult):
        return [fetched(result)]
    if isinstance(result, commands.MapMerged):
        where = f"{result.host}:{result.port}" if result.host else f"port {result.port}"
        who = f"{shown(result.peer)} ({where})" if result.peer else where
        entries = f"{result.entries} entr{'y' if result.entries == 1 else 'ies'}"
        return [f"map from {who}: {entries}; ours now has {result.map_size}"]
    if isinstance(result, commands.ReadySent):
        return ["ready: the next round starts soon once everyone is"]
    if isinstance(result, commands.HelpListing):
        return [f"{usage:<22} {text}" for usage, text in result.entries]
    if isinstance(result, commands.CatalogListing):
        lines = [
            f"{row.info.name}  {row.info.size:,} B  {short_hash(row.info.hash)}"
            f"  holders {row.holders}" + ("  (have)" if row.have else "")
            for row in result.rows
        ]
        return lines or ["the catalog is empty"]
    if isinstance(result, commands.AddressBookListing):
        lines = [
            f"{name}: " + ", ".join(f"{p.name} ({p.host}:{p.port})" for p in peers)
            for name, peers in result.holders
        ]
        return [*lines, f"map size {result.size}"]
    if isinstance(result, commands.SeedingListing):
        return [f"{info.name}  {info.size:,} B" for info in result.files] or ["seeding nothing"]
    lines = [f"{p.name}  {p.host}:{p.port}" + ("" if p.reachable else "  (unreachable)")
             for p in result.peers]  # fmt: skip
    return lines or ["no other peers online"]


def fetched(result: GetResult) -> str:
    """One line for a finished `get`: from whom, after how many probes, from where resumed."""
    if result.source == "local":
        return f"already have {result.name}"
    line = (f"got {result.name} ({result.size:,} bytes) from"
            f" {from_whom(result.sources, result.source)} after {probes(result.probes)}")  # fmt: skip
    if len(result.sources) > 1:  # (bench/crowd.py and tests/lan read who sent what here)
        line += " (" + ", ".join(f"{n:,} B from {source(who)}" for who, n in result.sources) + ")"
    if result.resumed_at:
        line += f", resumed at {result.resumed_at:,} bytes"
    if result.skipped:
        line += "; skipped " + ", ".join(result.skipped) + " (unreachable)"
    return line
