"""The player commands (`get`, `secure-get`, `map`, `list`, ...), shared by `rp2p-peer` and the TUI.

`parse` is pure; `execute` runs a parsed command on a node and returns its result as data
(`words.result_lines` puts it into words for a terminal).
"""

from __future__ import annotations

import difflib

import msgspec

from ..peer.fetch import GetError, GetResult
from ..peer.node import Node
from ..proto import FileInfo, PeerInfo, ProtocolError
from .options import parse_address

HELP = {
    "get NAME": "fetch a file from the network (holders first, the vault last)",
    "secure-get NAME PORT": "fetch a file from one trusted peer (PORT or HOST:PORT)",
    "map PORT": "ask a peer for its address book and merge it (PORT or HOST:PORT)",
    "list": "the catalog of trusted files",
    "address-book": "which peers hold which files, as far as we know",
    "seeding": "the files we share",
    "peers": "the players online",
    "ready": "ready for the next round (once everyone is, the countdown is cut short)",
    "disconnect": "say goodbye to everyone and quit",
    "help": "this list",
}
VERBS = tuple(usage.split()[0] for usage in HELP)
FETCHES = ("get", "secure-get")


class CommandError(Exception):
    """A command that cannot run; the message is one line for the player, `reason` the same
    without the file it is about (a screen that names the file already shows that)."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class Command(msgspec.Struct, frozen=True):
    verb: str
    name: str = ""
    host: str = ""
    port: int = 0


class MapMerged(msgspec.Struct, frozen=True):
    """`map PORT`: what a peer's map held, and how big ours is now."""

    port: int
    entries: int
    map_size: int
    host: str = ""
    peer: str = ""
    """The player at `host:port`, if it is in our peer list (on a LAN every player may
    listen on the same port: the port alone names nobody)."""


class CatalogRow(msgspec.Struct, frozen=True):
    info: FileInfo
    holders: int
    have: bool


class CatalogListing(msgspec.Struct, frozen=True):
    rows: tuple[CatalogRow, ...]


class AddressBookListing(msgspec.Struct, frozen=True):
    holders: tuple[tuple[str, tuple[PeerInfo, ...]], ...]
    size: int


class SeedingListing(msgspec.Struct, frozen=True):
    files: tuple[FileInfo, ...]


class PeerListing(msgspec.Struct, frozen=True):
    peers: tuple[PeerInfo, ...]


class ReadySent(msgspec.Struct, frozen=True):
    """`ready`: the host was told."""


class HelpListing(msgspec.Struct, frozen=True):
    entries: tuple[tuple[str, str], ...]


Result = (
    GetResult
    | MapMerged
    | CatalogListing
    | AddressBookListing
    | SeedingListing
    | PeerListing
    | HelpListing
    | ReadySent
)


def parse(line: str) -> Command:
    """Turn a typed line into a `Command`; file names may contain spaces."""
    typed, _, rest = line.strip().partition(" ")
    verb, rest = typed.lower(), rest.strip()  # "Get x" on a phone-like keyboard is a get
    if not verb:
        raise CommandError("type a command; 'help' lists them")
    if verb not in VERBS:
        close = difflib.get_close_matches(verb, VERBS, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else "'help' lists them"
        raise CommandError(f"unknown command {typed!r}; {hint}")
    if verb == "get":
        if not rest:
            raise CommandError("usage: get NAME")
        return Command(verb, name=rest)
    if verb == "secure-get":
        name, _, where = rest.rpartition(" ")
        if not name.strip():
            raise CommandError("usage: secure-get NAME PORT")
        host, port = _address(where)
        return Command(verb, name=name.strip(), host=host, port=port)
    if verb == "map":
        host, port = _address(rest)
        return Command(verb, host=host, port=port)
    if rest:
        raise CommandError(f"{verb} takes no arguments")
    return Command(verb)


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _resolve_host(node: Node, command: Command) -> str:
    """A bare PORT means the peer with that port in our list (else this machine); on a LAN
    where several players listen on that port, the player must say which (never one at random:
    `secure-get` is from one named peer)."""
    if command.host:
        return command.host
    same = sorted((p for p in node.peers if p.port == command.port), key=lambda p: p.name)
    if len(same) > 1:
        named = ", ".join(f"{p.name} at {p.host}:{p.port}" for p in same)
        raise CommandError(f"{len(same)} players listen on port {command.port} ({named}): "
                           "say which, as HOST:PORT")  # fmt: skip
    if same:
        return same[0].host
    if node.database and node.database[1] == command.port:
        return node.database[0]
    return "127.0.0.1"


async def execute(node: Node, command: Command) -> Result:
    """Run `command`; raises `CommandError` with one line for the player."""
    try:
        if command.verb == "get":
            return await node.get(command.name)
        if command.verb == "secure-get":
            return await node.secure_get(command.name, _resolve_host(node, command), command.port)
        if command.verb == "map":
            host = _resolve_host(node, command)
            holders = await node.request_map(host, command.port)
            entries = sum(len(peers) for peers in holders.values())
            peer = next((p.name for p in node.peers if (p.host, p.port) == (host, command.port)),
                        "")  # fmt: skip
            return MapMerged(command.port, entries, len(node.address_book), host, peer)
        if command.verb == "ready":
            await node.ready_up()
            return ReadySent()
    except GetError as exc:
        raise CommandError(str(exc), reason=exc.reason) from None
    except ProtocolError as exc:
        raise CommandError(exc.detail) from None
    return view(node, command.verb)


def view(node: Node, verb: str) -> Result:
    """The local views, as data."""
    if verb == "help":
        return HelpListing(tuple(HELP.items()))
    if verb == "list":
        mine = {info.name for info in node.seeding()}
        return CatalogListing(
            tuple(
                CatalogRow(info, len(node.address_book.holders(info.name)), info.name in mine)
                for info in sorted(node.catalog.values(), key=lambda i: i.name)
            )
        )
    if verb == "address-book":
        book = node.address_book.as_map()
        return AddressBookListing(
            tuple((name, tuple(peers)) for name, peers in sorted(book.items())),
            len(node.address_book),
        )
    if verb == "seeding":
        return SeedingListing(tuple(node.seeding()))
    if verb == "peers":
        return PeerListing(tuple(sorted(node.peers, key=lambda p: p.name)))
    raise CommandError(f"{verb} is not a view")
