"""The `rp2p-db` and `rp2p-peer` entry points: options in, one line per outcome out."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import ssl
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
import trio

from ..game.settings import GameSettings
from ..net.channel import READ_TIMEOUT, RemoteError, open_channel
from ..net.discovery import DISCOVERY_PORT, lan_addresses, lan_interfaces
from ..net.identity import ADMIN_NAME, DATABASE_NAME
from ..peer import events
from ..peer.node import Node
from ..proto import ChangeSetting, Kick, KickReport, ProtocolError, Settings
from ..proto.discovery import MAX_NETWORK_NAME
from ..proto.tags import tagged_code
from ..storage.share import ShareUnusable
from . import bot, commands, words
from .options import add_player_options, add_version_option, make_player, port_option

if TYPE_CHECKING:
    from ..database.peer import DatabasePeer

# The database peer's modules (its store, the hunt) and enrollment (spake2) are imported where
# they are used: a player started with an identity, e.g. `rp2p-peer --get`, starts ~40 ms sooner.

JOIN_TIMEOUT = 15.0


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


async def _until_signal(cancel_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            cancel_scope.cancel()
            return


# ------------------------------------------------------------------------------ rp2p-db

DEFAULT_DATA = Path(platformdirs.user_data_dir("rp2p")) / "database"
STARTUP_CODE_USES, STARTUP_CODE_HOURS = 50, 24


def db_main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "invite":
        sys.exit(_invite(argv[1:]))
    if argv and argv[0] == "kick":
        sys.exit(_kick(argv[1:]))
    if argv and argv[0] == "set":
        sys.exit(_set(argv[1:]))
    parser = argparse.ArgumentParser(
        prog="rp2p-db",
        description="The headless database peer: peer list, catalog, backup and game host. "
        "Also: 'rp2p-db invite' mints a join code, 'rp2p-db kick NAME' revokes a player, "
        "'rp2p-db set KEY VALUE' changes a setting of the running game.",
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
    parser.add_argument("--round-seconds", type=float, default=defaults.round_seconds,
                        help="longest a round lasts (%(default)g; it ends early once "
                        "everything is found)")  # fmt: skip
    parser.add_argument("--pause-seconds", type=float, default=defaults.pause_seconds,
                        help="countdown before each round (%(default)g; cut short once "
                        "everyone is ready)")  # fmt: skip
    parser.add_argument("--lobby-seconds", type=float,
                        help="countdown before the first round (as --pause-seconds)")  # fmt: skip
    parser.add_argument("--targets", type=int, default=defaults.targets,
                        help="files in each round's hunt, treasure included (%(default)s)")  # fmt: skip
    parser.add_argument("--treasure", type=int, default=defaults.treasure,
                        help="fresh files planted each round (%(default)s)")  # fmt: skip
    parser.add_argument("--treasure-rounds", type=int, default=defaults.treasure_rounds,
                        help="rounds a planted file lives before it expires (%(default)s)")  # fmt: skip
    parser.add_argument("--insecure-lan", action="store_true",
                        help="NO encryption, NO authentication: anyone on the LAN can join, "
                        "read every file and pose as any player; for quick local tests only")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    settings = defaults
    try:
        for key in ("round-seconds", "pause-seconds", "targets", "treasure", "treasure-rounds"):
            settings = settings.changed(key, str(getattr(args, key.replace("-", "_"))))
    except ValueError as exc:
        parser.error(str(exc))
    _setup_logging(args.verbose)
    from ..database.peer import DatabasePeer
    from ..storage.sqlite import StoreError

    try:
        database = DatabasePeer(
            data_dir=args.data,
            host=args.host,
            port=args.port,
            settings=settings,
            lobby_seconds=args.lobby_seconds,
            secure=not args.insecure_lan,
            enroll_port=args.enroll_port,
            discovery_port=args.discovery_port or None,
            network_name=args.network_name,
        )
        sys.exit(trio.run(_serve_until_signal, database))
    except StoreError as exc:
        sys.exit(_refused(exc))


def _refused(exc: Exception) -> int:
    """One line on standard error for a data folder we cannot use; the exit status."""
    print(f"rp2p-db: {exc}", file=sys.stderr)
    return 2


async def _serve_until_signal(database: DatabasePeer) -> int:
    from ..storage.sqlite import StoreError

    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(database.run)
        except StoreError as exc:
            return _refused(exc)
        except OSError as exc:
            print(f"rp2p-db: cannot listen on {database.host}:{database.port}: {exc.strerror}",
                  file=sys.stderr)  # fmt: skip
            return 2
        if database.authority is None:
            logging.getLogger("rp2p").warning(
                "INSECURE LAN MODE: no encryption, anyone can join and pose as anyone"
            )
        else:
            code = await trio.to_thread.run_sync(
                lambda: database.store.new_invite(
                    uses=STARTUP_CODE_USES, seconds=STARTUP_CODE_HOURS * 3600
                )
            )
            code = tagged_code(code, database.authority.tag)
            print(f"join code: {code}  (for {STARTUP_CODE_USES} players, {STARTUP_CODE_HOURS} h;"
                  " more with 'rp2p-db invite')", flush=True)  # fmt: skip
            lines = await trio.to_thread.run_sync(how_to_join, database, code)
            print("\n".join(lines), flush=True)
        await _until_signal(trio.CancelScope())  # returns at the first SIGINT or SIGTERM
        rows = await database.say_goodnight()
        for line in words.evening_lines(rows):
            logging.getLogger("rp2p").info("%s", line)
        nursery.cancel_scope.cancel()
    logging.getLogger("rp2p").info("stopped")
    return 0


def network_name_option(text: str) -> str:
    if not text.isprintable() or not 0 < len(text.encode()) <= MAX_NETWORK_NAME:
        raise argparse.ArgumentTypeError(
            f"a network's name is 1 to {MAX_NETWORK_NAME} bytes of printable text"
        )
    return text


def _invite(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rp2p-db invite", description="Mint a join code.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--uses", type=int, default=1, help="how many players may use it (1)")
    parser.add_argument("--hours", type=_code_hours, default=24.0,
                        help="how long it is good for (24, at most 168: a week)")  # fmt: skip
    args = parser.parse_args(argv)
    from ..database.authority import NetworkAuthority
    from ..storage.sqlite import SqliteStore, StoreError

    tag = NetworkAuthority.load_or_create(args.data).tag
    store = SqliteStore(args.data)
    try:
        store.open()
    except StoreError as exc:
        return _refused(exc)
    try:
        print(tagged_code(store.new_invite(uses=args.uses, seconds=args.hours * 3600), tag))
    finally:
        store.close()
    return 0


def _code_hours(text: str) -> float:
    from ..proto.codes import MAX_CODE_HOURS

    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not 0 < hours <= MAX_CODE_HOURS:
        raise argparse.ArgumentTypeError(
            f"a join code lives more than 0 and at most {MAX_CODE_HOURS} hours (a week): "
            "the longer one lives, the more guesses it must withstand"
        )
    return hours


def how_to_join(database: DatabasePeer, code: str) -> list[str]:
    """What the host tells its friends: its LAN addresses and the lines to paste."""
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


def _kick(argv: list[str]) -> int:
    """Revoke a player, and return once the online peers refuse it (or say who does not)."""
    from ..database.membership import KICK_WAIT_LIMIT

    parser = argparse.ArgumentParser(prog="rp2p-db kick", description="Revoke a player at once.")
    parser.add_argument("name", help="the player to revoke")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--host", default="127.0.0.1", help="the running database peer's address")
    parser.add_argument("--port", type=port_option, default=9000, help="its port (9000)")
    parser.add_argument("--wait", type=float, default=5.0,
                        help="seconds to wait for the online peers to confirm (5)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.wait <= KICK_WAIT_LIMIT:
        parser.error(f"--wait must be 0 to {KICK_WAIT_LIMIT:g} seconds")
    if not (args.data / "ca.key").exists():
        print(f"rp2p-db kick: no network keys in {args.data} (no ca.key): give the database "
              "peer's --data (an --insecure-lan network has no certificates to revoke)",
              file=sys.stderr)  # fmt: skip
        return 1
    from ..database.authority import NetworkAuthority

    authority = NetworkAuthority.load_or_create(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        admin = authority.identity(ADMIN_NAME, Path(tmp), days=1)
        try:
            report = trio.run(_tell_running_database, args.host, args.port,
                              admin.client_context(), Kick(args.name, args.wait))  # fmt: skip
        except RemoteError as exc:
            print(f"rp2p-db kick: {exc.detail}", file=sys.stderr)
            return 1
        except ProtocolError as exc:
            return _kick_offline(args.data, args.name, exc.detail)
    print(f"{args.name} is kicked out of the network; " + _kick_outcome(report, args.wait))
    return 0


def _set(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rp2p-db set",
        description="Change a setting of the running game: " + ", ".join(settings_names()),
    )
    parser.add_argument("key", help="the setting, e.g. round-seconds")
    parser.add_argument("value", help="its new value")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--host", default="127.0.0.1", help="the running database peer's address")
    parser.add_argument("--port", type=port_option, default=9000, help="its port (9000)")
    args = parser.parse_args(argv)
    try:
        GameSettings().changed(args.key, args.value)
    except ValueError as exc:
        print(f"rp2p-db set: {exc}", file=sys.stderr)
        return 2
    from ..database.authority import NetworkAuthority

    authority = NetworkAuthority.load_or_create(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        admin = authority.identity(ADMIN_NAME, Path(tmp), days=1)
        try:
            values = trio.run(_change_setting, args.host, args.port, admin.client_context(),
                              ChangeSetting(args.key, args.value))  # fmt: skip
        except ProtocolError as exc:
            print(f"rp2p-db set: {exc.detail}", file=sys.stderr)
            return 1
    print(f"{args.key} is now {values.get(args.key, args.value)} ("
          + ", ".join(f"{key} {value}" for key, value in values.items()) + ")")  # fmt: skip
    return 0


def settings_names() -> list[str]:
    from ..game import settings

    return settings.names()


async def _change_setting(
    host: str, port: int, tls: ssl.SSLContext, request: ChangeSetting
) -> dict[str, str]:
    async with await open_channel(host, port, name=ADMIN_NAME, listen_port=0, tls=tls,
                                  expect=DATABASE_NAME) as channel:  # fmt: skip
        await channel.send(request)
        answer = await channel.receive_message(Settings)
    return answer.values


def _kick_outcome(report: KickReport, wait: float) -> str:
    total = len(report.told) + len(report.not_told)
    if not total:
        return "no other peer is online"
    outcome = f"told {len(report.told)} of {total} online peers"
    if report.not_told:
        outcome += f"; not told: {', '.join(report.not_told)} (no answer within {wait:g} s)"
    return outcome


def _kick_offline(data: Path, name: str, why: str) -> int:
    """The database peer is not running (or not there): revoke in its store directly."""
    from ..storage.sqlite import SqliteStore, StoreError

    store = SqliteStore(data)
    try:
        store.open()
    except StoreError as exc:
        return _refused(exc)
    try:
        member = store.revoke(name)
    finally:
        store.close()
    if not member:
        print(f"rp2p-db kick: nobody called {name!r} is a member of this network",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"{name} is revoked; the database peer will refuse it when it next starts ({why})")
    return 0


async def _tell_running_database(
    host: str, port: int, tls: ssl.SSLContext, kick: Kick
) -> KickReport:
    async with await open_channel(host, port, name=ADMIN_NAME, listen_port=0, tls=tls,
                                  expect=DATABASE_NAME) as channel:  # fmt: skip
        await channel.send(kick)
        return await channel.receive_message(KickReport, timeout=kick.wait + READ_TIMEOUT)


# ---------------------------------------------------------------------------- rp2p-peer


def peer_main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="rp2p-peer",
        description="A headless peer: seeds a folder, fetches files, reads commands from stdin.",
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
        level = dataclasses.replace(level, pace=args.pace)
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
    if isinstance(event, events.RoundChanged):  # a round starts and ends once in the log
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
        try:
            await nursery.start(node.run)
        except ShareUnusable as exc:
            print(f"rp2p-peer: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"rp2p-peer: cannot listen on port {node.port}: {exc.strerror}", file=sys.stderr)
            return 2
        with trio.CancelScope() as work:
            nursery.start_soon(_until_signal, work)
            nursery.start_soon(_until_given_up, node, work)
            with trio.move_on_after(JOIN_TIMEOUT):
                await node.ready.wait()
            if node.session.gave_up.is_set():
                pass  # kicked, or another version: its one line is logged already
            elif not node.ready.is_set():
                host, port = node.database or ("?", 0)
                print(f"rp2p-peer: database peer {host}:{port} unreachable", file=sys.stderr)
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
