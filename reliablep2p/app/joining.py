"""Which host a player joins, and as whom: from a join code, a profile, or `--db`.

In order: a player with `--db` asks that host which network it is; a player with one known
network tries the address its host was last reached at; otherwise it asks the LAN (see
`net/discovery.py`) for hosts of its code's network, or of the networks it has profiles in.
A network with several database peers is one host with several addresses (they announce the
same tag): the player takes them all, and its session moves among them. One network: that one.
Several: the `Chooser` decides (`rp2p-tui` shows a picker, `rp2p-peer`
lists them and exits 1). None: one line naming `--db`. A code is only ever sent to a host of
the network its tag words name, and a player that has joined that network already just uses
its profile there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import msgspec
import trio

from ..net.identity import Identity, SecurityError
from ..proto import ErrorCode, ProtocolError
from ..proto.codes import parse_code
from ..proto.discovery import DISCOVERY_TIMEOUT, Addr, Host
from ..proto.tags import JoinCode, split_code, tag_words
from .naming import candidates
from .profiles import LastHost, Profile, Profiles

PROBE_TIMEOUT = 1.5
"""How long the last known address may take to say which network it is."""
RETYPES = 5
"""How many codes one start tries, a wrong one typed again each time."""


class NameTaken(Exception):
    """The host refused the name: another player has it (or it looks like one)."""


class JoinFailed(Exception):
    """The player cannot join; the message is for people (its first line says why)."""


class Chooser(Protocol):
    """Asks the person at the keyboard, where there is one."""

    def pick(self, hosts: Sequence[Host]) -> Host | None:
        """One of several hosts (None: none of them)."""

    def ask_code(self, why: str) -> str | None:
        """A join code typed in (None: the person gave up)."""


class NobodyToAsk:
    """`rp2p-peer`: no screen to ask on; say what to add to the command line instead."""

    def pick(self, hosts: Sequence[Host]) -> Host | None:
        lines = [f"{len(hosts)} hosts answered on this LAN; choose one with --db HOST:PORT:"]
        lines += [f"  {describe(host)}" for host in hosts]
        raise JoinFailed("\n".join(lines))

    def ask_code(self, why: str) -> str | None:
        return None


def describe(host: Host) -> str:
    """A host as a picker or a list shows it (a network's several database peers, one line)."""
    where = ", ".join("{}:{}".format(*address) for address in host.addresses)
    return f"{host.name}  {where}  (network {'-'.join(tag_words(host.tag))})"


class Where(msgspec.Struct, frozen=True):
    """What the player's options say about where to join."""

    name: str
    code: str | None
    database: Addr | None
    profile: Path | None
    listen_host: str
    discovery_port: int
    profiles: Profiles
    enroll_port: int | None = None
    """Where the host takes codes, if not on its own port (an older setup's --enroll-port)."""
    databases: tuple[Addr, ...] = ()
    """Every database peer `--db` named (`database` is the first)."""
    discovery_timeout: float = DISCOVERY_TIMEOUT
    defaulted: bool = False
    """`name` was made, not given: where it is taken, `naming.candidates` are tried."""


class Joined(msgspec.Struct, frozen=True):
    """Who the player is in the network it joins, where that network's host is, and what the
    player should be told (a line naming --db, when the host did not answer where expected)."""

    identity: Identity
    database: Addr
    notes: tuple[str, ...] = ()
    databases: tuple[Addr, ...] = ()
    """The network's other database peers we know of: where to go when `database` is away."""
    profile: Profile | None = None
    """Where the player's profile is (it remembers the database peers the network lists)."""


def join(where: Where, chooser: Chooser) -> Joined:
    """The player's identity in the network it joins, and that network's database peer."""
    code = _given_code(where.code, chooser)
    names = candidates(where.name) if where.defaulted and where.profile is None else [where.name]
    if where.profile is not None:
        explicit = Profile(where.profile)
        known = {tag: explicit} if (tag := explicit.tag) else {}
    else:
        known = {}
        for name in names:  # a defaulted name: the one it got in each network, earlier
            for tag, found in where.profiles.of_player(name).items():
                known.setdefault(tag, found)
    if code is None and not known:
        code = _parse(chooser.ask_code(f"{where.name} has not joined a network yet"))
        if code is None:
            raise JoinFailed(f"{where.name} has not joined this network yet: ask the host for a "
                             "join code (rp2p-db prints one) and run again with --code CODE")  # fmt: skip
    host, note = _find_host(where, code, known, chooser)
    profile = known.get(host.tag) or (
        Profile(where.profile)
        if where.profile
        else where.profiles.for_network(host.tag, where.name)
    )
    identity, renamed = profile.identity, None
    if identity is not None and profile.tag != host.tag:
        raise JoinFailed(f"the profile in {profile.folder} belongs to another network than "
                         f"{host.name}'s")  # fmt: skip
    if identity is None:
        if code is None:
            code = _parse(chooser.ask_code(f"{where.name} has not joined {host.name}'s network"))
        if code is None:
            raise JoinFailed(f"{where.name} has not joined {host.name}'s network yet: run "
                             "again with --code CODE")  # fmt: skip
        at = (host.address[0], where.enroll_port or host.address[1])
        identity, profile, taken = _enroll_as(names, where, at, host.tag, code, chooser)
        if taken:
            renamed = (f"{', '.join(taken)} {'is' if len(taken) == 1 else 'are'} taken in "
                       f"{host.name}'s network: you play as {identity.name}")  # fmt: skip
    if identity.name not in names:
        raise JoinFailed(f"the profile in {profile.folder} belongs to {identity.name}, "
                         f"not {where.name}")  # fmt: skip
    before = profile.last_host()
    known_before = before.addresses if before is not None and before.tag == host.tag else []
    others = tuple(a for a in dict.fromkeys([*host.addresses, *where.databases, *known_before])
                   if a != host.address)  # fmt: skip
    now = LastHost(host.tag, host.name, host.address, others)
    if note is None and now != before:  # heard from the host itself, or named by --db; new
        profile.remember(now)  # (unchanged, as at most starts: no write and fsync)
    notes = tuple(line for line in (note, renamed) if line)
    return Joined(identity, host.address, notes, others, profile)


def _given_code(text: str | None, chooser: Chooser) -> JoinCode | None:
    """The code given with --code; one with a word no code has is asked for again where
    someone can type it (the screen says which word), else said in one line."""
    try:
        return _parse(text)
    except JoinFailed as exc:
        again = _parse(chooser.ask_code(f"--code {text}: {exc}"))
        if again is None:
            raise
        return again


def _parse(text: str | None) -> JoinCode | None:
    if not text:
        return None
    try:
        parse_code(text)  # a misspelt word: told before we look for the host
        return split_code(text)
    except SecurityError as exc:
        raise JoinFailed(str(exc)) from None


def _find_host(
    where: Where, code: JoinCode | None, known: dict[bytes, Profile], chooser: Chooser
) -> tuple[Host, str | None]:
    """The one host to join: named by --db, last seen, or heard on the LAN; and a note for the
    player when it is only where the host was last seen (it did not answer: maybe down)."""
    if code is not None:
        wanted: Callable[[bytes], bool] = code.matches
        what = f"network {code.network}" if code.network else "any network"
    else:
        wanted = known.__contains__
        what = "your network" if len(known) == 1 else "your networks"
    mine = [tag for tag in known if wanted(tag)]
    if where.database is not None:
        given = list(dict.fromkeys([where.database, *where.databases]))
        if len(mine) == 1:  # the player is in that network: TLS checks it is the one
            before = known[mine[0]].last_host()
            return Host(mine[0], before.name if before else "the host", given), None
        host = _ask_any(given, where.name)
        if not wanted(host.tag):
            raise JoinFailed(f"{describe(host)} is not {what}: nothing was sent to it")
        return host, None
    last = [p.last_host() for p in known.values()] if code is None else []
    remembered = [entry for entry in last if entry is not None]
    if len(known) == 1 and remembered:  # the usual restart: the host is where it was
        still_there = _answering(remembered[0], where.name)  # (or one of its database peers)
        if still_there is not None:
            return still_there, None
    only = next(iter(known)) if code is None and len(known) == 1 else b""  # the others keep quiet
    hosts = trio.run(functools.partial(_discover, where, wanted, only))
    if not hosts and len(known) > 1:  # a host on another subnet, at the address it had
        hosts = [h for entry in remembered if (h := _answering(entry, where.name))]
    from ..net.discovery import unreachable_hint

    hint = unreachable_hint(where.discovery_port)
    if not hosts and len(known) == 1 and remembered:  # down, or away: try it there anyway
        last_seen = remembered[0]
        where_last = "{}:{}".format(*last_seen.address)
        note = f"{last_seen.name} did not answer; trying {where_last}, where it was last. {hint}"
        return Host(last_seen.tag, last_seen.name, last_seen.addresses), note
    if not hosts:
        raise JoinFailed(f"no host of {what} found: {hint}")
    if len(hosts) == 1:
        return hosts[0], None
    chosen = chooser.pick(hosts)
    if chosen is None:
        raise JoinFailed("no host chosen")
    return chosen, None


async def _discover(where: Where, wanted: Callable[[bytes], bool], tag: bytes) -> list[Host]:
    from ..net.discovery import discover, lan_interfaces

    interfaces = await trio.to_thread.run_sync(lan_interfaces, where.listen_host)
    return await discover(interfaces, port=where.discovery_port, wanted=wanted, tag=tag,
                          timeout=where.discovery_timeout)  # fmt: skip


def _ask(address: Addr, name: str) -> Host:
    """The host at `address`, as it says (raises `ProtocolError`)."""
    from ..net.discovery import ask_network

    info = trio.run(functools.partial(ask_network, *address, name=name, timeout=PROBE_TIMEOUT))
    return Host(info.tag, info.name, [address])


def _ask_any(addresses: list[Addr], name: str) -> Host:
    """The network the first of `addresses` that answers is, with all of them as its
    database peers (the others are checked by TLS when the session moves there)."""
    from ..net.dataframes import ConnectionLost  # where it is used, as `_ask`'s imports
    from . import words  # (it imports the commands, which import the options, which import us)

    problems = []
    for address in addresses:
        try:
            host = _ask(address, name)
        except ConnectionLost as exc:  # nobody there: it said nothing, and was not asked
            problems.append(words.database_unreachable(address, exc.cause))
            continue
        except ProtocolError as exc:
            problems.append("the database peer at {}:{} did not say which network it is: "
                            "{}".format(*address, exc.detail))  # fmt: skip
            continue
        host.addresses = list(dict.fromkeys([address, *addresses]))
        return host
    raise JoinFailed("; ".join(problems))


def _answering(last: LastHost, name: str) -> Host | None:
    """The host last reached, if it is still there: the same network at its address, or at
    another of its database peers' (that one first)."""
    for address in last.addresses:
        try:
            host = _ask(address, name)
        except ProtocolError:
            continue
        if host.tag == last.tag:
            host.addresses = list(dict.fromkeys([address, *last.addresses]))
            return host
    return None


def _enroll_as(
    names: list[str], where: Where, at: Addr, tag: bytes, code: JoinCode, chooser: Chooser
) -> tuple[Identity, Profile, list[str]]:
    """The identity of the first of `names` the host grants, its profile, and the names the
    host said were taken before it."""
    taken: list[str] = []
    for name in names:
        profile = Profile(where.profile) if where.profile else where.profiles.for_network(tag, name)
        try:
            return _enroll(at, tag, code, name, profile.folder, chooser), profile, taken
        except NameTaken as exc:
            taken.append(name)
            if name == names[-1]:
                hint = (
                    "choose another name with --name NAME"
                    if len(names) == 1
                    else (f"so were {', '.join(taken[:-1])}: choose a name with --name NAME")
                )
                raise JoinFailed(f"cannot join with code {code}: {exc}; {hint}") from None
    raise AssertionError("no name to enroll")  # `names` is never empty


def _enroll(
    at: Addr, tag: bytes, code: JoinCode, name: str, folder: Path, chooser: Chooser
) -> Identity:
    """The identity the code gets; a code the host finds wrong is asked for again, where
    someone can type one (a typo need not end the program: the host limits the tries)."""
    from ..net.enroll import enroll  # spake2 only where it is used: a faster start

    for attempt in range(1, RETYPES + 1):
        try:
            return trio.run(functools.partial(enroll, *at, str(code), name, folder, tag=tag))
        except (SecurityError, ProtocolError) as exc:
            refused, problem = getattr(exc, "code", ""), exc
        if refused != ErrorCode.WRONG_CODE or attempt == RETYPES:
            break
        again = _parse(chooser.ask_code(f"The host refused {code}: {problem}"))
        if again is None:
            break
        code = again
    if refused == ErrorCode.NAME_TAKEN:
        raise NameTaken(str(problem))
    raise JoinFailed(f"cannot join with code {code}: {problem}")
