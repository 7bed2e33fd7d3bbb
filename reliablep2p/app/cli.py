"""The `rp2p-db` and `rp2p-peer` entry points: options in, one line per outcome out."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import trio

from ..net.identity import SecurityError
from ..peer import events
from ..peer.node import Node
from ..proto.discovery import DISCOVERY_PORT
from . import bot, commands, phrases, words
from .options import (
    add_player_options,
    add_version_option,
    make_player,
    network_name_option,
    port_option,
    sole_error,
    start_node,
)
from .stopping import StartGuard, StoppedWhileStarting, cancel_at, hear_stops, stop_signals

if TYPE_CHECKING:
    from ..database.peer import DatabasePeer

# What only `rp2p-db` needs (its store, the hunt, the admin commands, the LAN's sockets) and
# enrollment (spake2) are imported where they are used: a one-shot `rp2p-peer --get` imports only
# what it runs, and starts that much sooner (tests/test_startup.py keeps it so).

JOIN_TIMEOUT = 15.0


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


async def _until_signal(cancel_scope: trio.CancelScope) -> None:
    """A player stopped (SIGINT, SIGTERM, or its terminal closed: SIGHUP) says goodbye."""
    with trio.open_signal_receiver(*stop_signals()) as signals:
        async for _ in signals:
            cancel_scope.cancel()
            return


# ------------------------------------------------------------------------------ rp2p-db

STARTUP_CODE_USES, STARTUP_CODE_HOURS = 50, 24


def db_main(argv: Sequence[str] | None = None) -> None:
    from ..game.settings import GameSettings
    from .admin import DEFAULT_DATA, invite, kick, remove, set_setting

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "invite":
        sys.exit(invite(argv[1:]))
    if argv and argv[0] == "kick":
        sys.exit(kick(argv[1:]))
    if argv and argv[0] == "set":
        sys.exit(set_setting(argv[1:]))
    if argv and argv[0] == "remove":
        sys.exit(remove(argv[1:]))
    if argv and argv[0] == "backup":
        from .snapshot import backup

        sys.exit(backup(argv[1:]))
    parser = argparse.ArgumentParser(
        prog="rp2p-db",
        description="The headless database peer: peer list, catalog, backup and game host. "
        "Also: 'rp2p-db invite' mints a join code, 'rp2p-db kick NAME' revokes a player, "
        "'rp2p-db set KEY VALUE' changes a setting of the network's game, "
        "'rp2p-db remove NAME' takes a file out of the network, "
        "'rp2p-db backup DIR' writes a copy of the data to start from.",
    )
    add_version_option(parser)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--port", type=port_option, default=9000, help="port to listen on (9000)")
    parser.add_argument("--enroll-port", type=port_option,
                        help="also take join codes on this port (they are taken on PORT "
                        "anyway; for older players' --enroll-port)")  # fmt: skip
    parser.add_argument("--discovery-port", type=port_option, default=DISCOVERY_PORT,
                        help=f"UDP port to announce the network on ({DISCOVERY_PORT}; "
                        "0: do not announce)")  # fmt: skip
    parser.add_argument("--network-name", type=network_name_option,
                        help="what players see the network called (this machine's name)")  # fmt: skip
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder for the catalog, the vault and the network's keys")  # fmt: skip
    defaults = GameSettings()
    game = parser.add_argument_group(
        "the game's settings",
        "kept in the store for the network: one given here is set when this database peer "
        "starts (as with 'rp2p-db set'); one left out keeps what was set before, or its "
        "default (in brackets)",
    )
    game.add_argument("--round-seconds", type=float,
                      help=f"longest a round lasts ({defaults.round_seconds:g}; it ends early "
                      "once everything is found)")  # fmt: skip
    game.add_argument("--pause-seconds", type=float,
                      help=f"countdown before each round ({defaults.pause_seconds:g}; cut "
                      "short once everyone is ready)")  # fmt: skip
    parser.add_argument("--lobby-seconds", type=float,
                        help="countdown before the first round (as --pause-seconds; not kept)")  # fmt: skip
    game.add_argument("--targets", type=int,
                      help=f"files in each round's hunt, treasure included ({defaults.targets})")  # fmt: skip
    game.add_argument("--treasure", type=int,
                      help=f"fresh files planted each round ({defaults.treasure})")  # fmt: skip
    game.add_argument("--treasure-rounds", type=int,
                      help=f"rounds a planted file lives before it expires "
                      f"({defaults.treasure_rounds})")  # fmt: skip
    parser.add_argument("--ca", type=Path, metavar="DIR",
                        help="a second database peer of the network: the folder holding a copy "
                        "of the first one's ca.key and ca.pem (from its --data), copied into "
                        "--data on the first start (see docs/scale.md)")  # fmt: skip
    parser.add_argument("--insecure-lan", action="store_true",
                        help="NO encryption, NO authentication: anyone on the LAN can join, "
                        "read every file and pose as any player; for quick local tests only")  # fmt: skip
    from .storeoptions import add_store_options

    add_store_options(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    guard = StartGuard()  # a stop from here on is one line, whenever it comes
    try:
        sys.exit(_start_db(args, parser, guard))
    except StoppedWhileStarting as stopped:
        sys.exit(stopped.say("rp2p-db"))


def _start_db(args: argparse.Namespace, parser: argparse.ArgumentParser, guard: StartGuard) -> int:
    from ..game.settings import GameSettings
    from .admin import refused, settings_names
    from .storeoptions import stores_from

    given = {key: str(value) for key in settings_names()
             if (value := getattr(args, key.replace("-", "_"))) is not None}  # fmt: skip
    settings, problems = GameSettings().with_values(given)
    if problems:
        parser.error(problems[0])
    _setup_logging(args.verbose)
    from ..database.peer import DatabasePeer
    from ..storage.interfaces import StoreError

    if args.ca is not None and args.insecure_lan:
        parser.error("--ca: an --insecure-lan network has no keys")
    try:
        if args.ca is not None:  # checked before anything is made in --data
            from ..database.authority import NetworkAuthority

            NetworkAuthority.load_or_refuse(args.ca)
        database = DatabasePeer(
            stores=stores_from(args, args.data),
            data_dir=args.data,
            host=args.host,
            port=args.port,
            settings=settings,
            settings_given=given,
            lobby_seconds=args.lobby_seconds,
            secure=not args.insecure_lan,
            enroll_port=args.enroll_port,
            discovery_port=args.discovery_port or None,
            network_name=args.network_name,
            shared_ca=args.ca,
        )
        guard.noting()
        return trio.run(_serve_until_signal, database, guard)
    except (StoreError, SecurityError) as exc:
        return refused(exc)


async def _serve_until_signal(database: DatabasePeer, guard: StartGuard) -> int:
    from ..proto.tags import tagged_code
    from ..storage.interfaces import StoreError, StoreUnavailable
    from .admin import refused

    async with trio.open_nursery() as nursery:
        stops = await nursery.start(hear_stops, guard)
        with trio.CancelScope() as starting:
            nursery.start_soon(cancel_at, stops, starting)
            try:
                await nursery.start(database.run)
            except (StoreError, OSError, BaseExceptionGroup) as caught:
                exc = sole_error(caught)
                if isinstance(exc, StoreError):
                    nursery.cancel_scope.cancel()
                    return refused(exc)
                if not isinstance(exc, OSError):
                    raise
                where = exc.filename or f"{database.host}:{database.port}"
                print(f"rp2p-db: cannot listen on {where}: {exc.strerror}", file=sys.stderr)
                nursery.cancel_scope.cancel()
                return 2
        if starting.cancelled_caught:
            nursery.cancel_scope.cancel()
            assert guard.asked is not None
            return StoppedWhileStarting(guard.asked).say("rp2p-db")
        if database.authority is None:
            logging.getLogger("rp2p").warning(
                "INSECURE LAN MODE: no encryption, anyone can join and pose as anyone"
            )
        else:
            try:
                start = await trio.to_thread.run_sync(
                    lambda: database.store.start_code(
                        uses=STARTUP_CODE_USES, seconds=STARTUP_CODE_HOURS * 3600
                    )
                )
            except StoreUnavailable as exc:  # gone away while we started
                nursery.cancel_scope.cancel()
                return refused(exc)
            code = tagged_code(start.code, database.authority.tag)
            print(f"join code: {code}  ({phrases.code_left(start.uses_left, start.expires_at)};"
                  " another with 'rp2p-db invite')", flush=True)  # fmt: skip
            lines = await trio.to_thread.run_sync(how_to_join, database, code)
            print("\n".join(lines), flush=True)
        settle_collector()
        await stops.wait()  # the first stop (SIGINT, SIGTERM, SIGHUP)
        rows = await database.say_goodnight()
        for line in words.evening_lines(rows, database.hunt.evening.cut_short):
            logging.getLogger("rp2p").info("%s", line)
        nursery.cancel_scope.cancel()
    logging.getLogger("rp2p").info("stopped")
    return 0


YOUNG_OBJECTS = 50_000
"""Allocations between young collections of the database peer (Python's default is 700)."""


def settle_collector() -> None:
    """Once serving: what start-up left (modules, the catalog) is never scanned again, and the
    young generation is collected less often. A join storm of 2,000 spent a quarter of the
    database peer's CPU in its collector (0.30 of 1.15 s), each full pass a stall of its loop;
    with this, 0.06 s. The heap grows by at most the young objects between passes."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, older, oldest)


def how_to_join(database: DatabasePeer, code: str) -> list[str]:
    """What the host tells its friends: its LAN addresses and the lines to paste."""
    from ..net.discovery import lan_addresses, lan_interfaces

    addresses = lan_addresses(lan_interfaces(database.host))
    udp = database.discovery_port if database.beacon is not None else None
    ports = f"TCP {database.port}, UDP {udp}" if udp else f"TCP {database.port}, not announced"
    lines = [f"LAN addresses: {', '.join(addresses) or 'none found'}  ({ports})"]
    if udp:
        extra = "" if udp == DISCOVERY_PORT else f" --discovery-port {udp}"
        lines.append(f"friends join with:  rp2p-tui --code {code}{extra}")
    fallback = "or, if they do not find it:" if udp else "friends join with:"
    lines += [f"{fallback}  rp2p-tui --db {address}:{database.port} --code {code}"
              for address in addresses[:3]]  # fmt: skip
    return lines


# ---------------------------------------------------------------------------- rp2p-peer


def peer_main(argv: Sequence[str] | None = None) -> None:
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["restore"]:
        from .restore import restore

        sys.exit(restore(list(sys.argv[2:] if argv is None else argv[1:])))
    parser = argparse.ArgumentParser(
        prog="rp2p-peer",
        description="A headless peer: seeds a folder, fetches files, reads commands from stdin. "
        "Also: 'rp2p-peer restore' brings back every file this player shared, from the vault.",
    )
    add_player_options(parser)
    parser.add_argument("--get", action="append", metavar="NAME", default=[],
                        help="fetch NAME, then disconnect and exit (repeatable)")  # fmt: skip
    parser.add_argument("--bot", action="store_true",
                        help="play by itself: hunt every round's targets")  # fmt: skip
    parser.add_argument("--level", choices=list(bot.LEVELS), default="normal",
                        help="how well a bot plays: easy is slow and sometimes picks wrong, "
                        "hard is quick and also harvests maps (normal)")  # fmt: skip
    parser.add_argument("--pace", type=float,
                        help="a bot's mean pause before each get, in seconds "
                        "(easy 6, normal 3, hard 1.5)")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    node = make_player(args, plays=not args.get)
    rounds: set[tuple[int, bool]] = set()
    node.subscribe(lambda event: _log_event(node, event, bot=args.bot, rounds=rounds))
    level = bot.LEVELS[args.level]
    if args.pace is not None:
        level = msgspec.structs.replace(level, pace=args.pace)
    status = trio.run(_run_peer, node, args.get, level if args.bot else None)
    if argv is None:  # a process of its own (not a test calling in): exit without tidying up
        _exit_now(status)
    sys.exit(status)


def _exit_now(status: int) -> None:
    """Flush what we printed and logged, then end the process at once.

    Tearing down the interpreter (every module of trio, cryptography, msgspec...) took ~50 ms,
    a tenth of a 1 KiB `--get`; nothing of ours needs it: files are closed and fsynced, the
    network has been told we left, and no thread has work left.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120  # what Python itself exits with when stdout cannot be flushed
    os._exit(status)


QUIET = (events.TransferProgress, events.MapChanged, events.LobbyChanged)
"""Too chatty for a log."""
ANSWERED = (events.TransferDone, events.TransferFailed)
"""Told by the command's own answer (printed), unless a bot fetched it."""


def _log_event(
    node: Node, event: events.Event, *, bot: bool, rounds: set[tuple[int, bool]]
) -> None:
    if isinstance(event, QUIET) or (isinstance(event, ANSWERED) and not bot):
        return
    if isinstance(event, events.TransferDone) and event.planted:  # TreasurePlanted tells it
        return
    if isinstance(event, events.RoundChanged) and not event.resumed:  # starts and ends once
        news = (event.round.number, event.round.over)
        if news in rounds:
            return
        rounds.add(news)
    level = logging.WARNING if words.is_trouble(event) else logging.INFO
    logging.getLogger("rp2p.peer").log(level, "%s: %s", node.name, words.describe(event))


async def _run_peer(node: Node, wanted: list[str], level: bot.Level | None) -> int:
    """Join, do the work (fetch or read commands) until done or signalled, then disconnect."""
    status = 0
    async with trio.open_nursery() as nursery:
        if not await start_node(nursery, node, "rp2p-peer"):
            return 2
        with trio.CancelScope() as work:
            nursery.start_soon(_until_signal, work)
            nursery.start_soon(_until_given_up, node, work)
            with trio.move_on_after(JOIN_TIMEOUT):
                await node.ready.wait()
            if node.session.gave_up.is_set():
                pass  # kicked, or another version: its one line is logged already
            elif not node.ready.is_set():
                print(f"rp2p-peer: {not_joined(node)}", file=sys.stderr)
                status = 1
            elif wanted:
                status = await _fetch_all(node, wanted)
            elif level is not None:
                await bot.play(node, level=level)
            else:
                await _read_commands(node)
        if node.session.gave_up.is_set():
            status = 1  # at once: there is nobody to say goodbye to
        else:
            await node.leave()
        nursery.cancel_scope.cancel()
    if not wanted and (row := node.evening.row(node.name)) is not None:
        print(words.my_evening(row), flush=True)
    return status


def not_joined(node: Node) -> str:
    """Why the player is not in, when its time to join is up: the host's refusal, if it
    refused (a name taken is no unreachable host), else where nothing answered."""
    told = node.session.unreachable
    if told is not None and told.cause in (events.REFUSED, events.NAME_TAKEN):
        return words.join_refused(told)
    known = ", ".join(f"{host}:{port}" for host, port in node.databases) or "?"
    return f"database peer{'s' if len(node.databases) > 1 else ''} {known} unreachable"


async def _until_given_up(node: Node, work: trio.CancelScope) -> None:
    """Stop the work once the node stops trying to join for good (kicked, another version)."""
    await node.session.gave_up.wait()
    work.cancel()


async def _fetch_all(node: Node, wanted: list[str]) -> int:
    status = 0
    for name in wanted:
        try:
            result = await commands.execute(node, commands.Command("get", name=name))
            print("\n".join(words.result_lines(result)), flush=True)
        except commands.CommandError as exc:
            print(f"rp2p-peer: {exc}", file=sys.stderr, flush=True)
            status = 1
    return status


async def _read_commands(node: Node) -> None:
    """Run commands from standard input until `disconnect` or end of input."""
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        if not line.strip():
            continue
        try:
            command = commands.parse(line)
            if command.verb == "disconnect":
                return
            output = words.result_lines(await commands.execute(node, command))
        except commands.CommandError as exc:
            output = [f"error: {exc}"]
        print("\n".join(output), flush=True)
