"""The `rp2p-db` and `rp2p-peer` entry points: options in, one line per outcome out."""

from __future__ import annotations

import argparse
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

from ..net.channel import READ_TIMEOUT, RemoteError, open_channel
from ..net.identity import ADMIN_NAME, DATABASE_NAME
from ..peer import events
from ..peer.node import Node
from ..proto import Kick, KickReport, ProtocolError
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
    parser = argparse.ArgumentParser(
        prog="rp2p-db",
        description="The headless database peer: peer list, catalog, backup and game host. "
        "Also: 'rp2p-db invite' mints a join code, 'rp2p-db kick NAME' revokes a player.",
    )
    add_version_option(parser)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--port", type=port_option, default=9000, help="port to listen on (9000)")
    parser.add_argument("--enroll-port", type=port_option,
                        help="port where players join with a code (PORT+1)")  # fmt: skip
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder for the catalog, the vault and the network's keys")  # fmt: skip
    parser.add_argument("--round-seconds", type=float, default=120.0, help="round length (120)")
    parser.add_argument("--pause-seconds", type=float, default=15.0,
                        help="pause between rounds (15)")  # fmt: skip
    parser.add_argument("--insecure-lan", action="store_true",
                        help="NO encryption, NO authentication: anyone on the LAN can join, "
                        "read every file and pose as any player; for quick local tests only")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    from ..database.peer import DatabasePeer
    from ..storage.sqlite import StoreError

    try:
        database = DatabasePeer(
            data_dir=args.data,
            host=args.host,
            port=args.port,
            round_seconds=args.round_seconds,
            pause_seconds=args.pause_seconds,
            secure=not args.insecure_lan,
            enroll_port=args.enroll_port if args.enroll_port is not None else args.port + 1,
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
            print(f"join code: {code}  (for {STARTUP_CODE_USES} players, {STARTUP_CODE_HOURS} h;"
                  " more with 'rp2p-db invite')", flush=True)  # fmt: skip
        await _until_signal(nursery.cancel_scope)
    logging.getLogger("rp2p").info("stopped")
    return 0


def _invite(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rp2p-db invite", description="Mint a join code.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--uses", type=int, default=1, help="how many players may use it (1)")
    parser.add_argument("--hours", type=_code_hours, default=24.0,
                        help="how long it is good for (24, at most 168: a week)")  # fmt: skip
    args = parser.parse_args(argv)
    from ..storage.sqlite import SqliteStore, StoreError

    store = SqliteStore(args.data)
    try:
        store.open()
    except StoreError as exc:
        return _refused(exc)
    try:
        print(store.new_invite(uses=args.uses, seconds=args.hours * 3600))
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
    parser.add_argument("--pace", type=float, default=3.0,
                        help="a bot's mean pause before each get, in seconds (3)")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    node = make_player(args)
    node.subscribe(lambda event: _log_event(node, event, bot=args.bot))
    status = trio.run(_run_peer, node, args.get, args.pace if args.bot else None)
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


QUIET = (events.TransferProgress, events.MapChanged)
"""Too chatty for a log."""
ANSWERED = (events.TransferDone, events.TransferFailed)
"""Told by the command's own answer (printed), unless a bot fetched it."""


def _log_event(node: Node, event: events.Event, *, bot: bool) -> None:
    if isinstance(event, QUIET) or (isinstance(event, ANSWERED) and not bot):
        return
    level = logging.WARNING if words.is_trouble(event) else logging.INFO
    logging.getLogger("rp2p.peer").log(level, "%s: %s", node.name, words.describe(event))


async def _run_peer(node: Node, wanted: list[str], bot_pace: float | None) -> int:
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
            elif bot_pace is not None:
                await bot.play(node, pace=bot_pace)
            else:
                await _read_commands(node)
        if node.session.gave_up.is_set():
            status = 1  # at once: there is nobody to say goodbye to
        else:
            await node.leave()
        nursery.cancel_scope.cancel()
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
