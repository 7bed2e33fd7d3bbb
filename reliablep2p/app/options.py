"""What a player program is started with: its options, and the node they make.

`rp2p-peer` and `rp2p-tui` take the same options (`add_player_options`) and build their node the
same way (`make_player`), enrolling with a join code on a first start. `parse_address` is the
one reader of HOST:PORT, for options and typed commands alike.
"""

from __future__ import annotations

import argparse
import socket
import sys
import unicodedata
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import platformdirs
import trio

from ..net.identity import Identity, SecurityError
from ..peer.node import Node
from ..peer.swarm.uploads import parse_rate
from ..proto import ProtocolError

DEFAULT_DB = ("127.0.0.1", 9000)


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


def port_option(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number < 65536:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return number


def rate_option(text: str) -> float:
    """argparse's type for a rate (``50M``, ``10MiB/s``, ``100mbit``), in bytes per second."""
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def program_version() -> str:
    try:
        return version("reliablep2p")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def add_version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {program_version()}")


def add_player_options(parser: argparse.ArgumentParser) -> None:
    """The options every player program takes (`rp2p-peer`, `rp2p-tui`)."""
    add_version_option(parser)
    parser.add_argument("--port", type=port_option, default=0,
                        help="port to listen on (default: any)")  # fmt: skip
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--db", type=address_option, default=DEFAULT_DB,
                        help="the database peer, HOST:PORT (127.0.0.1:9000)")  # fmt: skip
    parser.add_argument("--share", type=Path, help="folder to seed and save into (./port_PORT)")
    parser.add_argument("--name", help="player name (player-PORT)")
    parser.add_argument("--code", help="join code from the host, needed once (7-purple-sausage)")
    parser.add_argument("--profile", type=Path,
                        help="folder for this player's key and certificate "
                        "(default: the user data dir, per name)")  # fmt: skip
    parser.add_argument("--enroll-port", type=port_option,
                        help="the database peer's port for join codes (its PORT+1)")  # fmt: skip
    parser.add_argument("--max-upload", type=rate_option, metavar="RATE",
                        help="cap on what this player sends others, e.g. 50M (bytes/s), "
                        "10MiB/s or 100mbit (default: none)")  # fmt: skip
    parser.add_argument("--insecure-lan", action="store_true",
                        help="plain TCP with no authentication, to join an --insecure-lan host")  # fmt: skip


def make_player(args: argparse.Namespace, **options: Any) -> Node:
    """The node for a player program: joins the network with its identity, or with a code.

    Exits with a one-line message when the player has no identity and no code, or the code
    is refused.
    """
    port = args.port or free_port(args.host)
    name = unicodedata.normalize("NFC", args.name or f"player-{port}")  # as the network has it
    identity = None
    if not args.insecure_lan:
        profile = args.profile or Path(platformdirs.user_data_dir("rp2p")) / "players" / name
        identity = Identity.load(profile)
        if identity is None:
            if not args.code:
                sys.exit(f"{name} has not joined this network yet: ask the host for a join code "
                         "(rp2p-db prints one) and run again with --code CODE")  # fmt: skip
            from ..net.enroll import enroll  # spake2 only where it is used: a faster start

            host, db_port = args.db
            enroll_port = args.enroll_port or db_port + 1
            try:
                identity = trio.run(enroll, host, enroll_port, args.code, name, profile)
            except (SecurityError, ProtocolError) as exc:
                sys.exit(f"cannot join with code {args.code}: {exc}")
        if identity.name != name:
            sys.exit(f"the profile in {profile} belongs to {identity.name}, not {name}")
    return Node(name=name, host=args.host, port=port, share_dir=args.share, database=args.db,
                identity=identity, max_upload=args.max_upload, **options)  # fmt: skip


def free_port(host: str) -> int:
    """A port nobody listens on now; a player's name and profile are tied to its port."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
