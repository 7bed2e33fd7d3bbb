"""Joining with a code alone: the right host among several, a profile per network, a moved host.

Real database peers on loopback announce themselves; `joining.join` (what `rp2p-peer` and
`rp2p-tui` run before they start) finds them, in a worker thread as the programs do.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.lowlevel

from reliablep2p.app.joining import JoinFailed, NobodyToAsk, Where, join
from reliablep2p.app.profiles import Profiles
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.net.channel import Channel
from reliablep2p.net.discovery import Host
from reliablep2p.net.enroll import enroll
from reliablep2p.proto import Enroll, Hello
from reliablep2p.proto.codes import WORDS
from reliablep2p.proto.tags import tagged_code
from reliablep2p.storage.stores import embedded

from .conftest import free_udp_port
from .ports import free_port


class Picker:
    """A person who picks the host named `choice`, or types `code` when asked."""

    def __init__(self, choice: str = "", code: str | None = None) -> None:
        self.choice, self.code = choice, code
        self.offered: list[list[str]] = []

    def pick(self, hosts: Sequence[Host]) -> Host | None:
        self.offered.append([h.name for h in hosts])
        return next((h for h in hosts if h.name == self.choice), None)

    def ask_code(self, why: str) -> str | None:
        return self.code


class Lan:
    """Database peers on loopback, announcing on one UDP port; they count the codes they see."""

    def __init__(self, nursery: trio.Nursery, root: Path) -> None:
        self.nursery, self.root = nursery, root
        self.port = free_udp_port()
        self.guesses: dict[str, int] = {}

    async def host(
        self, name: str, tcp_port: int = 0, *, network: str | None = None, **options: Any
    ) -> DatabasePeer:
        db = DatabasePeer(data_dir=self.root / name, host="127.0.0.1", port=tcp_port,
                          secure=True, discovery_port=self.port, network_name=network or name,
                          **options)  # fmt: skip
        await self.nursery.start(db.run)
        serve = db.server.plaintext[Enroll]
        self.guesses[name] = 0

        async def counted(channel: Channel, hello: Hello, request: Enroll) -> None:
            self.guesses[name] += 1
            await serve(channel, hello, request)

        db.server.plaintext[Enroll] = counted  # type: ignore[index]
        return db

    def where(self, name: str, code: str | None = None, **changes: object) -> Where:
        where = Where(name=name, code=code, database=None, profile=None,
                      listen_host="127.0.0.1", discovery_port=self.port,
                      profiles=Profiles(self.root / "me"), discovery_timeout=1.0)  # fmt: skip
        return msgspec.structs.replace(where, **changes)


@pytest.fixture
async def lan(nursery: trio.Nursery, tmp_path: Path) -> Lan:
    return Lan(nursery, tmp_path)


async def code_of(db: DatabasePeer, uses: int = 5) -> str:
    invite = await trio.to_thread.run_sync(lambda: db.store.new_invite(uses=uses, seconds=60))
    assert db.authority is not None
    return tagged_code(invite, db.authority.tag)


async def joined(where: Where, chooser: object = None) -> tuple[str, tuple[str, int]]:
    run = functools.partial(join, where, chooser or NobodyToAsk())
    result = await trio.to_thread.run_sync(run)
    assert result.notes == ()
    return result.identity.name, result.database


async def test_a_code_alone_finds_its_host_and_no_other_host_sees_it(lan: Lan) -> None:
    await lan.host("alice-laptop")
    bob = await lan.host("bob-desktop")
    name, address = await joined(lan.where("carol", await code_of(bob)))
    assert (name, address) == ("carol", ("127.0.0.1", bob.port))
    assert lan.guesses == {"alice-laptop": 0, "bob-desktop": 1}


async def test_with_several_hosts_and_a_code_that_names_none_the_player_chooses(
    lan: Lan,
) -> None:
    await lan.host("alice-laptop")
    bob = await lan.host("bob-desktop")
    untagged = (await code_of(bob)).split("-", 1)[1]  # a code as older hosts printed it
    with pytest.raises(JoinFailed) as failed:
        await joined(lan.where("carol", untagged))
    lines = str(failed.value).splitlines()
    assert lines[0].startswith("2 hosts answered on this LAN") and "--db" in lines[0]
    assert "alice-laptop  127.0.0.1:" in lines[1] and "bob-desktop  127.0.0.1:" in lines[2]
    picker = Picker("bob-desktop")
    assert (await joined(lan.where("carol", untagged), picker))[0] == "carol"
    assert picker.offered == [["alice-laptop", "bob-desktop"]]
    assert lan.guesses == {"alice-laptop": 0, "bob-desktop": 1}


async def test_one_name_plays_in_two_networks_with_a_profile_in_each(lan: Lan) -> None:
    alice, bob = await lan.host("alice-laptop"), await lan.host("bob-desktop")
    assert (await joined(lan.where("carol", await code_of(alice))))[1][1] == alice.port
    assert (await joined(lan.where("carol", await code_of(bob))))[1][1] == bob.port
    profiles = Profiles(lan.root / "me").of_player("carol")
    assert alice.authority and bob.authority
    assert set(profiles) == {alice.authority.tag, bob.authority.tag}
    # later starts need no code; with both hosts up, the player chooses
    picker = Picker("alice-laptop")
    assert (await joined(lan.where("carol"), picker))[1][1] == alice.port
    assert picker.offered == [["alice-laptop", "bob-desktop"]]
    # a code for a network the player is in already just uses its profile there
    assert (await joined(lan.where("carol", await code_of(bob))))[1][1] == bob.port
    assert lan.guesses == {"alice-laptop": 1, "bob-desktop": 1}


async def test_a_player_finds_its_host_again_after_the_host_moved(
    lan: Lan,
) -> None:
    host = await lan.host("alice-laptop")
    await joined(lan.where("carol", await code_of(host)))
    host.stop()
    await trio.lowlevel.checkpoint()
    moved = await lan.host("alice-laptop")  # same data, so the same network; a new port
    assert moved.port != host.port
    assert (await joined(lan.where("carol")))[1] == ("127.0.0.1", moved.port)
    last = Profiles(lan.root / "me").of_player("carol")
    assert [p.last_host().address for p in last.values()] == [("127.0.0.1", moved.port)]  # type: ignore[union-attr]


async def test_a_player_no_announcement_reaches_is_told_about_db(lan: Lan) -> None:
    host = await lan.host("alice-laptop")
    code = await code_of(host)
    elsewhere = free_udp_port()  # the host announces where the player does not listen
    with pytest.raises(JoinFailed, match=r"no host of network \S+ found: .* add --db HOST:PORT"):
        await joined(lan.where("carol", code, discovery_port=elsewhere))
    where = lan.where("carol", code, discovery_port=elsewhere, database=("127.0.0.1", host.port))
    assert (await joined(where))[1] == ("127.0.0.1", host.port)


async def test_a_db_of_another_network_never_sees_the_code(lan: Lan) -> None:
    alice, bob = await lan.host("alice-laptop"), await lan.host("bob-desktop")
    where = lan.where("carol", await code_of(bob), database=("127.0.0.1", alice.port))
    with pytest.raises(JoinFailed, match="nothing was sent to it"):
        await joined(where)
    assert lan.guesses == {"alice-laptop": 0, "bob-desktop": 0}


async def test_no_code_and_no_profile_asks_for_a_code_and_uses_it(lan: Lan) -> None:
    host = await lan.host("alice-laptop")
    with pytest.raises(JoinFailed, match=r"has not joined this network yet.*--code CODE"):
        await joined(lan.where("carol"))
    assert (await joined(lan.where("carol"), Picker(code=await code_of(host))))[0] == "carol"


async def test_a_profile_from_before_networks_had_tags_is_still_found(lan: Lan) -> None:
    host = await lan.host("alice-laptop")
    old_place = lan.root / "me" / "players" / "carol"
    code = await code_of(host)
    await enroll("127.0.0.1", host.port, code, "carol", old_place)
    assert (await joined(lan.where("carol")))[1] == ("127.0.0.1", host.port)
    assert lan.guesses == {"alice-laptop": 1}  # the enrollment above; none since


async def test_a_player_whose_host_is_down_starts_anyway_where_it_was_last(lan: Lan) -> None:
    """It serves its peers meanwhile, and its session joins when the host is back."""
    host = await lan.host("alice-laptop")
    await joined(lan.where("carol", await code_of(host)))
    host.stop()
    await trio.lowlevel.checkpoint()
    result = await trio.to_thread.run_sync(join, lan.where("carol"), NobodyToAsk())
    assert result.database == ("127.0.0.1", host.port)
    (note,) = result.notes
    assert note.startswith(f"alice-laptop did not answer; trying 127.0.0.1:{host.port}")
    assert "--db HOST:PORT" in note


async def test_a_network_with_two_database_peers_is_listed_once_and_the_player_takes_both(
    lan: Lan,
) -> None:
    """Both database peers of one network (one store, one CA) announce; the player joining by
    code alone takes both as its list, and remembers both; a list shows the network once."""
    first = await lan.host("party-1", network="lan-party")
    second = await lan.host("party-2", network="lan-party", stores=embedded(lan.root / "party-1"),
                            shared_ca=lan.root / "party-1")  # fmt: skip
    await lan.host("quiz-night")
    both = {("127.0.0.1", first.port), ("127.0.0.1", second.port)}
    code = await code_of(first)
    result = await trio.to_thread.run_sync(join, lan.where("carol", code), NobodyToAsk())
    assert {result.database, *result.databases} == both
    assert first.authority is not None
    last = Profiles(lan.root / "me").for_network(first.authority.tag, "carol").last_host()
    assert last is not None and set(last.addresses) == both, "the profile remembers both"

    untagged = code.split("-", 1)[1]  # a code that names no network: the player must choose
    with pytest.raises(JoinFailed) as failed:
        await joined(lan.where("dan", untagged))
    lines = str(failed.value).splitlines()
    assert lines[0].startswith("2 hosts answered on this LAN"), lines
    party = next(line for line in lines if "lan-party" in line)
    assert f"127.0.0.1:{first.port}" in party and f"127.0.0.1:{second.port}" in party, party
    assert sum("lan-party" in line for line in lines) == 1, lines


def mistyped(code: str) -> str:
    """`code` with its last word changed to another word of join codes."""
    *rest, last = code.split("-")
    return "-".join([*rest, WORDS[(WORDS.index(last) + 1) % len(WORDS)]])


class Typist:
    """A person at the code prompt who types `codes` one after the other, and tells why."""

    def __init__(self, *codes: str) -> None:
        self.codes = list(codes)
        self.asked: list[str] = []

    def pick(self, hosts: Sequence[Host]) -> Host | None:
        return None

    def ask_code(self, why: str) -> str | None:
        self.asked.append(why)
        return self.codes.pop(0) if self.codes else None


async def test_a_code_the_host_finds_wrong_is_asked_for_again_where_someone_can_type(
    lan: Lan,
) -> None:
    host = await lan.host("alice-laptop")
    host.membership.guesses.first_wait = 0.0  # the person takes a second to type it again
    code = await code_of(host)
    typist = Typist(code)
    assert (await joined(lan.where("carol", mistyped(code)), typist))[0] == "carol"
    assert len(typist.asked) == 1 and "wrong join code" in typist.asked[0], typist.asked
    assert typist.asked[0].startswith(f"The host refused {mistyped(code)}: "), typist.asked  # the
    # reason (with brackets of its own, "(expired or used up?)") was put in brackets: "((...))"
    with pytest.raises(JoinFailed, match=r"cannot join with code .*: wrong join code"):
        await joined(lan.where("dave", mistyped(code)))  # rp2p-peer: nobody to ask


async def test_a_code_given_with_a_made_up_word_is_asked_for_again_where_someone_can_type(
    lan: Lan,
) -> None:
    host = await lan.host("alice-laptop")
    code = await code_of(host)
    made_up = code.rsplit("-", 1)[0] + "-zzzzq"
    typist = Typist(code)
    assert (await joined(lan.where("carol", made_up), typist))[0] == "carol"
    assert len(typist.asked) == 1, typist.asked
    assert typist.asked[0].startswith(f"--code {made_up}: 'zzzzq' is not a word"), typist.asked
    with pytest.raises(JoinFailed, match="'zzzzq' is not a word of join codes"):
        await joined(lan.where("dave", made_up))  # rp2p-peer: nobody to ask, one line


async def test_a_name_taken_says_how_to_choose_another(lan: Lan) -> None:
    host = await lan.host("alice-laptop")
    code = await code_of(host)
    await joined(lan.where("player-8001", code, profiles=Profiles(lan.root / "one")))
    with pytest.raises(JoinFailed, match="player-8001 is taken; choose another name with --name"):
        await joined(lan.where("player-8001", code, profiles=Profiles(lan.root / "two")))


async def test_a_db_address_nobody_listens_on_says_it_cannot_reach_it(lan: Lan) -> None:
    """It said "the database peer at A did not say which network it is: cannot reach A: ...",
    as if something had answered there."""
    host = await lan.host("alice-laptop")
    where = f"127.0.0.1:{free_port()}"
    database = ("127.0.0.1", int(where.split(":")[1]))
    with pytest.raises(JoinFailed) as failed:
        await joined(lan.where("carol", await code_of(host), database=database))
    said = str(failed.value)
    assert (
        said
        == f"cannot reach the database peer at {where}: nothing answers there (connection refused)"
    ), said
    assert "did not say" not in said, said


async def test_nothing_listening_reads_as_nothing_answers_not_as_trio_says_it() -> None:
    """Every surface said "all attempts to connect to A failed"."""
    from reliablep2p.net.channel import open_channel
    from reliablep2p.net.dataframes import ConnectionLost

    port = free_port()
    with pytest.raises(ConnectionLost) as lost:
        await open_channel("127.0.0.1", port, name="carol", listen_port=0)
    assert lost.value.detail == f"nothing answers at 127.0.0.1:{port} (connection refused)"
    assert (lost.value.address, lost.value.cause) == (("127.0.0.1", port), "connection refused")


def test_why_a_call_failed_is_data_and_the_player_reads_it_in_the_programs_words() -> None:
    """`_ask_any` cut "cannot reach A: " and "A " off `detail` and replaced "nothing answers
    at A": any change of the core's sentence broke the player's line without a test noticing."""
    import errno

    from reliablep2p.app import words
    from reliablep2p.net.channel import unreachable

    tries = ExceptionGroup("all", [OSError(errno.EHOSTUNREACH, "No route to host")])
    failed = OSError("all attempts to connect to 10.0.0.9:9000 failed")
    failed.__cause__ = tries
    lost = unreachable("10.0.0.9", 9000, failed)
    assert (lost.address, lost.cause) == (("10.0.0.9", 9000), "No route to host")
    assert lost.detail == "cannot reach 10.0.0.9:9000: No route to host"
    assert words.database_unreachable(lost.address, lost.cause) == (
        "cannot reach the database peer at 10.0.0.9:9000: No route to host"
    )


async def test_a_defaulted_name_taken_gets_a_suffix_and_keeps_it_on_a_restart(lan: Lan) -> None:
    """Every machine ran `rp2p-tui --port 8001`, so every default name was player-8001 and
    the second friend was refused; a made-up name now tries NAME-2, and a restart finds it."""
    host = await lan.host("alice-laptop")
    code = await code_of(host)
    first = lan.where("student", code, profiles=Profiles(lan.root / "one"), defaulted=True)
    assert (await joined(first))[0] == "student"
    second = lan.where("student", code, profiles=Profiles(lan.root / "two"), defaulted=True)
    result = await trio.to_thread.run_sync(join, second, NobodyToAsk())
    assert result.identity.name == "student-2"
    assert result.notes == ("student is taken in alice-laptop's network: you play as student-2",)
    again = await trio.to_thread.run_sync(join, msgspec.structs.replace(second, code=None),
                                          NobodyToAsk())  # fmt: skip
    assert again.identity.name == "student-2" and again.notes == ()
    assert again.identity.cert_path.read_bytes() == result.identity.cert_path.read_bytes()
    with pytest.raises(JoinFailed, match="student is taken; choose another name with --name"):
        await joined(lan.where("student", code, profiles=Profiles(lan.root / "three")))
