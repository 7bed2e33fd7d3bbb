"""`rp2p-db`'s subcommands for the host: `invite` (mint a join code), `kick NAME` (throw a player
out), `set KEY VALUE` (change a setting of the network's game, kept in its store) and `remove NAME` (take a file out
of the network). `kick`, `set` and `remove` talk to the running database peer over TLS with a
short-lived admin certificate minted from the network's CA.
"""

from __future__ import annotations

import argparse
import ssl
import sys
import tempfile
from pathlib import Path

import platformdirs
import trio

from ..game.settings import GameSettings
from ..net.channel import READ_TIMEOUT, RemoteError, open_channel
from ..net.identity import ADMIN_NAME, DATABASE_NAME, SecurityError
from ..proto import ChangeSetting, Kick, KickReport, ProtocolError, Remove, Removed, Settings
from ..proto.tags import tagged_code
from .options import port_option
from .storeoptions import add_store_option

DEFAULT_DATA = Path(platformdirs.user_data_dir("rp2p")) / "database"


def refused(exc: Exception) -> int:
    """One line on standard error for a data folder we cannot use; the exit status."""
    print(f"rp2p-db: {exc}", file=sys.stderr)
    return 2


def invite(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rp2p-db invite", description="Mint a join code.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--uses", type=int, default=1, help="how many players may use it (1)")
    parser.add_argument("--hours", type=_code_hours, default=24.0,
                        help="how long it is good for (24, at most 168: a week)")  # fmt: skip
    add_store_option(parser)
    args = parser.parse_args(argv)
    from ..database.authority import NetworkAuthority
    from ..storage.interfaces import StoreError, StoreUnavailable
    from ..storage.stores import metadata_store

    try:
        tag = NetworkAuthority.load_or_create(args.data).tag
        store = metadata_store(args.data, args.store)
        store.open()
    except (StoreError, SecurityError) as exc:
        return refused(exc)
    try:
        print(tagged_code(store.new_invite(uses=args.uses, seconds=args.hours * 3600), tag))
    except StoreUnavailable as exc:
        return refused(exc)
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


def kick(argv: list[str]) -> int:
    """Revoke a player, and return once the online peers refuse it (or say who does not)."""
    from ..database.membership import KICK_WAIT_LIMIT

    parser = argparse.ArgumentParser(prog="rp2p-db kick", description="Revoke a player at once.")
    parser.add_argument("name", help="the player to revoke")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--host", default="127.0.0.1", help="the running database peer's address")
    parser.add_argument("--port", type=port_option, default=9000, help="its port (9000)")
    parser.add_argument("--wait", type=float, default=5.0,
                        help="seconds to wait for the online peers to confirm (5)")  # fmt: skip
    add_store_option(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.wait <= KICK_WAIT_LIMIT:
        parser.error(f"--wait must be 0 to {KICK_WAIT_LIMIT:g} seconds")
    if not (args.data / "ca.key").exists():
        print(f"rp2p-db kick: no network keys in {args.data} (no ca.key): give the database "
              "peer's --data (an --insecure-lan network has no certificates to revoke)",
              file=sys.stderr)  # fmt: skip
        return 1
    from ..database.authority import NetworkAuthority

    try:
        authority = NetworkAuthority.load_or_create(args.data)
    except SecurityError as exc:
        return refused(exc)
    with tempfile.TemporaryDirectory() as tmp:
        admin = authority.identity(ADMIN_NAME, Path(tmp), days=1)
        try:
            report = trio.run(_tell_running_database, args.host, args.port,
                              admin.client_context(), Kick(args.name, args.wait))  # fmt: skip
        except RemoteError as exc:
            print(f"rp2p-db kick: {exc.detail}", file=sys.stderr)
            return 1
        except ProtocolError as exc:
            return _kick_offline(args.data, args.store, args.name, exc.detail)
    print(f"{args.name} is kicked out of the network; " + _kick_outcome(report, args.wait))
    return 0


def remove(argv: list[str]) -> int:
    """Take a file out of the catalog and the vault of the running database peer."""
    parser = argparse.ArgumentParser(
        prog="rp2p-db remove",
        description="Remove a file from the network (catalog and vault) for good: every "
        "online peer stops offering it, and its content is refused if published again.",
    )
    parser.add_argument("name", help="the file's name in the catalog")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--host", default="127.0.0.1", help="the running database peer's address")
    parser.add_argument("--port", type=port_option, default=9000, help="its port (9000)")
    args = parser.parse_args(argv)
    if not (args.data / "ca.key").exists():
        print(f"rp2p-db remove: no network keys in {args.data} (no ca.key): give the database "
              "peer's --data (an --insecure-lan network has no admin tool)", file=sys.stderr)  # fmt: skip
        return 1
    from ..database.authority import NetworkAuthority

    authority = NetworkAuthority.load_or_create(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        admin = authority.identity(ADMIN_NAME, Path(tmp), days=1)
        try:
            removed = trio.run(ask_removal, args.host, args.port, admin.client_context(),
                               Remove(args.name))  # fmt: skip
        except RemoteError as exc:
            print(f"rp2p-db remove: {exc.detail}", file=sys.stderr)
            return 1
        except ProtocolError as exc:
            print(f"rp2p-db remove: cannot reach the database peer at {args.host}:{args.port}"
                  f" ({exc.detail}); it must be running", file=sys.stderr)  # fmt: skip
            return 1
    also = f" (and {', '.join(removed.names[1:])}, the same content)" if removed.names[1:] else ""
    print(f"removed {args.name} from the catalog and the vault{also}; the online peers stop "
          "offering it, the others when they next join; the same content is refused if "
          "published again")  # fmt: skip
    return 0


async def ask_removal(host: str, port: int, tls: ssl.SSLContext, request: Remove) -> Removed:
    async with await open_channel(host, port, name=ADMIN_NAME, listen_port=0, tls=tls,
                                  expect=DATABASE_NAME) as channel:  # fmt: skip
        await channel.send(request)
        return await channel.receive_message(Removed)


def set_setting(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rp2p-db set",
        description="Change a setting of the network's game, now and for good: "
        + ", ".join(settings_names())
        + ". It is kept in the store, so it lasts across restarts and a change of the database "
        "peer hosting the rounds (any database peer of the network takes it), until it is set "
        "again or a database peer starts with that option on its command line (the latest "
        "wins). A round running keeps its length.",
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

    try:
        authority = NetworkAuthority.load_or_create(args.data)
    except SecurityError as exc:
        return refused(exc)
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


def _kick_offline(data: Path, store_url: str | None, name: str, why: str) -> int:
    """The database peer is not running (or not there): revoke in its store directly."""
    from ..storage.interfaces import StoreError, StoreUnavailable
    from ..storage.stores import metadata_store

    try:
        store = metadata_store(data, store_url)
        store.open()
    except StoreError as exc:
        return refused(exc)
    try:
        member = store.revoke(name)
    except StoreUnavailable as exc:
        return refused(exc)
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
