"""Announce and query on loopback: several hosts and several players share one machine's port."""

from __future__ import annotations

import socket

import pytest
import trio

from reliablep2p.net import discovery
from reliablep2p.net.discovery import Beacon, Interface, discover, lan_interfaces
from reliablep2p.proto.discovery import Query, encode_datagram

from .conftest import free_udp_port

LOOPBACK = lan_interfaces("127.0.0.1")
ONE, TWO = b"\x01" * 16, b"\x02" * 16


@pytest.fixture
def port() -> int:
    return free_udp_port()


async def beacon(nursery: trio.Nursery, tag: bytes, name: str, tcp: int, port: int) -> Beacon:
    started = Beacon(tag, name, tcp, lambda: LOOPBACK, port=port, interval=0.2)
    await nursery.start(started.run)
    return started


def test_a_node_listening_on_loopback_stays_on_this_machine() -> None:
    assert LOOPBACK and all(i.loopback for i in LOOPBACK)
    assert [i.broadcast for i in LOOPBACK] == ["127.255.255.255"]
    everywhere = lan_interfaces("0.0.0.0")
    assert {i.address for i in LOOPBACK} <= {i.address for i in everywhere}
    assert everywhere[-1].loopback, "addresses other machines can dial come first"


async def test_several_hosts_and_players_on_one_machine_all_find_each_other(
    nursery: trio.Nursery, port: int
) -> None:
    await beacon(nursery, ONE, "alice-laptop", 9100, port)
    await beacon(nursery, TWO, "bob-desktop", 9200, port)
    await beacon(nursery, ONE, "alice-laptop", 9100, port)  # the same host heard twice
    results: list[list[discovery.Host]] = []

    async def player() -> None:
        results.append(await discover(LOOPBACK, port=port, timeout=5))

    async with trio.open_nursery() as players:
        for _ in range(3):
            players.start_soon(player)
    for hosts in results:
        assert [(h.name, h.tag, h.addresses) for h in hosts] == [
            ("alice-laptop", ONE, [("127.0.0.1", 9100)]),
            ("bob-desktop", TWO, [("127.0.0.1", 9200)]),
        ]


async def test_a_player_asking_for_one_network_hears_only_it(
    nursery: trio.Nursery, port: int
) -> None:
    mine = await beacon(nursery, ONE, "alice-laptop", 9100, port)
    other = await beacon(nursery, TWO, "bob-desktop", 9200, port)
    hosts = await discover(
        LOOPBACK, port=port, tag=ONE, wanted=lambda tag: tag == ONE, timeout=5, settle=0.1
    )
    assert [h.name for h in hosts] == ["alice-laptop"]
    assert mine.answered >= 1 and other.answered == 0


async def test_a_player_whose_queries_go_unanswered_still_hears_announcements(
    nursery: trio.Nursery, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "QUERY_AT", ())  # the player only listens
    host = await beacon(nursery, ONE, "alice-laptop", 9100, port)
    hosts = await discover(LOOPBACK, port=port, timeout=5, settle=0)
    assert [h.name for h in hosts] == ["alice-laptop"] and host.answered == 0


async def test_garbage_on_the_port_is_ignored_and_the_host_still_answers(
    nursery: trio.Nursery, port: int
) -> None:
    host = await beacon(nursery, ONE, "alice-laptop", 9100, port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        for junk in (b"", b"rp2p\x01\xc1", b"\x00" * 2000, encode_datagram(Query(TWO))):
            stranger.sendto(junk, ("127.0.0.1", port))
    hosts = await discover(LOOPBACK, port=port, timeout=5, settle=0)
    assert [h.name for h in hosts] == ["alice-laptop"] and host.answered >= 1


async def test_nobody_answering_is_an_empty_list_after_the_timeout(port: int) -> None:
    with trio.fail_after(3):
        assert await discover(LOOPBACK, port=port, timeout=0.4) == []


def test_a_host_heard_on_several_interfaces_is_dialled_where_other_machines_can() -> None:
    host = discovery.Host(ONE, "alice-laptop")
    host.add(("127.0.0.1", 9000))
    host.add(("192.168.1.20", 9000))
    host.add(("127.0.0.1", 9000))
    assert host.addresses == [("192.168.1.20", 9000), ("127.0.0.1", 9000)]
    assert isinstance(LOOPBACK[0], Interface)


async def test_a_host_whose_address_changes_is_announced_at_the_new_one(
    nursery: trio.Nursery, port: int
) -> None:
    now: list[Interface] = []  # no address yet (a laptop before its DHCP lease)
    host = Beacon(ONE, "alice-laptop", 9100, lambda: now, port=port, interval=0.05)
    await nursery.start(host.run)
    assert await discover(LOOPBACK, port=port, timeout=0.5) == []
    now.extend(LOOPBACK)
    hosts = await discover(LOOPBACK, port=port, timeout=5, settle=0)
    assert [h.name for h in hosts] == ["alice-laptop"] and host.interfaces == LOOPBACK
    now.clear()
    with trio.fail_after(5):
        while host.interfaces:  # noqa: ASYNC110 - the beacon's own round notices
            await trio.sleep(0.01)
