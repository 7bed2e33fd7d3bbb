"""What a player program is started with: its options, and the node they make.

`rp2p-peer` and `rp2p-tui` take the same options (`add_player_options`) and build their node the
same way (`make_player`): `joining.join` finds the host and the profile, enrolling with a join
code on a first start. `parse_address` is the one reader of HOST:PORT, for options and typed
commands alike.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import socket
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import trio

from ..peer import events
from ..peer.node import Node
from ..peer.swarm.uploads import parse_rate
from ..proto.discovery import DISCOVERY_PORT, MAX_NETWORK_NAME
from ..storage.share import ShareUnusable
from .joining import Chooser, JoinFailed, NobodyToAsk, Where, join
from .naming import candidates, default_name
from .profiles import Kept, KeptEvening, Profile, Profiles

DEFAULT_DB = ("127.0.0.1", 9000)
"""Where an --insecure-lan player looks for its host (it does not look on the LAN)."""


def parse_address(text: str, *, default_host: str = "") -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` as (host, port); raises ValueError with one line for people."""
    host, _, port_text = text.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r} is not a port or HOST:PORT") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return host or default_host, port


def address_option(text: str) -> tuple[str, int]:
    """argparse's type for a HOST:PORT option (a bare PORT means this machine)."""
    try:
        return parse_address(text, default_host="127.0.0.1")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def addresses_option(text: str) -> list[tuple[str, int]]:
    """argparse's type for `--db`: one HOST:PORT or several, comma-separated."""
    return [address_option(part.strip()) for part in text.split(",") if part.strip()]


def port_option(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number < 65536:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return number


def network_name_option(text: str) -> str:
    if not text.isprintable() or not 0 < len(text.encode()) <= MAX_NETWORK_NAME:
        raise argparse.ArgumentTypeError(
            f"a network's name is 1 to {MAX_NETWORK_NAME} bytes of printable text"
        )
    return text


def rate_option(text: str) -> float:
    """argparse's type for a rate (``50M``, ``10MiB/s``, ``100mbit``), in bytes per second."""
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def program_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # ~20 ms: only when asked

    try:
        return version("reliablep2p")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class _ShowVersion(argparse.Action):
    """`--version`, as argparse's own, but the version is looked up only when it is asked for
    (reading the installed package's metadata is not worth every start)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"{parser.prog} {program_version()}", flush=True)
        parser.exit()


def add_version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action=_ShowVersion,
                        help="show the program's version number and exit")  # fmt: skip


def add_player_options(parser: argparse.ArgumentParser) -> None:
    """The options every player program takes (`rp2p-peer`, `rp2p-tui`)."""
    add_version_option(parser)
    parser.add_argument("--port", type=port_option, default=0,
                        help="port to listen on (default: any)")  # fmt: skip
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on, and to look for the host from "
                        "(default: all)")  # fmt: skip
    parser.add_argument("--db", type=addresses_option, action="extend",
                        help="the database peer, HOST:PORT, where the LAN does not carry its "
                        "announcements (default: found on the LAN); a network with several "
                        "takes several, A:9000,B:9000 or --db again: the others are where to "
                        "go when one is away")  # fmt: skip
    parser.add_argument("--discovery-port", type=port_option, default=DISCOVERY_PORT,
                        help=f"UDP port hosts announce on ({DISCOVERY_PORT})")  # fmt: skip
    parser.add_argument("--share", type=Path, help="folder to seed and save into (./port_PORT)")
    parser.add_argument("--name", help="player name (default: your login name, with -2, -3... "
                        "added where another player has it)")  # fmt: skip
    parser.add_argument("--code", help="join code from the host, needed once per network "
                        "(piano-7-orbit-lemon-sausage-ridge)")  # fmt: skip
    parser.add_argument("--profile", type=Path,
                        help="folder for this player's key and certificate "
                        "(default: the user data dir, per network and name)")  # fmt: skip
    parser.add_argument("--enroll-port", type=port_option,
                        help="the host's port for join codes, if it has one of its own "
                        "(default: its own port)")  # fmt: skip
    parser.add_argument("--max-upload", type=rate_option, metavar="RATE",
                        help="cap on what this player sends others, e.g. 50M (bytes/s), "
                        "10MiB/s or 100mbit (default: none)")  # fmt: skip
    parser.add_argument("--insecure-lan", action="store_true",
                        help="plain TCP with no authentication, to join an --insecure-lan host")  # fmt: skip


def make_player(
    args: argparse.Namespace,
    chooser: Chooser | None = None,
    notes: list[str] | None = None,
    **options: Any,
) -> Node:
    """The node for a player program: joins its network with its profile, or with a code.

    Exits with a one-line message (and a list, for several hosts and nobody to choose) when
    the player cannot join: no code, no host found, a refused code. What the player should
    still be told goes to `notes` (to standard error, without it).
    """
    port = args.port or free_port(args.host)
    name = unicodedata.normalize("NFC", args.name or default_name(port))  # as the network has it
    given: list[tuple[str, int]] = args.db or []
    identity, databases = None, given or [DEFAULT_DB]
    joined = None
    other_names = candidates(name)[1:] if not args.name else []  # (no certificate: `naming`)
    if not args.insecure_lan:
        where = Where(
            name=name, code=args.code, database=given[0] if given else None,
            databases=tuple(given), profile=args.profile,
            listen_host=args.host, discovery_port=args.discovery_port,
            profiles=Profiles(), enroll_port=args.enroll_port, defaulted=not args.name,
        )  # fmt: skip
        try:
            joined = join(where, chooser or NobodyToAsk())
        except JoinFailed as exc:
            sys.exit(str(exc))
        identity, databases = joined.identity, [joined.database, *joined.databases]
        name, other_names = identity.name, []  # a defaulted name taken got a suffix already
        if notes is None:
            for note in joined.notes:
                print(note, file=sys.stderr, flush=True)
        else:
            notes.extend(joined.notes)
    share = args.share
    if joined is not None and joined.profile is not None:
        port, share = _kept_place(joined.profile, args, port)
    node = Node(name=name, host=args.host, port=port, share_dir=share,
                database=databases[0], databases=databases[1:], identity=identity,
                max_upload=args.max_upload, other_names=other_names, **options)  # fmt: skip
    if joined is not None and joined.profile is not None:
        node.subscribe(functools.partial(remember_databases, joined.profile))
        keep_evening_in(joined.profile, node)
    return node


def keep_evening_in(profile: Profile, node: Node) -> None:
    """Go on from the evening the profile kept (the host's `Lobby` says if it is still this
    one: `Evening.heard`), and keep it there as each round ends."""
    if (evening := profile.kept_evening(time.time())) is not None:
        node.evening.resume(evening.rows, evening.last, evening.evening)
    node.subscribe(functools.partial(keep_evening, profile, node))


def keep_evening(profile: Profile, node: Node, event: events.Event) -> None:
    """Keep the evening in the profile as each round ends, and forget it at the goodnight."""
    if isinstance(event, events.EveningOver):
        kept = None
    elif isinstance(event, events.RoundChanged) and event.round.over:
        kept = KeptEvening(node.evening.rows(), node.evening.last, time.time(),
                           node.evening.named)  # fmt: skip
    else:
        return
    with contextlib.suppress(OSError):  # a read-only profile: the evening is this start's
        profile.keep_evening(kept)


def _kept_place(profile: Profile, args: argparse.Namespace, port: int) -> tuple[int, Path]:
    """The port and folder to play from, kept in the profile for the next start.

    With neither --port nor --share (as the README starts `rp2p-tui`), a later start takes
    the last start's folder and, while nobody has it, its port: a fresh port named a fresh
    ``port_N``, and the files fetched and the gets left halfway stayed behind in the old one.
    """
    kept = profile.kept()
    share: Path | None = args.share
    if not args.port and kept is not None:
        if _port_free(args.host, kept.port):
            port = kept.port
        if share is None and kept.share.is_dir():
            share = kept.share
    share = (share or Path(f"port_{port}")).absolute()
    with contextlib.suppress(OSError):  # a read-only profile: the next start picks again
        profile.keep(Kept(port, share))
    return port, share


def _port_free(host: str, port: int) -> bool:
    """Nobody listens on `port` now (as our listener binds: with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def remember_databases(profile: Profile, event: events.Event) -> None:
    """Keep every database peer the network lists in the profile, for the next start."""
    if isinstance(event, events.DatabasesChanged) and event.addresses:
        profile.remember_databases(list(event.addresses))


def free_port(host: str) -> int:
    """A port nobody listens on now; a player's name and profile are tied to its port."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


async def start_node(nursery: trio.Nursery, node: Node, program: str) -> bool:
    """Start `node` in `nursery`; False, told in one line, when its folder or port is unusable."""
    try:
        await nursery.start(node.run)
    except (ShareUnusable, OSError, BaseExceptionGroup) as caught:
        exc = sole_error(caught)
        if isinstance(exc, ShareUnusable):
            print(f"{program}: {exc}", file=sys.stderr)
        elif isinstance(exc, OSError):
            print(f"{program}: cannot listen on port {node.port}: {exc.strerror}", file=sys.stderr)
        else:
            raise
        return False
    return True


def sole_error(exc: BaseException) -> BaseException:
    """The one error inside `exc`'s exception groups (a nursery wraps what its task raised: a
    port in use came out as a traceback), or `exc` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
