"""The `rp2p-db` and `rp2p-peer` entry points."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import platformdirs
import trio

from . import bot, commands, events
from .dbpeer import DatabasePeer
from .node import Node

JOIN_TIMEOUT = 15.0


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return host or "127.0.0.1", number


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number < 65536:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return number


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


def db_main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="rp2p-db", description="The headless database peer: peer list, catalog and backup."
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--port", type=_port, default=9000, help="port to listen on (9000)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(platformdirs.user_data_dir("rp2p")) / "database",
        help="folder for the catalog and the vault (default: the user data dir)",
    )
    parser.add_argument("--round-seconds", type=float, default=120.0, help="round length (120)")
    parser.add_argument("--pause-seconds", type=float, default=15.0,
                        help="pause between rounds (15)")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    database = DatabasePeer(
        data_dir=args.data,
        host=args.host,
        port=args.port,
        round_seconds=args.round_seconds,
        pause_seconds=args.pause_seconds,
    )
    sys.exit(trio.run(_serve_until_signal, database))


async def _serve_until_signal(node: Node) -> int:
    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(node.run)
        except OSError as exc:
            print(f"{sys.argv[0]}: cannot listen on {node.host}:{node.port}: {exc.strerror}",
                  file=sys.stderr)  # fmt: skip
            return 2
        await _until_signal(nursery.cancel_scope)
    logging.getLogger("rp2p").info("stopped")
    return 0


# ---------------------------------------------------------------------------- rp2p-peer


def peer_main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="rp2p-peer",
        description="A headless peer: seeds a folder, fetches files, reads commands from stdin.",
    )
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default: any)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--db", type=_address, default=("127.0.0.1", 9000),
                        help="the database peer, HOST:PORT (127.0.0.1:9000)")  # fmt: skip
    parser.add_argument("--share", type=Path, help="folder to seed and save into (./port_PORT)")
    parser.add_argument("--name", help="player name (player-PORT)")
    parser.add_argument("--get", action="append", metavar="NAME", default=[],
                        help="fetch NAME, then disconnect and exit (repeatable)")  # fmt: skip
    parser.add_argument("--bot", action="store_true",
                        help="play by itself: hunt every round's targets")  # fmt: skip
    parser.add_argument("--pace", type=float, default=3.0,
                        help="a bot's mean pause before each get, in seconds (3)")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    node = Node(name=args.name, host=args.host, port=args.port, share_dir=args.share,
                database=args.db)  # fmt: skip
    node.subscribe(lambda event: _log_event(node, event))
    sys.exit(trio.run(_run_peer, node, args.get, args.pace if args.bot else None))


def _log_event(node: Node, event: events.Event) -> None:
    if isinstance(event, events.TransferProgress | events.MapChanged | events.Notice):
        return  # progress is too chatty for a log; notices are logged where they happen
    logging.getLogger("rp2p.peer").info("%s: %s", node.name, event.text)


async def _run_peer(node: Node, wanted: list[str], bot_pace: float | None) -> int:
    """Join, do the work (fetch or read commands) until done or signalled, then disconnect."""
    status = 0
    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(node.run)
        except OSError as exc:
            print(f"rp2p-peer: cannot listen on port {node.port}: {exc.strerror}", file=sys.stderr)
            return 2
        with trio.CancelScope() as work:
            nursery.start_soon(_until_signal, work)
            with trio.move_on_after(JOIN_TIMEOUT):
                await node.ready.wait()
            if not node.ready.is_set():
                host, port = node.database or ("?", 0)
                print(f"rp2p-peer: database peer {host}:{port} unreachable", file=sys.stderr)
                status = 1
            elif wanted:
                status = await _fetch_all(node, wanted)
            elif bot_pace is not None:
                await bot.play(node, pace=bot_pace)
            else:
                await _read_commands(node)
        await node.leave()
        nursery.cancel_scope.cancel()
    return status


async def _fetch_all(node: Node, wanted: list[str]) -> int:
    status = 0
    for name in wanted:
        try:
            for line in await commands.execute(node, commands.Command("get", name=name)):
                print(line, flush=True)
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
            output = await commands.execute(node, command)
        except commands.CommandError as exc:
            output = [f"error: {exc}"]
        print("\n".join(output), flush=True)
