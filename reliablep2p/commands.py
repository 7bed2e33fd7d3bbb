"""The player commands (`get`, `secure-get`, `map`, `list`, ...), shared by `rp2p-peer` and the TUI.

`parse` is pure; `execute` runs a parsed command on a node and returns the lines to show.
"""

from __future__ import annotations

from dataclasses import dataclass

from .node import GetError, Node
from .protocol import ProtocolError, short_hash

HELP = {
    "get NAME": "fetch a file from the network (holders first, the vault last)",
    "secure-get NAME PORT": "fetch a file from one trusted peer (PORT or HOST:PORT)",
    "map PORT": "ask a peer for its address book and merge it (PORT or HOST:PORT)",
    "list": "the catalog of trusted files",
    "address-book": "which peers hold which files, as far as we know",
    "seeding": "the files we share",
    "peers": "the players online",
    "disconnect": "say goodbye to everyone and quit",
    "help": "this list",
}
VERBS = tuple(usage.split()[0] for usage in HELP)


class CommandError(Exception):
    """A command that cannot run; the message is one line for the player."""


@dataclass(frozen=True)
class Command:
    verb: str
    name: str = ""
    host: str = ""
    port: int = 0


def parse(line: str) -> Command:
    """Turn a typed line into a `Command`; file names may contain spaces."""
    verb, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if not verb:
        raise CommandError("type a command; 'help' lists them")
    if verb not in VERBS:
        raise CommandError(f"unknown command {verb!r}; 'help' lists them")
    if verb == "get":
        if not rest:
            raise CommandError("usage: get NAME")
        return Command(verb, name=rest)
    if verb == "secure-get":
        name, _, where = rest.rpartition(" ")
        if not name.strip():
            raise CommandError("usage: secure-get NAME PORT")
        host, port = _parse_address(where)
        return Command(verb, name=name.strip(), host=host, port=port)
    if verb == "map":
        host, port = _parse_address(rest)
        return Command(verb, host=host, port=port)
    if rest:
        raise CommandError(f"{verb} takes no arguments")
    return Command(verb)


def _parse_address(text: str) -> tuple[str, int]:
    host, _, port_text = text.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise CommandError(f"{text!r} is not a port or HOST:PORT") from None
    if not 0 < port < 65536:
        raise CommandError(f"port {port} is out of range")
    return host, port


def _resolve_host(node: Node, command: Command) -> str:
    """A bare PORT means the peer with that port in our list (else this machine)."""
    if command.host:
        return command.host
    for peer in node.peers:
        if peer.port == command.port:
            return peer.host
    if node.database and node.database[1] == command.port:
        return node.database[0]
    return "127.0.0.1"


async def execute(node: Node, command: Command) -> list[str]:
    """Run `command`; raises `CommandError` with one line for the player."""
    try:
        if command.verb == "get":
            result = await node.get(command.name)
        elif command.verb == "secure-get":
            host = _resolve_host(node, command)
            result = await node.secure_get(command.name, host, command.port)
        elif command.verb == "map":
            holders = await node.request_map(_resolve_host(node, command), command.port)
            pairs = sum(len(peers) for peers in holders.values())
            return [f"map from port {command.port}: {pairs} entries; ours now has "
                    f"{len(node.address_book)}"]  # fmt: skip
        else:
            return view(node, command.verb)
    except GetError as exc:
        raise CommandError(str(exc)) from None
    except ProtocolError as exc:
        raise CommandError(exc.detail) from None
    if result.source == "local":
        return [f"already have {result.name}"]
    line = (
        f"got {result.name} ({result.size:,} bytes) from {result.source} "
        f"after {result.probes} probe{'s' if result.probes != 1 else ''}"
    )
    if len(result.sources) > 1:
        line += " (" + ", then ".join(f"{n:,} B from {who}" for who, n in result.sources) + ")"
    if result.resumed_at:
        line += f", resumed at {result.resumed_at:,} bytes"
    return [line]


def view(node: Node, verb: str) -> list[str]:
    """The local views, as lines of text."""
    if verb == "help":
        return [f"{usage:<22} {text}" for usage, text in HELP.items()]
    if verb == "list":
        mine = {info.name for info in node.seeding()}
        lines = [
            f"{info.name}  {info.size:,} B  {short_hash(info.hash)}"
            f"  holders {len(node.address_book.holders(info.name))}"
            + ("  (have)" if info.name in mine else "")
            for info in sorted(node.catalog.values(), key=lambda i: i.name)
        ]
        return lines or ["the catalog is empty"]
    if verb == "address-book":
        book = node.address_book.as_map()
        lines = [
            f"{name}: " + ", ".join(f"{p.name} ({p.host}:{p.port})" for p in peers)
            for name, peers in sorted(book.items())
        ]
        return [*lines, f"map size {len(node.address_book)}"]
    if verb == "seeding":
        files = node.seeding()
        return [f"{info.name}  {info.size:,} B" for info in files] or ["seeding nothing"]
    if verb == "peers":
        peers = sorted(node.peers, key=lambda p: p.name)
        lines = [f"{p.name}  {p.host}:{p.port}" for p in peers]
        return lines or ["no other peers online"]
    raise CommandError(f"{verb} is not a view")
